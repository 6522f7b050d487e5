package ingress

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/processor"
)

// TestEndToEndWithProcessor runs ingress in front of the real processor
// (consumer group, transactions, Pebble) on kfake: a write's ?wait gets
// the outcome the processor decided, rejections included, and a Slack
// retry changes the incident once.
func TestEndToEndWithProcessor(t *testing.T) {
	h := startHarness(t, withoutViews())
	p, err := processor.New(processor.Config{Kafka: h.kcfg, Policy: incident.DefaultPolicy(), Dir: t.TempDir()},
		quietLogger(t), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("processor: %v", err)
		}
	})

	// The processor joins its group first; the declare is retried with its
	// idempotency key until its outcome comes back.
	var res WriteResult
	waitFor(t, "the processor to apply a declare", 30*time.Second, func() bool {
		r := h.post("/api/v1/incidents?wait=2s", acmeToken, `{"title":"e2e outage","severity":"SEV2"}`, "Idempotency-Key", "e2e-1")
		if r.StatusCode == http.StatusOK {
			r.json(t, &res)
			return true
		}
		wantStatus(t, r, http.StatusAccepted)
		return false
	})
	if res.Status != "applied" || res.Version != 1 || res.Incident == nil || res.Incident.Title != "e2e outage" || res.Incident.Severity != "SEV2" {
		t.Fatalf("declare: %+v", res)
	}
	id := res.IncidentID
	r := h.post("/api/v1/incidents/"+id+"/resolve?wait=10s", acmeToken, ``)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	if res.Version != 2 || res.Incident.Status != "resolved" {
		t.Fatalf("resolve: %s", r.body)
	}
	r = h.post("/api/v1/incidents/"+id+"/resolve?wait=10s", acmeToken, ``)
	wantStatus(t, r, http.StatusConflict)
	if p := r.problem(t); p.Code != string(incident.CodeAlreadyResolved) {
		t.Fatalf("problem %+v", p)
	}

	// A Slack event delivered three times declares once.
	body := mentionEvent("EvE2E", "C1", "U1", "<@UBOT> e2e from slack", "1700000700.000100", "")
	for i := range 3 {
		hdr := []string{}
		if i > 0 {
			hdr = []string{"X-Slack-Retry-Num", "1", "X-Slack-Retry-Reason", "http_timeout"}
		}
		wantStatus(t, h.slackPost("/slack/events", "application/json", body, hdr...), http.StatusOK)
	}
	sid := incident.SlackIncidentID(teamID, "C1", "1700000700.000100")
	o, ok := h.srv.tracker.wait(waitCtx(t, 10*time.Second), incident.Command{ID: incident.CommandIDFor("slack-event", "EvE2E"), Incident: sid})
	if !ok || o.Incident != sid || o.From != 1 || o.To != 1 || o.Rejection != nil {
		t.Fatalf("slack declare outcome %+v %v", o, ok)
	}
	// A later command on the incident is version 2: the retries added nothing.
	r = h.post("/api/v1/incidents/"+sid+"/acknowledge?wait=10s", acmeToken, ``)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	if res.Version != 2 {
		t.Fatalf("acknowledge after retried declare: %s", r.body)
	}
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
