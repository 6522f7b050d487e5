package ingress

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
)

// goWords are pieces of Go error strings and type names that a problem
// document must never show (they belong in the log).
var goWords = []string{"json:", "jsontext", "jsonv2", "struct {", "struct{", "ingress.", "projector:", "*", "reflect",
	"unmarshal", "Unmarshal", "dial tcp", "%!", "<nil>", "Go value"}

// wantRefused checks a refusal: the status and code, a detail saying
// what is wrong (want) in the API's words, and the request id, which is
// also the X-Request-Id header the log lines carry.
func wantRefused(t *testing.T, r response, status int, code, want string) {
	t.Helper()
	wantStatus(t, r, status)
	p := r.problem(t)
	if p.Code != code || !strings.Contains(p.Detail, want) {
		t.Fatalf("%s %s: problem %+v, want code %s and a detail saying %q", r.Request.Method, r.Request.URL.Path, p, code, want)
	}
	for _, w := range goWords {
		if strings.Contains(p.Detail, w) || strings.Contains(p.Title, w) {
			t.Fatalf("problem %+v shows %q: Go's words, not the API's", p, w)
		}
	}
	if p.RequestID == "" || p.RequestID != r.Header.Get(RequestIDHeader) {
		t.Fatalf("problem request_id %q, header %q: want the same, set", p.RequestID, r.Header.Get(RequestIDHeader))
	}
}

// TestBadInputRefusedBeforeTheLog sends every kind of bad input the API
// takes and checks each is a 4xx naming the problem, then that the
// commands topic holds only the commands that were accepted: nothing
// refused was produced.
func TestBadInputRefusedBeforeTheLog(t *testing.T) {
	h := startHarness(t)
	id := "in-0123456789abcdef0123"
	rtl, lri, bell := "\u202E", "\u2066", "\a"
	jsonStr := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	cursor := base64.RawURLEncoding.EncodeToString([]byte(`{"s":"newest","d":1,"i":"x"}`))
	q := url.QueryEscape
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, want               string
	}{
		// Fields: characters, not bytes; no control or bidi characters.
		{"title of 201 characters", "POST", "/api/v1/incidents", `{"title":` + jsonStr(strings.Repeat("é", 201)) + `}`, 422, CodeInvalidField, "title is longer than 200 characters"},
		{"title with a bidi override", "POST", "/api/v1/incidents", `{"title":` + jsonStr("invoice"+rtl+"fdp.exe") + `}`, 422, CodeInvalidField, "title contains a bidirectional formatting character (U+202E)"},
		{"title with a control character", "POST", "/api/v1/incidents", `{"title":` + jsonStr("db"+bell+"down") + `}`, 422, CodeInvalidField, "title contains a control character (U+0007)"},
		{"title with a line break", "POST", "/api/v1/incidents", `{"title":"db\ndown"}`, 422, CodeInvalidField, "control character (U+000A)"},
		{"new title with an isolate", "POST", "/api/v1/incidents/" + id + "/title", `{"title":` + jsonStr("a"+lri+"b") + `}`, 422, CodeInvalidField, "(U+2066)"},
		{"note with a bidi override", "POST", "/api/v1/incidents/" + id + "/notes", `{"note":` + jsonStr("ok"+rtl) + `}`, 422, CodeInvalidField, "note contains a bidirectional"},
		{"note of 4001 characters", "POST", "/api/v1/incidents/" + id + "/notes", `{"note":` + jsonStr(strings.Repeat("障", 4001)) + `}`, 422, CodeInvalidField, "note is longer than 4000 characters"},
		{"person with a control character", "POST", "/api/v1/incidents/" + id + "/assign", `{"role":"commander","person":` + jsonStr("bob\x1b[2J") + `}`, 422, CodeInvalidField, "person contains a control character (U+001B)"},
		// A 100 KB title is inside the body limit: refused as a field,
		// before the log, not written and then rejected.
		{"title of 100 KB", "POST", "/api/v1/incidents", `{"title":"` + strings.Repeat("x", 100<<10) + `"}`, 422, CodeInvalidField, "longer than 200 characters"},
		// Bodies beyond the limit.
		{"title of 1 MiB", "POST", "/api/v1/incidents", `{"title":"` + strings.Repeat("x", 1<<20) + `"}`, 413, CodeBodyTooLarge, "limit"},
		// Body errors in the API's words.
		{"unknown field", "POST", "/api/v1/incidents", `{"title":"x","sev":"SEV1"}`, 400, CodeMalformedBody, `unknown field "sev"`},
		{"field twice", "POST", "/api/v1/incidents", `{"title":"x","title":"y"}`, 400, CodeMalformedBody, `field "title" is given twice`},
		{"wrong type", "POST", "/api/v1/incidents", `{"title":5}`, 400, CodeMalformedBody, `field "title" must be a string`},
		{"not JSON", "POST", "/api/v1/incidents", `{title`, 400, CodeMalformedBody, "not valid JSON"},
		{"an array", "POST", "/api/v1/incidents", `["x"]`, 400, CodeMalformedBody, "must be a JSON object"},
		{"unknown field on ack", "POST", "/api/v1/incidents/" + id + "/acknowledge", `{"now":true}`, 400, CodeMalformedBody, `unknown field "now"`},
		// Reads.
		{"malformed cursor", "GET", "/api/v1/incidents?cursor=garbage", "", 400, CodeInvalidField, "cursor is not one this API returned"},
		{"cursor of another order", "GET", "/api/v1/incidents?sort=oldest&cursor=" + cursor, "", 400, CodeInvalidField, `cursor is for sort "newest"`},
		{"search with a bidi override", "GET", "/api/v1/incidents?q=" + q("a"+rtl), "", 400, CodeInvalidField, "q contains a bidirectional"},
		{"search of 201 characters", "GET", "/api/v1/incidents?q=" + q(strings.Repeat("é", 201)), "", 400, CodeInvalidField, "q is longer than 200 characters"},
		{"assignee with a control character", "GET", "/api/v1/incidents?assignee=" + q("a"+bell), "", 400, CodeInvalidField, "assignee contains a control character"},
		{"hourly analytics over a year", "GET", "/api/v1/analytics?bucket=1h&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "", 400, CodeInvalidField, "over the limit of 2000 buckets"},
		{"minutes over a week", "GET", "/api/v1/analytics?bucket=1m&from=2025-01-01T00:00:00Z&to=2025-01-08T00:00:00Z", "", 400, CodeInvalidField, "over the limit of 2000 buckets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.method == "POST" {
				body = []byte(tc.body)
			}
			wantRefused(t, h.do(tc.method, tc.path, acmeToken, body), tc.status, tc.code, tc.want)
		})
	}

	// What the rule allows: 200 characters of three bytes each, a note of
	// several lines, right-to-left text with its marks.
	accepted := []struct{ path, body string }{
		{"/api/v1/incidents", `{"title":` + jsonStr(strings.Repeat("障", 200)) + `}`},
		{"/api/v1/incidents/" + id + "/notes", `{"note":"first line\nsecond line\ttabbed"}`},
		{"/api/v1/incidents/" + id + "/title", `{"title":` + jsonStr("انقطاع الخدمة\u200F (payments)") + `}`},
	}
	for i, a := range accepted {
		r := h.post(a.path, acmeToken, a.body, "Idempotency-Key", "input-ok-"+string(rune('a'+i)))
		wantStatus(t, r, http.StatusAccepted)
		if r.Header.Get(RequestIDHeader) == "" {
			t.Fatalf("%s: no %s on an answer", a.path, RequestIDHeader)
		}
	}
	cmds := h.commands(len(accepted))
	if len(cmds) != len(accepted) || cmds[0].Title != strings.Repeat("障", 200) || cmds[1].Note != "first line\nsecond line\ttabbed" || cmds[2].Kind != incident.SetTitle {
		t.Fatalf("the commands topic holds %d commands, want only the %d accepted: %+v", len(cmds), len(accepted), cmds)
	}
}

// TestSlackBadInputAndEscaping: Slack text breaking the text rule is
// answered with the reason and produces nothing; Slack markup in a title
// is taken as the text it shows, and echoed escaped in what ingress posts
// (the reply), never as a ping or a link.
func TestSlackBadInputAndEscaping(t *testing.T) {
	h := startHarness(t)
	var reply slackReply
	for _, tc := range []struct{ text, want string }{
		{"declare invoice\u202Efdp.exe", "The title contains a bidirectional formatting character (U+202E)."},
		{"declare " + strings.Repeat("é", 201), "The title is longer than 200 characters."},
		{"declare db\adown", "The title contains a control character (U+0007)."},
		{"note in-0123456789abcdef0123 hi\u2066there", "The note contains a bidirectional formatting character (U+2066)."},
	} {
		r := h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", tc.text, "trig-bad"))
		wantStatus(t, r, http.StatusOK)
		r.json(t, &reply)
		if reply.ResponseType != "ephemeral" || reply.Text != tc.want {
			t.Errorf("%q: reply %+v, want %q", tc.text, reply, tc.want)
		}
	}
	// A mention whose text breaks the rule is answered in its thread.
	const thread = "1700000400.000100"
	wantStatus(t, h.slackPost("/slack/events", "application/json",
		mentionEvent("EvBad1", "C1", "U0ALICE", "<@UBOT> server\u202Edown", thread, "")), http.StatusOK)
	testenv.Eventually(t, 5*time.Second, "the reply to a mention with a bidi override", func() bool {
		for _, m := range h.slack.Messages("C1") {
			if m.Ephemeral && m.ThreadTS == thread && strings.Contains(m.Text, "bidirectional formatting character") {
				return true
			}
		}
		return false
	})

	// Slack sends what was typed escaped: "&" as &amp;, and <!channel>
	// for @channel.
	typed := "<!channel> pay &amp; <http://evil.example|bank> now"
	r := h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "declare "+typed, "trig-esc"))
	wantStatus(t, r, http.StatusOK)
	r.json(t, &reply)
	escaped := "&lt;!channel&gt; pay &amp; &lt;http://evil.example|bank&gt; now"
	if !strings.Contains(reply.Text, escaped) || strings.Contains(reply.Text, "<!channel>") || strings.Contains(reply.Text, "<http") {
		t.Fatalf("reply %q, want the title escaped: %q", reply.Text, escaped)
	}
	// Ingress posts nothing in the channel for a slash declare (the
	// notifier's card is the announcement, escaped by the notifier).
	for _, m := range h.slack.Messages(channelID) {
		if !m.Ephemeral {
			t.Fatalf("ingress posted %q in the channel for a slash declare", m.Text)
		}
	}
	// The declare form refuses the same text the model would.
	view := interaction(map[string]any{
		"type": "view_submission", "api_app_id": "A0INCIDENTD", "token": "x", "trigger_id": "trig-v",
		"team": map[string]any{"id": teamID, "domain": "acme"},
		"user": map[string]any{"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": teamID},
		"view": map[string]any{
			"id": "V0FORMBAD", "team_id": teamID, "type": "modal", "callback_id": declareCallbackID, "private_metadata": channelID,
			"state": map[string]any{"values": map[string]any{
				declareTitle: map[string]any{declareTitle: map[string]any{"type": "plain_text_input", "value": "a\u2067b"}},
			}},
		},
	})
	r = h.slackPost("/slack/interactions", form, view)
	wantStatus(t, r, http.StatusOK)
	var ve viewErrors
	r.json(t, &ve)
	if ve.ResponseAction != "errors" || !strings.Contains(ve.Errors[declareTitle], "bidirectional formatting character (U+2067)") {
		t.Fatalf("form with a bidi isolate: %s", r.body)
	}

	// A title over several lines is one line, its spaces collapsed.
	r = h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "declare db down\n\tsee  the dashboard", "trig-lines"))
	wantStatus(t, r, http.StatusOK)

	// Only the good declares reached the log, with the titles as typed.
	cmds := h.commands(2)
	if len(cmds) != 2 || cmds[0].Kind != incident.Declare || cmds[0].Title != "<!channel> pay & <http://evil.example|bank> now" ||
		cmds[1].Title != "db down see the dashboard" {
		t.Fatalf("commands %+v, want the two declares with the unescaped, one-line titles", cmds)
	}
}

// TestSlackReplyHidesGoErrors: when Slack cannot be reached, the user is
// told so in a few words, not with the Go error (URL, address, dial).
func TestSlackReplyHidesGoErrors(t *testing.T) {
	h := startHarness(t, withConfig(func(c *Config) { c.SlackAPIURL = "http://127.0.0.1:1/api/" }))
	var reply slackReply
	r := h.slackPost("/slack/commands", form, slashForm(teamID, channelID, "U0ALICE", "/incident", "", "trig-form"))
	wantStatus(t, r, http.StatusOK)
	r.json(t, &reply)
	if !strings.Contains(reply.Text, "Slack could not be reached") || strings.Contains(reply.Text, "dial") {
		t.Fatalf("reply %q: want a short reason without the Go error", reply.Text)
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger and a test at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefusalLoggedWithRequestID: what a problem leaves out (the decoder's
// own error) is in the log, under the request id the answer gave.
func TestRefusalLoggedWithRequestID(t *testing.T) {
	var logs lockedBuffer
	h := startHarness(t)
	srv, err := New(Config{Kafka: h.kcfg, Tokens: []Token{{Name: "acme-ci", Tenant: "acme", SHA256: HashToken(acmeToken)}}},
		slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	body := []byte(`{"title":5}`)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/incidents", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+acmeToken)
	w := serveChecked(t, srv.Handler(), req, body)
	var p Problem
	if w.Code != http.StatusBadRequest || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Detail != `field "title" must be a string` {
		t.Fatalf("status %d, body %s", w.Code, w.Body.Bytes())
	}
	line := ""
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "request_id="+p.RequestID) {
			line = l
		}
	}
	if p.RequestID == "" || !strings.Contains(line, "request refused") || !strings.Contains(line, "string") || !strings.Contains(line, "number") {
		t.Fatalf("no log line with request_id=%s and the decoder's error:\n%s", p.RequestID, logs.String())
	}
}
