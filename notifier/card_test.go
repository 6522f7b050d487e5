package notifier_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp"
)

// cardJSON renders a card and decodes its blocks generically, the way
// ingress sees them come back in an interaction payload.
func cardJSON(t *testing.T, s incident.State) (string, []map[string]any) {
	t.Helper()
	text, blocks := notifier.RenderCard(s, incident.DefaultPolicy(), "http://dash.example/")
	b, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return text, out
}

func elements(t *testing.T, blocks []map[string]any, id string) map[string]map[string]any {
	t.Helper()
	var actions map[string]any
	for _, b := range blocks {
		if b["block_id"] == slackapp.BlockID(id) {
			if actions != nil {
				t.Fatal("two blocks with the incident's block id")
			}
			actions = b
		}
	}
	if actions == nil || actions["type"] != "actions" {
		t.Fatalf("no actions block %q in %v", slackapp.BlockID(id), blocks)
	}
	out := map[string]map[string]any{}
	for _, e := range actions["elements"].([]any) {
		el := e.(map[string]any)
		out[el["action_id"].(string)] = el
	}
	return out
}

func TestCardControls(t *testing.T) {
	s := incident.State{Incident: "sl-abc", Declared: true, Title: "db <down> & out", Severity: "SEV2",
		Status: incident.StatusOpen, Reporter: "U1", Assignee: "U2", DeclaredAt: time.Unix(1700000000, 0)}
	text, blocks := cardJSON(t, s)
	if text != `[SEV2] db &lt;down&gt; &amp; out: open, commander none, assignee U2` {
		t.Errorf("text = %q", text)
	}
	els := elements(t, blocks, "sl-abc")
	sev := els[slackapp.ActionSeverity]
	if sev["type"] != "static_select" || sev["initial_option"].(map[string]any)["value"] != "SEV2" {
		t.Errorf("severity select = %v", sev)
	}
	var values []string
	for _, o := range sev["options"].([]any) {
		values = append(values, o.(map[string]any)["value"].(string))
	}
	if strings.Join(values, ",") != "SEV1,SEV2,SEV3,SEV4" {
		t.Errorf("severity options = %v", values)
	}
	if a := els[slackapp.ActionAssign]; a["type"] != "users_select" || a["initial_user"] != "U2" {
		t.Errorf("assign select = %v", a)
	}
	for _, id := range []string{slackapp.ActionAcknowledge, slackapp.ActionMitigate, slackapp.ActionResolve} {
		if b := els[id]; b["type"] != "button" || b["value"] != "sl-abc" {
			t.Errorf("button %s = %v", id, b)
		}
	}
	if _, ok := els[slackapp.ActionReopen]; ok {
		t.Error("reopen offered on an open incident")
	}
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(blocks); err != nil {
		t.Fatal(err)
	}
	raw := buf.String()
	for _, want := range []string{"http://dash.example/incidents/sl-abc", `"text":"🔥 SEV2: db <down> & out"`, "<@U2>", "<!date^1700000000^"} {
		if !strings.Contains(raw, want) {
			t.Errorf("card lacks %q: %s", want, raw)
		}
	}

	s.Status = incident.StatusResolved
	_, blocks = cardJSON(t, s)
	els = elements(t, blocks, "sl-abc")
	if _, ok := els[slackapp.ActionReopen]; !ok || len(els) != 3 {
		t.Errorf("resolved card controls = %v, want severity, assign, reopen", els)
	}
}

func TestCardLongTitle(t *testing.T) {
	s := incident.State{Incident: "in-1", Declared: true, Title: strings.Repeat("é", 200), Severity: "SEV1", Status: incident.StatusOpen}
	_, blocks := cardJSON(t, s)
	h := blocks[0]["text"].(map[string]any)["text"].(string)
	if len(h) > 150 || !strings.HasSuffix(h, "…") {
		t.Errorf("header %d bytes: %q", len(h), h)
	}
}

func TestTimelineLines(t *testing.T) {
	for _, tc := range []struct {
		e    incident.Event
		want string
	}{
		{incident.Event{Kind: incident.SeverityChanged, Severity: "SEV1", Actor: "U1", Version: 3}, "• Severity changed to *SEV1* by <@U1> (v3)"},
		{incident.Event{Kind: incident.Assigned, Role: incident.Commander, Person: "U2", Actor: "U1", Version: 4}, "• commander set to <@U2> by <@U1> (v4)"},
		{incident.Event{Kind: incident.Assigned, Role: incident.Assignee, Actor: "api-key", Version: 5}, "• assignee unassigned by api-key (v5)"},
		{incident.Event{Kind: incident.Resolved, Actor: "U1", Version: 6}, "• Resolved by <@U1> (v6)"},
		{incident.Event{Kind: incident.NoteAdded, Note: "a<b", Actor: "U1", Version: 7}, "• Note from <@U1>: a&lt;b (v7)"},
	} {
		if got, ok := notifier.TimelineLine(tc.e); !ok || got != tc.want {
			t.Errorf("TimelineLine(%s) = %q, %v; want %q", tc.e.Kind, got, ok, tc.want)
		}
	}
	for _, k := range []incident.EventKind{incident.Declared, incident.Rejected, incident.SlackMessageRecorded, incident.MessagePinned} {
		if _, ok := notifier.TimelineLine(incident.Event{Kind: k}); ok {
			t.Errorf("%s made a timeline line", k)
		}
	}
	e := incident.Event{Incident: "sl-1", Kind: incident.Rejected, CommandKind: incident.Acknowledge,
		Rejection: &incident.Rejection{Code: incident.CodeAlreadyResolved, Reason: "incident is resolved"}}
	if got := notifier.RejectionText(e); got != "Could not acknowledge (incident sl-1): incident is resolved" {
		t.Errorf("RejectionText = %q", got)
	}
}
