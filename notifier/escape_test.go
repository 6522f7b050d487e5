package notifier_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/slackapp"
)

// hostile is text a person could type that Slack would otherwise read as
// a channel-wide ping, a mention of someone else, a disguised link or an
// entity.
const hostile = "<!channel> <!here> <@U999> <http://evil.example|bank> &amp; 1<2>0"

// forbidden are the pieces of hostile that must never reach Slack as
// markup.
var forbidden = []string{"<!channel>", "<!here>", "<@U999>", "<http://evil", "&amp; 1", "1<2>0"}

// TestUserTextIsEscaped drives a Slack incident whose title, note, person
// and a rejection reason carry Slack markup through the notifier, and reads
// what the Slack stand-in received: the card's text and every mrkdwn block,
// the thread updates and the ephemeral reply show the text, escaped, and
// never as a ping, mention or link.
func TestUserTextIsEscaped(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	r.startNotifier(r.config(t.TempDir()))
	at := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	src := incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: "CESC", ThreadTS: "1600000000.000001"}
	id := incident.SlackIncidentID(src.Team, src.Channel, src.ThreadTS)
	cmd := func(n int, k incident.CommandKind) incident.Command {
		return incident.Command{ID: fmt.Sprintf("esc-%d", n), Incident: id, Tenant: "tenant1", Actor: "UACTOR",
			At: at.Add(time.Duration(n) * time.Second), Kind: k}
	}
	declare := cmd(0, incident.Declare)
	declare.Title, declare.Source = hostile, src
	note := cmd(1, incident.AddNote)
	note.Note = "note: " + hostile
	assign := cmd(2, incident.Assign)
	assign.Role, assign.Person = incident.Commander, "name "+hostile
	retitle := cmd(3, incident.SetTitle) // the same title: rejected, the reason quotes it
	retitle.Title = hostile
	r.send(declare, note, assign, retitle)

	testenv.Eventually(t, 20*time.Second, "convergence", func() string {
		var card, noteLine, assignLine, reply bool
		for _, m := range r.fake.Messages("CESC") {
			if _, ok := cardIncident(m.Blocks); ok && strings.Contains(m.Text, "name &lt;!channel&gt;") {
				card = true
			}
			noteLine = noteLine || strings.Contains(m.Text, "Note from <@UACTOR>: note: &lt;!channel&gt;")
			assignLine = assignLine || strings.Contains(m.Text, "commander set to name &lt;!channel&gt;")
			reply = reply || m.Ephemeral && strings.Contains(m.Text, "&lt;http://evil.example|bank&gt;")
		}
		if !card || !noteLine || !assignLine || !reply {
			return fmt.Sprintf("card showing the commander %v, note line %v, assign line %v, rejection reply %v", card, noteLine, assignLine, reply)
		}
		return ""
	})
	msgs := r.fake.Messages("CESC")
	for _, m := range msgs {
		texts := append([]string{m.Text}, mrkdwnTexts(t, m.Blocks)...)
		for _, s := range texts {
			for _, f := range forbidden {
				if strings.Contains(s, f) {
					t.Errorf("message %s carries %q unescaped:\n%s", m.TS, f, s)
				}
			}
		}
	}
	// The card's fallback text shows the title as typed, escaped.
	for _, m := range msgs {
		if _, ok := cardIncident(m.Blocks); ok && !strings.Contains(m.Text, slackapp.Escape(hostile)) {
			t.Errorf("card text %q does not show the escaped title %q", m.Text, slackapp.Escape(hostile))
		}
	}
}

// mrkdwnTexts returns the text of every mrkdwn object in blocks (plain_text
// objects are shown as they are: Slack reads no markup in them).
func mrkdwnTexts(t *testing.T, blocks json.RawMessage) []string {
	t.Helper()
	if len(blocks) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["type"] == "mrkdwn" {
				if s, ok := x["text"].(string); ok {
					out = append(out, s)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(v)
	return out
}
