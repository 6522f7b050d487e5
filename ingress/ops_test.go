package ingress

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/incidentd/incidentd/internal/testenv"
)

// TestOpenAPIMatchesRoutes checks the OpenAPI document against the router
// in both directions: every documented operation is a registered route and
// every registered route is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := startHarness(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r := h.get("/api/v1/openapi.json", "")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	err := h.srv.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			tpl = "/" // the dashboard's catch-all has a prefix only
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no methods", tpl)
			return nil
		}
		for _, m := range methods {
			if m == http.MethodHead {
				continue
			}
			registered[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("registered but not documented: %v\ndocumented but not registered: %v", missing, extra)
	}
	if len(registered) < 20 {
		t.Fatalf("only %d routes registered: %v", len(registered), registered)
	}
	// Each documented route answers something other than 404/405 for its
	// method (a smoke check that the walk saw the real routes).
	for k := range documented {
		method, path, _ := strings.Cut(k, " ")
		path = strings.ReplaceAll(path, "{id}", "in-00000000000000000000")
		var body []byte
		if method == http.MethodPost {
			body = []byte(`{}`)
		}
		r := h.do(method, path, "bad-token", body)
		if r.StatusCode == http.StatusMethodNotAllowed || (r.StatusCode == http.StatusNotFound && path != "/api/v1/outbox") {
			t.Errorf("%s %s: %d", method, path, r.StatusCode)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	h := startHarness(t)
	wantStatus(t, h.get("/healthz", ""), http.StatusOK)
	wantStatus(t, h.get("/readyz", ""), http.StatusOK)
	wantStatus(t, h.post("/api/v1/incidents", acmeToken, `{"title":"metrics"}`), http.StatusAccepted)
	wantStatus(t, h.get("/api/v1/incidents/in-00000000000000000000", globexToken), http.StatusNotFound)
	r := h.get("/metrics", "")
	wantStatus(t, r, http.StatusOK)
	m := string(r.body)
	for _, want := range []string{
		`incidentd_ingress_request_duration_seconds_bucket{code="202",method="POST",route="/api/v1/incidents"`,
		`incidentd_ingress_request_duration_seconds_count{code="404",method="GET",route="/api/v1/incidents/{id}"}`,
		`incidentd_ingress_produce_duration_seconds_count{result="ok"} 1`,
		`incidentd_ingress_commands_total{kind="declare",source="api"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "in-00000000000000000000") {
		t.Error("a raw path is a metric label")
	}
	// The dashboard is served beside the API.
	r = h.get("/", "")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "app.js") {
		t.Fatalf("dashboard index: %s", r.body)
	}
}

// TestBrokerDown stops the broker: writes answer well within Slack's 3 s,
// never 2xx, with Retry-After, the command id and the key to retry with.
// The first may go out on the connection the broker just closed, so it and
// the writes behind it in its partition are 504 outcome_unknown;
// TestAnswersWhenBrokerKilledInFlight checks which answer is which. readyz
// says the broker is down too. When the broker is back, writes are
// accepted again.
func TestBrokerDown(t *testing.T) {
	h := startHarnessOn(t, testenv.StartKafka(t, testenv.WithDataDir(t.TempDir())))
	wantStatus(t, h.post("/api/v1/incidents", acmeToken, `{"title":"before"}`), http.StatusAccepted)
	h.kafka.Stop()
	for i := range 3 {
		start := time.Now()
		r := h.post("/api/v1/incidents", acmeToken, `{"title":"during"}`, "Idempotency-Key", "down-1")
		el := time.Since(start)
		p := r.problem(t)
		switch {
		case r.StatusCode == http.StatusServiceUnavailable && p.Code == CodeLogUnavailable:
		case r.StatusCode == http.StatusGatewayTimeout && p.Code == CodeOutcomeUnknown:
		default:
			t.Fatalf("attempt %d: status %d, body %s", i, r.StatusCode, r.body)
		}
		if r.Header.Get("Retry-After") == "" || p.CommandID == "" || p.IdempotencyKey != "down-1" {
			t.Fatalf("attempt %d: problem %+v, Retry-After %q", i, p, r.Header.Get("Retry-After"))
		}
		if el > 2*time.Second {
			t.Fatalf("attempt %d: answer took %v, want well under 3s", i, el)
		}
	}
	start := time.Now()
	body := []byte(`{"type":"event_callback","team_id":"` + teamID + `","event_id":"EvDOWN","event":{"type":"app_mention","user":"U1","text":"<@UBOT> db down","ts":"1700000000.000100","channel":"C1","event_ts":"1700000000.000100"}}`)
	r := h.slackPost("/slack/events", "application/json", body)
	// Not 2xx, so that Slack retries the event (the same command).
	if p := r.problem(t); !(r.StatusCode == http.StatusServiceUnavailable && p.Code == CodeLogUnavailable ||
		r.StatusCode == http.StatusGatewayTimeout && p.Code == CodeOutcomeUnknown) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("slack event with the broker down: %d %s", r.StatusCode, r.body)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("slack answer took %v", time.Since(start))
	}
	wantStatus(t, h.get("/readyz", ""), http.StatusServiceUnavailable)

	h.kafka.Restart(t)
	testenv.Eventually(t, 20*time.Second, "writes accepted again", func() bool {
		return h.post("/api/v1/incidents", acmeToken, `{"title":"after"}`, "Idempotency-Key", "up-1").StatusCode == http.StatusAccepted
	})
}

func TestOutbox(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "outbox.jsonl")
	h := startHarness(t, withConfig(func(c *Config) { c.OutboxPath = path }))
	h.runProcessor(0)
	var a, g WriteResult
	h.post("/api/v1/incidents?wait=5s", acmeToken, `{"title":"acme"}`).json(t, &a)
	h.post("/api/v1/incidents?wait=5s", globexToken, `{"title":"globex"}`).json(t, &g)
	lines := `{"time":"2026-01-01T00:00:00Z","method":"chat.postMessage","channel":"outbox","incident_id":"` + a.IncidentID + `","text":"acme card"}` + "\n" +
		`{"time":"2026-01-01T00:00:01Z","method":"chat.postMessage","channel":"outbox","incident_id":"` + g.IncidentID + `","text":"globex card"}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out OutboxJSON
	r := h.get("/api/v1/outbox", acmeToken)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &out)
	if len(out.Entries) != 1 || out.Entries[0].Text != "acme card" {
		t.Fatalf("acme outbox %s", r.body)
	}
	wantStatus(t, h.get("/api/v1/outbox?limit=0", acmeToken), http.StatusBadRequest)

	h2 := startHarness(t)
	wantStatus(t, h2.get("/api/v1/outbox", acmeToken), http.StatusNotFound)
}
