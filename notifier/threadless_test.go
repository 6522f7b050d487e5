package notifier_test

import (
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
)

// TestSlackIncidentDeclaredWithoutThread: an incident declared by slash
// command or form has no thread (ingress posts nothing before the log has
// the declare). Delivered three times, it gets one card, posted in its
// channel, and the card starts the thread its timeline goes to.
func TestSlackIncidentDeclaredWithoutThread(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	r.startNotifier(r.config(t.TempDir()))
	at := time.Now().UTC()
	decl := incident.Command{ID: "c-slash", Incident: "sl-slash", Tenant: "tenant1", Actor: "U1", At: at, Kind: incident.Declare,
		Title: "checkout down", Source: incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: "CSLASH"}}
	r.send(decl, decl, decl)
	r.send(incident.Command{ID: "c-note", Incident: "sl-slash", Tenant: "tenant1", Actor: "U1", At: at.Add(time.Second),
		Kind: incident.AddNote, Note: "rolled back"})

	var card string
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		card = ""
		for _, m := range r.fake.Messages("CSLASH") {
			if id, ok := cardIncident(m.Blocks); ok && id == "sl-slash" && m.ThreadTS == "" {
				card = m.TS
			}
		}
		if card == "" {
			return "no top-level card in CSLASH"
		}
		for _, m := range r.fake.Messages("CSLASH") {
			if m.ThreadTS == card && m.TS != card {
				return ""
			}
		}
		return "no timeline line in the card's thread"
	})
	cards := 0
	for _, m := range r.fake.Messages("CSLASH") {
		if _, ok := cardIncident(m.Blocks); ok {
			cards++
		}
	}
	if cards != 1 {
		t.Fatalf("%d cards for one incident delivered three times, want 1", cards)
	}
}
