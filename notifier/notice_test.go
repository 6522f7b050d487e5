package notifier_test

import (
	"github.com/incidentd/incidentd/internal/testenv"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// otherTenantsCommand is a command from a Slack user of tenant2 (team T2,
// channel CB) naming tenant1's incident: the model answers it with a
// notice, in no incident's history.
func otherTenantsCommand(incidentA string, at time.Time) incident.Command {
	return incident.Command{ID: "c-from-b", Incident: incidentA, Tenant: "tenant2", Actor: "U7", At: at.Add(time.Second),
		Kind: incident.Resolve, Source: incident.Source{Kind: incident.FromSlack, Team: "T2", Channel: "CB", ThreadTS: "1600000000.000777"}}
}

func tenantOnesIncident(at time.Time) incident.Command {
	return incident.Command{ID: "c-a", Incident: "sl-a", Tenant: "tenant1", Actor: "U1", At: at, Kind: incident.Declare,
		Title: "tenant one's", Source: incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: "CA", ThreadTS: "1600000000.000001"}}
}

// TestNoticeToldToRequester: a Slack user of tenant2 names tenant1's
// incident. The rejection is told to that user alone, ephemerally, in the
// channel and thread the command came from, with tenant2's bot token;
// tenant1's channel gets nothing but its own card, and its history no
// rejection.
func TestNoticeToldToRequester(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	r.startNotifier(r.config(t.TempDir()))
	at := time.Now().UTC()
	a := tenantOnesIncident(at)
	r.send(a)
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		if len(r.fake.Messages("CA")) == 0 {
			return "no card in CA"
		}
		return ""
	})
	b := otherTenantsCommand(a.Incident, at)
	r.send(b, b) // delivered twice: one notice

	var told []slackfake.Message
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		told = r.fake.Messages("CB")
		if len(told) == 0 {
			return "nothing told in CB"
		}
		return ""
	})
	_, events, _ := r.proc.Snapshot()
	for _, e := range events[a.Incident] {
		if e.Kind == incident.Rejected {
			t.Errorf("tenant1's incident has a rejection in its history: %+v", e)
		}
	}
	m := told[0]
	if len(told) != 1 || !m.Ephemeral || m.User != "U7" || m.Team != "T2" || m.ThreadTS != b.Source.ThreadTS {
		t.Fatalf("told in CB: %+v; want one ephemeral to U7 with T2's token in thread %s", told, b.Source.ThreadTS)
	}
	if want := "Could not resolve (incident " + a.Incident + ")"; !strings.HasPrefix(m.Text, want) {
		t.Errorf("reply %q, want it to start %q", m.Text, want)
	}
	for _, m := range r.fake.Messages("CA") {
		if _, ok := cardIncident(m.Blocks); !ok || m.Team != "T1" {
			t.Errorf("in tenant1's channel: %+v", m)
		}
	}
	for _, c := range r.fake.Calls() {
		if c.Team == "T1" && c.Params.Get("channel") != "CA" || c.Team == "T2" && c.Params.Get("channel") != "CB" {
			t.Errorf("call %s with team %s's token in channel %s", c.Method, c.Team, c.Params.Get("channel"))
		}
	}
}

// TestNoticeInRequestersOutbox: without workspaces the reply goes to the
// local outbox as the requester's tenant's (no incident id), where the
// dashboard shows it to that tenant only.
func TestNoticeInRequestersOutbox(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	cfg := r.config(t.TempDir())
	cfg.Workspaces = nil
	r.startNotifier(cfg)
	at := time.Now().UTC()
	a := tenantOnesIncident(at)
	b := otherTenantsCommand(a.Incident, at)
	r.send(a, b)
	path := filepath.Join(cfg.Dir, notifier.OutboxFile)
	var reply *notifier.OutboxEntry
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		es, err := notifier.ReadOutbox(path, 100)
		if err != nil {
			return err.Error()
		}
		for _, e := range es {
			if e.Method == notifier.MethodPostEphemeral {
				reply = &e
				return ""
			}
		}
		return "no reply in the outbox"
	})
	if reply.IncidentID != "" || reply.Tenant != "tenant2" || reply.Channel != "CB" || reply.User != "U7" {
		t.Errorf("reply %+v; want tenant2's, to U7 in CB, in no incident", *reply)
	}
}
