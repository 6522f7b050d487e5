package ingress

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
)

func TestAPIDeclareIsInLogBeforeAck(t *testing.T) {
	h := startHarness(t)
	r := h.post("/api/v1/incidents", acmeToken, `{"title":"checkout is down","severity":"SEV2"}`)
	wantStatus(t, r, http.StatusAccepted)
	var res WriteResult
	r.json(t, &res)
	if res.Status != "accepted" || !strings.HasPrefix(res.IncidentID, "in-") || !strings.HasPrefix(res.CommandID, "c-") {
		t.Fatalf("result %+v", res)
	}
	if loc := r.Header.Get("Location"); loc != "/api/v1/incidents/"+res.IncidentID {
		t.Fatalf("Location %q", loc)
	}
	cmds := h.commands(1)
	c := cmds[0]
	if len(cmds) != 1 || c.ID != res.CommandID || c.Incident != res.IncidentID || c.Tenant != "acme" ||
		c.Actor != "acme-ci" || c.Kind != incident.Declare || c.Title != "checkout is down" || c.Severity != "SEV2" ||
		c.Source.Kind != incident.FromDashboard || c.At.IsZero() {
		t.Fatalf("commands %+v, result %+v", cmds, res)
	}
}

func TestAPIWritesProduceTheirCommands(t *testing.T) {
	h := startHarness(t)
	id := "in-0123456789abcdef0123"
	cases := []struct {
		path, body string
		check      func(c incident.Command) bool
	}{
		{"severity", `{"severity":"SEV1"}`, func(c incident.Command) bool { return c.Kind == incident.SetSeverity && c.Severity == "SEV1" }},
		{"title", `{"title":"new title"}`, func(c incident.Command) bool { return c.Kind == incident.SetTitle && c.Title == "new title" }},
		{"assign", `{"role":"commander","person":"alice"}`, func(c incident.Command) bool {
			return c.Kind == incident.Assign && c.Role == incident.Commander && c.Person == "alice"
		}},
		{"assign", `{"role":"assignee","person":""}`, func(c incident.Command) bool {
			return c.Kind == incident.Assign && c.Role == incident.Assignee && c.Person == ""
		}},
		{"acknowledge", ``, func(c incident.Command) bool { return c.Kind == incident.Acknowledge }},
		{"mitigate", `{}`, func(c incident.Command) bool { return c.Kind == incident.Mitigate }},
		{"resolve", ``, func(c incident.Command) bool { return c.Kind == incident.Resolve }},
		{"reopen", ``, func(c incident.Command) bool { return c.Kind == incident.Reopen }},
		{"notes", `{"note":"rolled back"}`, func(c incident.Command) bool { return c.Kind == incident.AddNote && c.Note == "rolled back" }},
		{"impact-started", `{"at":"2026-01-02T15:04:05Z"}`, func(c incident.Command) bool {
			return c.Kind == incident.SetImpactStarted && c.ImpactStarted.Equal(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC))
		}},
	}
	for _, tc := range cases {
		r := h.post("/api/v1/incidents/"+id+"/"+tc.path, acmeToken, tc.body)
		wantStatus(t, r, http.StatusAccepted)
	}
	cmds := h.commands(len(cases))
	if len(cmds) != len(cases) {
		t.Fatalf("%d commands, want %d", len(cmds), len(cases))
	}
	for i, tc := range cases {
		c := cmds[i]
		if c.Incident != id || c.Tenant != "acme" || !tc.check(c) {
			t.Errorf("%s: command %+v", tc.path, c)
		}
	}
}

func TestAPIAuth(t *testing.T) {
	h := startHarness(t)
	for _, tc := range []struct{ name, header string }{
		{"none", ""},
		{"unknown token", "Bearer nope"},
		{"wrong scheme", "Basic " + acmeToken},
		{"empty bearer", "Bearer "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			for _, r := range []response{
				h.do(http.MethodPost, "/api/v1/incidents", "", []byte(`{"title":"x"}`), hdr...),
				h.do(http.MethodGet, "/api/v1/incidents", "", nil, hdr...),
			} {
				wantStatus(t, r, http.StatusUnauthorized)
				if p := r.problem(t); p.Code != CodeUnauthorized {
					t.Fatalf("problem %+v", p)
				}
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Fatal("no WWW-Authenticate")
				}
			}
		})
	}
	// Nothing was produced by the refused requests: one accepted write
	// is the first record of the topic.
	wantStatus(t, h.post("/api/v1/incidents", acmeToken, `{"title":"ok"}`), http.StatusAccepted)
	if cmds := h.commands(1); len(cmds) != 1 || cmds[0].Title != "ok" {
		t.Fatalf("commands %+v", cmds)
	}
}

func TestAPIIdempotencyKey(t *testing.T) {
	h := startHarness(t)
	var a, b, c WriteResult
	h.post("/api/v1/incidents", acmeToken, `{"title":"db"}`, "Idempotency-Key", "k-1").json(t, &a)
	h.post("/api/v1/incidents", acmeToken, `{"title":"db"}`, "Idempotency-Key", "k-1").json(t, &b)
	h.post("/api/v1/incidents", globexToken, `{"title":"db"}`, "Idempotency-Key", "k-1").json(t, &c)
	if a.IncidentID != incident.APIIncidentID("acme", "k-1") || a.CommandID != incident.CommandIDFor("acme", "k-1") {
		t.Fatalf("ids %+v", a)
	}
	if a != b {
		t.Fatalf("retry got %+v, first %+v", b, a)
	}
	if c.IncidentID == a.IncidentID || c.CommandID == a.CommandID {
		t.Fatalf("another tenant's key gave the same ids: %+v %+v", a, c)
	}
	var d, e WriteResult
	h.post("/api/v1/incidents/"+a.IncidentID+"/resolve", acmeToken, ``, "Idempotency-Key", "r-1").json(t, &d)
	h.post("/api/v1/incidents/"+a.IncidentID+"/resolve", acmeToken, ``, "Idempotency-Key", "r-1").json(t, &e)
	if d.CommandID != incident.CommandIDFor("acme", "r-1") || d != e {
		t.Fatalf("resolve retries %+v %+v", d, e)
	}
	// Without a key, every request is a new command.
	var f, g WriteResult
	h.post("/api/v1/incidents", acmeToken, `{"title":"db"}`).json(t, &f)
	h.post("/api/v1/incidents", acmeToken, `{"title":"db"}`).json(t, &g)
	if f.IncidentID == g.IncidentID || f.CommandID == g.CommandID {
		t.Fatalf("keyless requests share ids: %+v %+v", f, g)
	}
	cmds := h.commands(7)
	if cmds[0].ID != cmds[1].ID || cmds[3].ID != cmds[4].ID {
		t.Fatalf("retried commands differ: %+v", cmds)
	}
}

func TestAPIWaitForOutcome(t *testing.T) {
	h := startHarness(t)
	h.runProcessor(0)
	r := h.post("/api/v1/incidents?wait=5s", acmeToken, `{"title":"api down","severity":"SEV1"}`, "Idempotency-Key", "w-1")
	wantStatus(t, r, http.StatusOK)
	var res WriteResult
	r.json(t, &res)
	if res.Status != "applied" || res.Version != 1 || res.FromVersion != 1 || res.Incident == nil ||
		res.Incident.Title != "api down" || res.Incident.Severity != "SEV1" || res.Incident.Status != "open" || res.Incident.Reporter != "acme-ci" {
		t.Fatalf("declare with wait: %s", r.body)
	}
	id := res.IncidentID

	r = h.post("/api/v1/incidents/"+id+"/resolve?wait=5s", acmeToken, ``)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	if res.Version != 2 || res.Incident == nil || res.Incident.Status != "resolved" {
		t.Fatalf("resolve with wait: %s", r.body)
	}

	// A rejection comes back as a problem with the model's code.
	r = h.post("/api/v1/incidents/"+id+"/resolve?wait=5s", acmeToken, ``)
	wantStatus(t, r, http.StatusConflict)
	if p := r.problem(t); p.Code != string(incident.CodeAlreadyResolved) || p.IncidentID != id || p.CommandID == "" {
		t.Fatalf("problem %+v", p)
	}
	r = h.post("/api/v1/incidents/"+id+"/severity?wait=5s", acmeToken, `{"severity":"SEV9"}`)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if p := r.problem(t); p.Code != string(incident.CodeInvalidSeverity) {
		t.Fatalf("problem %+v", p)
	}
	r = h.post("/api/v1/incidents/in-00000000000000000000/acknowledge?wait=5s", acmeToken, ``)
	wantStatus(t, r, http.StatusNotFound)
	if p := r.problem(t); p.Code != string(incident.CodeUnknownIncident) {
		t.Fatalf("problem %+v", p)
	}
	// A retried declare (same key) is a duplicate: no new events, the
	// original outcome.
	r = h.post("/api/v1/incidents?wait=5s", acmeToken, `{"title":"api down","severity":"SEV1"}`, "Idempotency-Key", "w-1")
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	if res.Version != 1 || res.IncidentID != id {
		t.Fatalf("retried declare: %s", r.body)
	}
}

func TestAPIWaitTimesOutWith202(t *testing.T) {
	h := startHarness(t) // no processor: no outcome ever comes
	start := time.Now()
	r := h.post("/api/v1/incidents?wait=300ms", acmeToken, `{"title":"slow"}`)
	wantStatus(t, r, http.StatusAccepted)
	var res WriteResult
	r.json(t, &res)
	if res.Status != "accepted" || res.Note == "" || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("after %v: %s", time.Since(start), r.body)
	}
	// wait is capped at MaxWait, and must be a duration.
	r = h.post("/api/v1/incidents?wait=soon", acmeToken, `{"title":"slow"}`)
	wantStatus(t, r, http.StatusBadRequest)
	if p := r.problem(t); p.Code != CodeInvalidField {
		t.Fatalf("problem %+v", p)
	}
	if cmds := h.commands(1); len(cmds) != 1 {
		t.Fatalf("a request with a bad wait produced: %+v", cmds)
	}
}

func TestTenantIsolation(t *testing.T) {
	h := startHarness(t)
	h.runProcessor(0)
	var res WriteResult
	r := h.post("/api/v1/incidents?wait=5s", acmeToken, `{"title":"acme secret outage"}`)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	id := res.IncidentID
	testenv.Eventually(t, 5*time.Second, "view of the incident", func() bool {
		return h.get("/api/v1/incidents/"+id, acmeToken).StatusCode == http.StatusOK
	})

	// Globex cannot read it: 404, like an unknown incident.
	for _, path := range []string{"/api/v1/incidents/" + id, "/api/v1/incidents/in-ffffffffffffffffffff"} {
		r = h.get(path, globexToken)
		wantStatus(t, r, http.StatusNotFound)
		if p := r.problem(t); p.Code != CodeNotFound {
			t.Fatalf("problem %+v", p)
		}
	}
	var list ListJSON
	h.get("/api/v1/incidents", globexToken).json(t, &list)
	if len(list.Incidents) != 0 {
		t.Fatalf("globex lists %+v", list)
	}
	h.get("/api/v1/incidents", acmeToken).json(t, &list)
	if len(list.Incidents) != 1 || list.Incidents[0].ID != id {
		t.Fatalf("acme lists %+v", list)
	}
	// Nor write it: 404 at once, and nothing is produced.
	r = h.post("/api/v1/incidents/"+id+"/resolve", globexToken, ``)
	wantStatus(t, r, http.StatusNotFound)
	if cmds := h.commands(1); len(cmds) != 1 {
		t.Fatalf("globex's write was produced: %+v", cmds)
	}
	// The incident is untouched.
	var tl TimelineJSON
	h.get("/api/v1/incidents/"+id, acmeToken).json(t, &tl)
	if tl.Incident.Status != "open" || len(tl.Events) != 1 {
		t.Fatalf("timeline %+v", tl)
	}
}

func TestReadYourWrites(t *testing.T) {
	h := startHarness(t)
	h.runProcessor(300 * time.Millisecond) // the view lags the log
	var res WriteResult
	r := h.post("/api/v1/incidents?wait=5s", acmeToken, `{"title":"lagging view"}`)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	r = h.post("/api/v1/incidents/"+res.IncidentID+"/notes?wait=5s", acmeToken, `{"note":"first note"}`)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &res)
	if res.Version != 2 {
		t.Fatalf("note: %s", r.body)
	}
	// Without min_version the view may not have the note yet; with it the
	// read waits until it does.
	r = h.get("/api/v1/incidents/"+res.IncidentID+"?min_version=2", acmeToken)
	wantStatus(t, r, http.StatusOK)
	var tl TimelineJSON
	r.json(t, &tl)
	if tl.Incident.Version < 2 || tl.Incident.Notes != 1 || len(tl.Events) != 2 || tl.Events[1].Note != "first note" {
		t.Fatalf("timeline %s", r.body)
	}
	// A version that never comes: bounded wait, then 503 view_behind.
	start := time.Now()
	r = h.get("/api/v1/incidents/"+res.IncidentID+"?min_version=99", acmeToken)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Code != CodeViewBehind || r.Header.Get("Retry-After") == "" {
		t.Fatalf("problem %+v", p)
	}
	if el := time.Since(start); el < 2*time.Second || el > 10*time.Second {
		t.Fatalf("min_version wait took %v, want about MaxReadWait (2s)", el)
	}
}

func TestReadsWithoutViews(t *testing.T) {
	h := startHarness(t, withoutViews())
	for _, path := range []string{"/api/v1/incidents", "/api/v1/incidents/in-00000000000000000000", "/api/v1/analytics"} {
		r := h.get(path, acmeToken)
		wantStatus(t, r, http.StatusServiceUnavailable)
		if p := r.problem(t); p.Code != CodeViewsUnavailable || !strings.Contains(p.Detail, "ClickHouse") || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s: problem %+v", path, p)
		}
	}
	// Writes still work.
	wantStatus(t, h.post("/api/v1/incidents", acmeToken, `{"title":"no clickhouse"}`), http.StatusAccepted)
}

func TestViewsErrorIs503(t *testing.T) {
	h := startHarness(t)
	h.views.fail = errViewsDown
	r := h.get("/api/v1/incidents/in-00000000000000000000", acmeToken)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if p := r.problem(t); p.Code != CodeViewsUnavailable {
		t.Fatalf("problem %+v", p)
	}
}

var errViewsDown = &bodyError{detail: "clickhouse: connection refused"}

func TestAPIBadRequests(t *testing.T) {
	h := startHarness(t, withConfig(func(c *Config) { c.MaxBodyBytes = 4096 }))
	id := "in-0123456789abcdef0123"
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"not json", "POST", "/api/v1/incidents", `{title`, nil, 400, CodeMalformedBody},
		{"unknown field", "POST", "/api/v1/incidents", `{"title":"x","sev":"SEV1"}`, nil, 400, CodeMalformedBody},
		{"two objects", "POST", "/api/v1/incidents", `{"title":"x"}{"title":"y"}`, nil, 400, CodeMalformedBody},
		{"wrong type", "POST", "/api/v1/incidents", `{"title":5}`, nil, 400, CodeMalformedBody},
		{"no title", "POST", "/api/v1/incidents", `{"severity":"SEV1"}`, nil, 422, CodeInvalidField},
		{"blank title", "POST", "/api/v1/incidents", `{"title":"   "}`, nil, 422, CodeInvalidField},
		{"too large", "POST", "/api/v1/incidents", `{"title":"` + strings.Repeat("x", 5000) + `"}`, nil, 413, CodeBodyTooLarge},
		{"bad key", "POST", "/api/v1/incidents", `{"title":"x"}`, []string{"Idempotency-Key", strings.Repeat("k", 201)}, 400, CodeInvalidField},
		{"no severity", "POST", "/api/v1/incidents/" + id + "/severity", `{}`, nil, 422, CodeInvalidField},
		{"bad role", "POST", "/api/v1/incidents/" + id + "/assign", `{"role":"boss","person":"x"}`, nil, 422, CodeInvalidField},
		{"no person", "POST", "/api/v1/incidents/" + id + "/assign", `{"role":"commander"}`, nil, 422, CodeInvalidField},
		{"bad time", "POST", "/api/v1/incidents/" + id + "/impact-started", `{"at":"yesterday"}`, nil, 422, CodeInvalidField},
		{"body on ack", "POST", "/api/v1/incidents/" + id + "/acknowledge", `{"now":true}`, nil, 400, CodeMalformedBody},
		{"empty note", "POST", "/api/v1/incidents/" + id + "/notes", `{"note":""}`, nil, 422, CodeInvalidField},
		{"bad id", "POST", "/api/v1/incidents/NOT_AN_ID!/resolve", ``, nil, 404, CodeNotFound},
		{"unknown route", "GET", "/api/v1/nope", ``, nil, 404, CodeNotFound},
		{"wrong method", "DELETE", "/api/v1/incidents/" + id, ``, nil, 405, CodeMethodNotAllowed},
		{"bad status", "GET", "/api/v1/incidents?status=burning", ``, nil, 400, CodeInvalidField},
		{"bad severity", "GET", "/api/v1/incidents?severity=SEV9", ``, nil, 400, CodeInvalidField},
		{"bad limit", "GET", "/api/v1/incidents?limit=100000", ``, nil, 400, CodeInvalidField},
		{"bad sort", "GET", "/api/v1/incidents?sort=random", ``, nil, 400, CodeInvalidField},
		{"bad from", "GET", "/api/v1/incidents?from=monday", ``, nil, 400, CodeInvalidField},
		{"from after to", "GET", "/api/v1/incidents?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", ``, nil, 400, CodeInvalidField},
		{"bad min_version", "GET", "/api/v1/incidents/" + id + "?min_version=-1", ``, nil, 400, CodeInvalidField},
		{"bad bucket", "GET", "/api/v1/analytics?bucket=1s", ``, nil, 400, CodeInvalidField},
		{"too many buckets", "GET", "/api/v1/analytics?bucket=1m&from=2000-01-01T00:00:00Z", ``, nil, 400, CodeInvalidField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.method == "POST" {
				body = []byte(tc.body)
			}
			r := h.do(tc.method, tc.path, acmeToken, body, tc.hdr...)
			wantStatus(t, r, tc.status)
			if p := r.problem(t); p.Code != tc.code || p.Detail == "" {
				t.Fatalf("problem %+v, want code %s", p, tc.code)
			}
		})
	}
}

func TestAnalytics(t *testing.T) {
	h := startHarness(t)
	h.runProcessor(0)
	wantStatus(t, h.post("/api/v1/incidents?wait=5s", acmeToken, `{"title":"one","severity":"SEV2"}`), http.StatusOK)
	testenv.Eventually(t, 5*time.Second, "analytics to count the incident", func() bool {
		var a AnalyticsJSON
		r := h.get("/api/v1/analytics?bucket=1h", acmeToken)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("analytics: %d %s", r.StatusCode, r.body)
		}
		r.json(t, &a)
		return a.OpenNow == 1 && a.OpenNowBySeverity["SEV2"] == 1 && a.BucketSeconds == 3600
	})
	var a AnalyticsJSON
	h.get("/api/v1/analytics", globexToken).json(t, &a)
	if a.OpenNow != 0 {
		t.Fatalf("globex analytics %+v", a)
	}
}

// TestPolicy checks that the dashboard can learn the deployment's
// severity levels, and only with a token.
func TestPolicy(t *testing.T) {
	h := startHarness(t, withConfig(func(c *Config) { c.Policy = incident.Policy{Severities: []string{"P0", "P1", "P2"}} }))
	r := h.get("/api/v1/policy", acmeToken)
	wantStatus(t, r, http.StatusOK)
	var got struct{ Severities []string }
	r.json(t, &got)
	if strings.Join(got.Severities, ",") != "P0,P1,P2" {
		t.Fatalf("policy severities %v, want P0,P1,P2", got.Severities)
	}
	wantStatus(t, h.get("/api/v1/policy", ""), http.StatusUnauthorized)
}
