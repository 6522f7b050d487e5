package ingress

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/notifier"
)

// cardElement is one interactive element of a rendered card, as the Block
// Kit JSON Slack receives shows it.
type cardElement struct {
	Type        string                `json:"type"`
	ActionID    string                `json:"action_id"`
	Value       string                `json:"value"`
	Text        struct{ Text string } `json:"text"`
	Placeholder struct{ Text string } `json:"placeholder"`
	Options     []json.RawMessage     `json:"options"`
}

// renderedControls renders the notifier's card for s and returns its
// actions block's id and elements, from the JSON Slack would be sent.
func renderedControls(t *testing.T, s incident.State) (string, []cardElement) {
	t.Helper()
	_, blocks := notifier.RenderCard(s, incident.DefaultPolicy(), "http://dashboard.example")
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatal(err)
	}
	var parsed []struct {
		Type     string          `json:"type"`
		BlockID  string          `json:"block_id"`
		Elements json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal(raw, &parsed); err != nil {
		t.Fatal(err)
	}
	for _, b := range parsed {
		if b.Type == "actions" {
			var els []cardElement
			if err := json.Unmarshal(b.Elements, &els); err != nil {
				t.Fatal(err)
			}
			return b.BlockID, els
		}
	}
	t.Fatalf("card of a %s incident has no actions block: %s", s.Status, raw)
	return "", nil
}

// TestCardButtonsGiveTheirCommands renders the notifier's incident card in
// every status, presses each of its controls through /slack/interactions,
// signed as Slack signs, with the ids the card rendered, and checks the
// command each press produces. What a control must do is read from what a
// person sees on it (its label or placeholder), never from the ids, so a
// card id that drifts from the handler's (a control the handler ignores or
// maps to another command) fails here.
func TestCardButtonsGiveTheirCommands(t *testing.T) {
	h := startHarness(t)
	const actor, assignee = "U0CAROL", "U0DAVE"
	byLabel := map[string]incident.CommandKind{
		"Acknowledge": incident.Acknowledge,
		"Mitigated":   incident.Mitigate,
		"Resolve":     incident.Resolve,
		"Reopen":      incident.Reopen,
	}

	type press struct {
		label string
		want  incident.Command
	}
	var presses []press
	pressed := map[incident.CommandKind]bool{}
	for i, status := range []incident.Status{incident.StatusOpen, incident.StatusAcknowledged, incident.StatusMitigated, incident.StatusResolved} {
		id := incident.SlackIncidentID(teamID, channelID, fmt.Sprintf("1700000100.%06d", i))
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		s := incident.State{
			Incident: id, Tenant: "acme", Version: 3, Declared: true, Title: "checkout is down",
			Severity: "SEV3", Status: status, Reporter: "U0ALICE", Commander: "U0ALICE",
			DeclaredAt: at, UpdatedAt: at,
		}
		blockID, els := renderedControls(t, s)
		for j, el := range els {
			action := map[string]any{"action_id": el.ActionID, "block_id": blockID, "type": el.Type,
				"action_ts": fmt.Sprintf("1700000200.%03d%03d", i, j)}
			want := incident.Command{Incident: id, Tenant: "acme", Actor: actor}
			var label string
			switch el.Type {
			case "button":
				label = el.Text.Text
				kind, ok := byLabel[label]
				if !ok {
					t.Fatalf("%s card: button %q (action %q): this test does not know what it should do", status, label, el.ActionID)
				}
				action["value"], action["text"] = el.Value, map[string]any{"type": "plain_text", "text": label}
				want.Kind = kind
			case "static_select":
				label = el.Placeholder.Text
				if label != "Severity" || len(el.Options) == 0 {
					t.Fatalf("%s card: select %q with %d options", status, label, len(el.Options))
				}
				// The most severe level, as a person would pick it from
				// the options the card offers.
				var opt struct{ Value string }
				if err := json.Unmarshal(el.Options[0], &opt); err != nil {
					t.Fatal(err)
				}
				action["selected_option"] = el.Options[0]
				want.Kind, want.Severity = incident.SetSeverity, opt.Value
			case "users_select":
				label = el.Placeholder.Text
				if label != "Assign" {
					t.Fatalf("%s card: users select %q", status, label)
				}
				action["selected_user"] = assignee
				want.Kind, want.Role, want.Person = incident.Assign, incident.Assignee, assignee
			default:
				t.Fatalf("%s card: element of type %q (action %q): this test does not know it", status, el.Type, el.ActionID)
			}
			trigger := fmt.Sprintf("trig-card-%d-%d", i, j)
			want.ID = incident.CommandIDFor("slack-action", teamID, trigger, action["action_ts"].(string), el.ActionID, blockID)
			wantStatus(t, h.slackPost("/slack/interactions", form, blockAction(actor, trigger, action)), http.StatusOK)
			presses = append(presses, press{fmt.Sprintf("%s card, %q", status, label), want})
			pressed[want.Kind] = true
		}
	}
	for _, k := range []incident.CommandKind{incident.SetSeverity, incident.Assign, incident.Acknowledge, incident.Mitigate, incident.Resolve, incident.Reopen} {
		if !pressed[k] {
			t.Errorf("no card control gives %s", k)
		}
	}

	got := map[string]incident.Command{}
	for _, c := range h.commands(len(presses)) {
		got[c.ID] = c
	}
	if len(got) != len(presses) {
		t.Errorf("%d commands for %d presses", len(got), len(presses))
	}
	for _, p := range presses {
		c, ok := got[p.want.ID]
		switch {
		case !ok:
			t.Errorf("%s: no command (the handler ignored the press)", p.label)
		case c.Kind != p.want.Kind || c.Incident != p.want.Incident || c.Actor != p.want.Actor || c.Tenant != p.want.Tenant ||
			c.Severity != p.want.Severity || c.Role != p.want.Role || c.Person != p.want.Person:
			t.Errorf("%s: command %s incident %s actor %s tenant %s severity %q role %q person %q, want %s %s %s %s %q %q %q",
				p.label, c.Kind, c.Incident, c.Actor, c.Tenant, c.Severity, c.Role, c.Person,
				p.want.Kind, p.want.Incident, p.want.Actor, p.want.Tenant, p.want.Severity, p.want.Role, p.want.Person)
		}
	}
}
