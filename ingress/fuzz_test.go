package ingress

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/incidentd/incidentd/incident"
)

// serveSigned runs one correctly signed Slack request through the handler
// (in process; the produce still goes to the kfake broker over TCP).
func serveSigned(h *harness, path, contentType string, body []byte) *httptest.ResponseRecorder {
	stamp, sig := slackSign(signingSecret, time.Now(), body)
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", stamp)
	req.Header.Set("X-Slack-Signature", sig)
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	return w
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
		[]byte(`[]`), []byte(`null`), []byte(``), []byte("\xff"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serveSigned(h, "/slack/events", "application/json", body)
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
		w := serveSigned(h, "/slack/commands", form, body)
		checkAnswer(t, w, body, http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge)
	})
}

func FuzzSlackInteractions(f *testing.F) {
	h := startHarness(f, withoutRateLimits())
	id := "sl-0123456789abcdef0123"
	for _, s := range [][]byte{
		blockAction("U1", "t1", map[string]any{"action_id": actionAck, "block_id": cardBlockPrefix + id, "type": "button", "value": id}),
		blockAction("U1", "t2", map[string]any{"action_id": actionSeverity, "block_id": cardBlockPrefix + id, "type": "static_select", "selected_option": map[string]any{"value": "SEV9"}}),
		interaction(map[string]any{"type": "view_submission", "team": map[string]any{"id": teamID}, "user": map[string]any{"id": "U1"}, "view": map[string]any{"id": "V1", "callback_id": declareCallbackID}}),
		interaction(map[string]any{"type": "view_submission", "team": map[string]any{"id": teamID}, "view": map[string]any{"state": nil}}),
		[]byte("payload=%7B%22actions%22%3A%5Bnull%5D%7D"), []byte("payload=null"), []byte("payload=%5B%5D"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serveSigned(h, "/slack/interactions", form, body)
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
		``, `{}`, `{"x":1}`, `[]`, `null`, `{"note":"n"}`, `{"at":"2026-01-02T15:04:05Z"}`, `{"at":"2026-13-02T15:04:05Z"}`,
		`{"title":"\u0000"}`, `{"title":"a"} x`, "\xff",
	} {
		f.Add(uint8(i), []byte(b))
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := paths[int(route)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+acmeToken)
		w := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(w, req)
		checkAnswer(t, w, body, http.StatusAccepted, http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge)
	})
}

func FuzzSlackText(f *testing.F) {
	for _, s := range []string{"", "help", "severity sev1", "assign <@U1|x>", "assign me", "title  ", "note x", "declare", "fire x", "ack", "server down!", "<@U1> x", "ASSIGN <@u1>", "lsit", "resolv"} {
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
			if decodeBody(body, got) != nil {
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
