package ingress

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/processor"
)

// TestEndToEndWithProcessor runs ingress in front of the real processor
// (consumer group, transactions, Pebble) on kfake: a write's ?wait gets
// the outcome the processor decided, rejections included, and a Slack
// retry changes the incident once.
func TestEndToEndWithProcessor(t *testing.T) {
	h := startHarness(t, withoutViews())
	runProcessor(t, h)

	// The processor joins its group first; the declare is retried with its
	// idempotency key until its outcome comes back.
	var res WriteResult
	testenv.Eventually(t, 30*time.Second, "the processor to apply a declare", func() bool {
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

// runProcessor runs the real processor on the harness's broker until the
// test ends.
func runProcessor(t *testing.T, h *harness) {
	t.Helper()
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
}

// TestKeyReuseWithProcessor reuses Idempotency-Keys for other requests
// (another body, route or incident) in front of the real processor: each
// is answered 422 idempotency_key_reused and changes nothing, while the
// same request again gets its first result.
func TestKeyReuseWithProcessor(t *testing.T) {
	h := startHarness(t, withoutViews())
	runProcessor(t, h)
	var res WriteResult
	testenv.Eventually(t, 30*time.Second, "the processor to apply a declare", func() bool {
		r := h.post("/api/v1/incidents?wait=2s", acmeToken, `{"title":"reuse","severity":"SEV2"}`, "Idempotency-Key", "k-declare")
		if r.StatusCode == http.StatusOK {
			r.json(t, &res)
			return true
		}
		wantStatus(t, r, http.StatusAccepted)
		return false
	})
	x := res.IncidentID
	write := func(path, body, key string) response {
		t.Helper()
		return h.post(path+"?wait=10s", acmeToken, body, "Idempotency-Key", key)
	}
	applied := func(r response, version uint64) {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		var res WriteResult
		r.json(t, &res)
		if res.Status != "applied" || res.Version != version {
			t.Fatalf("%s: %s, want applied at version %d", r.Request.URL.Path, r.body, version)
		}
	}
	refused := func(r response) {
		t.Helper()
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if p := r.problem(t); p.Code != string(incident.CodeKeyReused) {
			t.Fatalf("%s: problem %+v, want %s", r.Request.URL.Path, p, incident.CodeKeyReused)
		}
	}

	refused(write("/api/v1/incidents", `{"title":"another title","severity":"SEV2"}`, "k-declare"))
	applied(write("/api/v1/incidents", `{"title":"reuse","severity":"SEV2"}`, "k-declare"), 1)

	applied(write("/api/v1/incidents/"+x+"/severity", `{"severity":"SEV1"}`, "k-sev"), 2)
	refused(write("/api/v1/incidents/"+x+"/severity", `{"severity":"SEV3"}`, "k-sev")) // another body
	refused(write("/api/v1/incidents/"+x+"/acknowledge", ``, "k-sev"))                 // another route
	r := write("/api/v1/incidents", `{"title":"other"}`, "k-other")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	y := res.IncidentID
	refused(write("/api/v1/incidents/"+y+"/severity", `{"severity":"SEV1"}`, "k-sev")) // another incident
	applied(write("/api/v1/incidents/"+x+"/severity", `{"severity":"SEV1"}`, "k-sev"), 2)

	// Back to back, before the first is decided: the processor refuses the
	// second (or the results tracker, if it already saw the first).
	wantStatus(t, h.post("/api/v1/incidents/"+x+"/notes", acmeToken, `{"note":"a"}`, "Idempotency-Key", "k-note"), http.StatusAccepted)
	refused(write("/api/v1/incidents/"+x+"/notes", `{"note":"b"}`, "k-note"))

	// Nothing refused changed either incident.
	applied(write("/api/v1/incidents/"+x+"/acknowledge", ``, "k-ack-x"), 4)
	applied(write("/api/v1/incidents/"+y+"/acknowledge", ``, "k-ack-y"), 2)
}

func waitCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
