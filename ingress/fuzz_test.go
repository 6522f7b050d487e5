package ingress

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/slackapp"
)

// serveSigned runs one correctly signed Slack request through the handler
// (in process; the produce still goes to the kfake broker over TCP).
func serveSigned(t *testing.T, h *harness, path, contentType string, body []byte) *httptest.ResponseRecorder {
	stamp, sig := slackSign(signingSecret, time.Now(), body)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	return serveChecked(t, h.srv.Handler(), req, body)
}

// checkAnswer fails on any answer a decoder must not give: a status
// outside allowed, or an error without a problem document.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, input []byte, allowed ...int) {
	t.Helper()
	ok := false
	for _, s := range allowed {
		ok = ok || w.Code == s
	}
	if !ok {
		t.Fatalf("input %q: status %d (body %s)", input, w.Code, w.Body.Bytes())
	}
	if w.Code >= 400 {
		var p Problem
		if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Code == "" || p.Detail == "" {
			t.Fatalf("input %q: status %d without a problem document: %s", input, w.Code, w.Body.Bytes())
		}
		if p.RequestID == "" || p.RequestID != w.Header().Get(RequestIDHeader) {
			t.Fatalf("input %q: problem without the answer's request id: %s", input, w.Body.Bytes())
		}
		checkNoGoWords(t, p.Detail, input)
	}
}

// checkNoGoWords fails if a detail shown to a caller has Go's words in it
// (error strings, type names) that its input did not bring.
func checkNoGoWords(t *testing.T, detail string, input []byte) {
	t.Helper()
	for _, w := range goWords {
		if strings.Contains(detail, w) && !bytes.Contains(input, []byte(w)) {
			t.Fatalf("input %q: detail %q shows %q", input, detail, w)
		}
	}
}

// checkTextRule fails if an accepted write carries a title, note or
// person that breaks the model's text rule: those are refused before the
// log.
func checkTextRule(t *testing.T, body []byte) {
	t.Helper()
	var v map[string]any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	for field, max := range map[string]int{"title": incident.MaxTitle, "person": incident.MaxPerson, "note": incident.MaxNote} {
		s, ok := v[field].(string)
		if !ok {
			continue
		}
		check := incident.CheckLine
		if field == "note" {
			check = incident.CheckText
		}
		if err := check(strings.TrimSpace(s), max); err != nil {
			t.Fatalf("body %q accepted with a %s that %v", body, field, err)
		}
	}
}

func FuzzSlackEvents(f *testing.F) {
	h := startHarness(f, withoutRateLimits())
	for _, s := range [][]byte{
		mentionEvent("EvF1", "C1", "U1", "<@UBOT> db down", "1700000000.000100", ""),
		mentionEvent("EvF9", "C1", "U1", "<@UBOT> lsit", "1700000009.000100", ""),
		mentionEvent("EvF2", "C1", "U1", "<@UBOT> severity SEV1", "1700000001.000100", "1700000000.000100"),
		mentionEvent("EvF3", "C1", "U1", "<@UBOT> assign <@U2|bob>", "1700000002.000100", "1700000000.000100"),
		callback(teamID, "EvF4", map[string]any{"type": "reaction_added", "user": "U1", "reaction": "pushpin", "item": map[string]any{"type": "message", "channel": "C1", "ts": "1700000000.000100"}}),
		[]byte(`{"type":"url_verification","challenge":"abc"}`),
		[]byte(`{"type":"event_callback","team_id":"T0ACME","event_id":"E","event":null}`),
		[]byte(`{"type":"event_callback","team_id":"T0ACME","event_id":"E","event":{"type":"app_mention","text":{"x":1}}}`),
		[]byte(`{"type":"event_callback","event":{"type":"reaction_added","item":[]}}`),
		[]byte(`[]`), []byte(`null`), []byte(`{}`), []byte(`{"tYpe":"event_callback"}`), []byte(``), []byte("\xff"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serveSigned(t, h, "/slack/events", "application/json", body)
		checkAnswer(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}

func FuzzSlackCommands(f *testing.F) {
	h := startHarness(f, withoutRateLimits())
	for _, s := range [][]byte{
		slashForm(teamID, channelID, "U1", "/incident", "resolve in-0123456789abcdef0123", "t1"),
		slashForm(teamID, channelID, "U1", "/incident", "severity in-0123456789abcdef0123 sev2", "t2"),
		slashForm(teamID, channelID, "U1", "/incident", "help", "t3"),
		slashForm(teamID, channelID, "U1", "/incident", "lsit", "t9"),
		slashForm(teamID, channelID, "U1", "/incident", "note in-0123456789abcdef0123 ü ✓", "t4"),
		[]byte("team_id=T0ACME&%zz"), []byte("text=%00"), []byte(""), []byte("&&&==="),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serveSigned(t, h, "/slack/commands", form, body)
		checkAnswer(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}

func FuzzSlackInteractions(f *testing.F) {
	h := startHarness(f, withoutRateLimits())
	id := "sl-0123456789abcdef0123"
	for _, s := range [][]byte{
		blockAction("U1", "t1", map[string]any{"action_id": slackapp.ActionAcknowledge, "block_id": slackapp.BlockIDPrefix + id, "type": "button", "value": id}),
		blockAction("U1", "t2", map[string]any{"action_id": slackapp.ActionSeverity, "block_id": slackapp.BlockIDPrefix + id, "type": "static_select", "selected_option": map[string]any{"value": "SEV9"}}),
		interaction(map[string]any{"type": "view_submission", "team": map[string]any{"id": teamID}, "user": map[string]any{"id": "U1"}, "view": map[string]any{"id": "V1", "callback_id": declareCallbackID}}),
		interaction(map[string]any{"type": "view_submission", "team": map[string]any{"id": teamID}, "view": map[string]any{"state": nil}}),
		[]byte("payload=%7B%22actions%22%3A%5Bnull%5D%7D"), []byte("payload=null"), []byte("payload=%5B%5D"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serveSigned(t, h, "/slack/interactions", form, body)
		checkAnswer(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}

func FuzzAPIWrites(f *testing.F) {
	h := startHarness(f, withoutRateLimits())
	paths := []string{"/api/v1/incidents"}
	for _, w := range apiWrites {
		paths = append(paths, "/api/v1/incidents/in-0123456789abcdef0123/"+w.path)
	}
	for i, b := range []string{
		`{"title":"x","severity":"SEV1"}`, `{"severity":"SEV2"}`, `{"title":"t"}`, `{"role":"commander","person":"p"}`,
		``, `{}`, `{"x":1}`, `[]`, `null`, `{"note":"n"}`, `{"at":"2026-01-02T15:04:05Z"}`, `{"at":"2026-13-02T15:04:05Z"}`, `{"at":"2026-01-02T1:04:05Z"}`,
		`{"title":"\u0000"}`, `{"title":"a"} x`, "\xff",
		`{"title":"pay \u202eyap"}`, `{"note":"a\u2066b"}`, `{"note":"line\nline"}`, `{"role":"assignee","person":"b\u0007"}`,
		`{"title":"` + strings.Repeat("é", incident.MaxTitle) + `"}`, `{"title":"` + strings.Repeat("é", incident.MaxTitle+1) + `"}`,
		`{"title":"x","title":"y"}`, `{"title":["x"]}`,
	} {
		f.Add(uint8(i), []byte(b))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := paths[int(route)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		req.Header.Set("Content-Type", "application/json")
		w := serveChecked(t, h.srv.Handler(), req, body)
		checkAnswer(t, w, body, http.StatusAccepted, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge)
		if w.Code == http.StatusAccepted {
			checkTextRule(t, body)
		}
	})
}

// FuzzAPIReads: any query of the list and the analytics is answered 200
// or 400 with a problem document, never a 5xx (the views are up: a 5xx
// would be the query layer refusing what the API let through).
func FuzzAPIReads(f *testing.F) {
	h := startHarness(f)
	paths := []string{"/api/v1/incidents", "/api/v1/analytics"}
	for i, q := range []string{
		"", "status=open", "sort=newest&cursor=eyJzIjoibmV3ZXN0IiwiaSI6IngifQ", "cursor=garbage", "sort=oldest&cursor=eyJzIjoibmV3ZXN0IiwiaSI6IngifQ",
		"q=%E2%80%AE", "q=db", "assignee=U1", "limit=0", "bucket=1h&from=2025-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
		"bucket=1m", "bucket=366d", "bucket=1s", "from=2026-01-01T00:00:00Z", "to=2000-01-01T00:00:00Z", "%zz",
		"from", "to=&limit=", "from=2026-01-01T0:00:00Z", "to=2026-01-01T00:00:00+24:00", "to=0000-01-01T00:00:00Z",
	} {
		f.Add(uint8(i), q)
	}
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		req := httptest.NewRequest(http.MethodGet, paths[int(route)%len(paths)], nil)
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		w := serveChecked(t, h.srv.Handler(), req, nil)
		checkAnswer(t, w, []byte(query), http.StatusOK, http.StatusBadRequest)
	})
}

func FuzzSlackText(f *testing.F) {
	for _, s := range []string{"", "help", "severity sev1", "assign <@U1|x>", "assign me", "title  ", "note x", "declare", "fire x", "ack", "server down!", "<@U1> x", "ASSIGN <@u1>",
		"declare a\u202eb", "note a\u2069b", "title a\x07b", "declare &lt;!channel&gt; &amp;", "<!channel> down", "lsit", "resolv"} {
		f.Add(s)
	}
	pol := incident.DefaultPolicy()
	f.Fuzz(func(t *testing.T, text string) {
		req, err := parseSlackText(stripMention(text), "U0ME", pol)
		if err != nil {
			var ue *usageError
			if !asUsage(err, &ue) || ue.msg == "" {
				t.Fatalf("%q: error %v is not a usage reply", text, err)
			}
			return
		}
		//nolint:exhaustive // the kinds whose arguments the parser matches; a note is checked below, the rest take none
		switch req.Kind {
		case incident.SetSeverity:
			if _, ok := matchSeverity(req.Severity, pol); !ok {
				t.Fatalf("%q: severity %q", text, req.Severity)
			}
		case incident.Assign:
			if req.Role != incident.Assignee && req.Role != incident.Commander {
				t.Fatalf("%q: role %q", text, req.Role)
			}
		case incident.Declare, incident.SetTitle:
			if strings.TrimSpace(req.Title) == "" {
				t.Fatalf("%q: empty title", text)
			}
		case "":
			if req.Verb != "help" && req.Verb != "" {
				t.Fatalf("%q: verb %q without a kind", text, req.Verb)
			}
		}
		if utf8.ValidString(text) && !utf8.ValidString(req.Title+req.Note) {
			t.Fatalf("%q: parsing broke UTF-8", text)
		}
		if err := incident.CheckLine(req.Title, incident.MaxTitle); req.Title != "" && err != nil {
			t.Fatalf("%q: title %q accepted, but it %v", text, req.Title, err)
		}
		if err := incident.CheckText(req.Note, incident.MaxNote); req.Note != "" && err != nil {
			t.Fatalf("%q: note %q accepted, but it %v", text, req.Note, err)
		}
	})
}

func asUsage(err error, into **usageError) bool {
	u, ok := err.(*usageError)
	*into = u
	return ok
}

// FuzzDecodeBody: decodeBody never panics, and what it accepts,
// encoding/json's strict Decoder accepts too, with the same value: it may
// refuse more (a name in another case, a name twice, invalid UTF-8), never
// less.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"note":"n"}`, `{"NOTE":"n"}`, `{"n\u006fte":"n"}`, `{"note":"n","x":1}`, `{"x":{"note":[1,"]}"]}}`,
		`{"role":"commander","person":null}`, `{"person":"a\"b","role":"x"}`, `{"title":"t"}}`, `{"title":"t"} {}`,
		`{"ſeverity":"SEV1"}`, `{"severity":5}`, `null`, `[]`, `{}`, ` { "at" : "2026-01-02T15:04:05Z" } `, `{"a":1}`,
		`{"note":1e3}`, `{"note":"x","note":"y"}`, `{"Person":"p"}`, "\xff", `{"note":"\xff"}`,
	} {
		f.Add([]byte(s))
	}
	type note struct {
		Note string `json:"note"`
	}
	type assign struct {
		Role   string  `json:"role"`
		Person *string `json:"person"`
	}
	type declare struct {
		Title    string `json:"title"`
		Severity string `json:"severity"`
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(bytes.TrimSpace(body)) == 0 {
			return // decodeBody's own case: {}
		}
		check := func(got, want any) {
			t.Helper()
			if err := decodeBody(body, got); err != nil {
				var be *bodyError
				if !errors.As(err, &be) || be.status != http.StatusBadRequest || be.detail == "" {
					t.Fatalf("%q into %T: error %v is not a 400 with a detail", body, got, err)
				}
				checkNoGoWords(t, be.detail, body)
				return
			}
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(want); err != nil || dec.More() {
				t.Fatalf("%q into %T: decodeBody accepts it, encoding/json's strict Decoder says %v (more data: %v)", body, got, err, dec.More())
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q into %T: decodeBody gives %+v, encoding/json %+v", body, got, got, want)
			}
		}
		check(&note{}, &note{})
		check(&assign{}, &assign{})
		check(&declare{}, &declare{})
		check(&struct{}{}, &struct{}{})
	})
}
