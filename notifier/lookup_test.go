package notifier_test

import (
	"fmt"
	"github.com/incidentd/incidentd/internal/testenv"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// TestPostAnsweredTooLateIsNotRepeated: Slack makes a chat.postMessage but
// its answer comes after the notifier gave up on the call (CallTimeout), so
// the notifier does not know the message exists. Before posting again it
// looks for the message by the metadata every post carries, and adopts
// what it finds: a card in a thread, a card at the top of an incidents
// channel and a timeline reply each appear once, the cards recorded in
// their incidents and showing the final state.
func TestPostAnsweredTooLateIsNotRepeated(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	cfg := r.config(t.TempDir())
	cfg.CallTimeout = 300 * time.Millisecond
	r.fake.AnswerLate(notifier.MethodPostMessage, 2, 2*time.Second) // both cards
	r.startNotifier(cfg)
	// The person's message the Slack incident is declared in, whose
	// thread conversations.replies reads.
	r.fake.AddMessage(slackfake.Message{Team: "T1", Channel: "CLATE", TS: "1600000000.000001", From: "U1", Text: "@fire late answers"})

	at := time.Now().UTC()
	slackDecl := incident.Command{ID: "c-late-1", Incident: "sl-late", Tenant: "tenant1", Actor: "U1", At: at, Kind: incident.Declare,
		Title: "late answers", Source: incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: "CLATE", ThreadTS: "1600000000.000001"}}
	dashDecl := incident.Command{ID: "c-late-2", Tenant: "tenant2", Actor: "U2", At: at, Kind: incident.Declare,
		Title: "late on the dashboard", Source: incident.Source{Kind: incident.FromDashboard}}
	dashDecl.Incident = incident.APIIncidentID(dashDecl.Tenant, dashDecl.ID)
	r.send(slackDecl, dashDecl)
	testenv.Eventually(t, 20*time.Second, "convergence", func() string {
		states, _, _ := r.proc.Snapshot()
		for _, id := range []string{slackDecl.Incident, dashDecl.Incident} {
			if states[id].Card.TS == "" {
				return "card of " + id + " not recorded"
			}
		}
		return ""
	})

	r.fake.AnswerLate(notifier.MethodPostMessage, 1, 2*time.Second) // the note's reply
	r.send(incident.Command{ID: "c-late-3", Incident: slackDecl.Incident, Tenant: "tenant1", Actor: "U1", At: at.Add(time.Second),
		Kind: incident.AddNote, Note: "answered late"})
	// The notifier is done once it has looked for the reply too: in the
	// thread for the Slack card and the reply, in the incidents channel
	// for the dashboard card.
	testenv.Eventually(t, 20*time.Second, "convergence", func() string {
		if n := len(r.fake.CallsTo("conversations.replies")); n < 2 {
			return fmt.Sprintf("%d conversations.replies calls, want 2", n)
		}
		if n := len(r.fake.CallsTo("conversations.history")); n < 1 {
			return "no conversations.history call"
		}
		dups, p := check(r, 2)
		if p == "" && dups != 0 {
			t.Fatalf("%d duplicate messages", dups)
		}
		return p
	})
	posts := 0
	for _, c := range r.fake.CallsTo(notifier.MethodPostMessage) {
		if c.OK() {
			posts++
		}
	}
	if posts != 3 {
		t.Errorf("%d messages posted, want 3 (two cards, one reply)", posts)
	}
}
