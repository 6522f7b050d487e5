package notifier_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/notifier"
)

// TestStorm: 1,000 changes on 50 incidents, through a real broker, against
// the Slack stand-in with its one-message-a-second limit. Every incident
// ends with one card, edited in place to the final state and recorded in
// the incident, every timeline change in its thread once, every rejected
// Slack command answered once; no channel is sent more than Slack allows.
func TestStorm(t *testing.T) {
	t.Parallel()
	r := newRig(t, time.Second)
	r.startNotifier(r.config(t.TempDir()))
	cmds := storm(50, 20, "s")
	r.send(cmds[:50]...) // the declares: cards first, so the storm edits them
	testenv.Eventually(t, 20*time.Second, "convergence", func() string {
		n := 0
		for _, m := range r.fake.Messages("") {
			if _, ok := cardIncident(m.Blocks); ok {
				n++
			}
		}
		if n < 50 {
			return fmt.Sprintf("%d cards, want 50", n)
		}
		return ""
	})
	r.send(cmds[50:]...)
	testenv.Eventually(t, 40*time.Second, "convergence", func() string {
		dups, p := check(r, 50)
		if p == "" && dups != 0 {
			t.Fatalf("%d duplicate messages", dups)
		}
		return p
	})
	posts, updates, limited := 0, 0, 0
	for _, c := range r.fake.Calls() {
		if c.Status == http.StatusTooManyRequests {
			limited++
		}
		if !c.OK() {
			continue
		}
		switch c.Method {
		case notifier.MethodPostMessage:
			posts++
		case notifier.MethodUpdate:
			updates++
		}
	}
	// Edited in place, and coalesced: far fewer messages than changes.
	if updates < 50 {
		t.Errorf("%d card edits for 50 incidents, want at least 50", updates)
	}
	if posts+updates >= 500 {
		t.Errorf("%d posts and %d edits for 1,000 changes: not coalesced", posts, updates)
	}
	// The notifier keeps the pace itself: Slack never has to say 429.
	if limited != 0 {
		t.Errorf("%d calls answered 429", limited)
	}
	t.Logf("%d posts, %d edits, %d calls in all", posts, updates, len(r.fake.Calls()))

}

// TestFailuresGoOn: a 5xx is retried; a channel the bot is not in and a
// team without a workspace are dead letters with their reasons, and the
// other incidents are served all the same.
func TestFailuresGoOn(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	r.fake.FailNext(notifier.MethodPostMessage, 3, http.StatusServiceUnavailable)
	r.fake.SetChannelError("CBROKEN", "not_in_channel")
	r.startNotifier(r.config(t.TempDir()))

	at := time.Now().UTC()
	decl := func(id, team, channel string) incident.Command {
		return incident.Command{ID: "c-" + id, Incident: id, Tenant: "tenant1", Actor: "U1", At: at, Kind: incident.Declare,
			Title: "t " + id, Source: incident.Source{Kind: incident.FromSlack, Team: team, Channel: channel, ThreadTS: "1.1"}}
	}
	r.send(decl("sl-broken", "T1", "CBROKEN"), decl("sl-noteam", "T9", "C1"), decl("sl-fine", "T1", "CFINE"))

	dl := testenv.ReadTopicN(t, r.kc, r.kc.Topics().DeadLetters, 2)
	byIncident := map[string]notifier.DeadLetter{}
	for _, rec := range dl {
		var d notifier.DeadLetter
		if err := json.Unmarshal(rec.Value, &d); err != nil {
			t.Fatal(err)
		}
		if string(rec.Key) != d.IncidentID {
			t.Errorf("dead letter key %q, incident %q", rec.Key, d.IncidentID)
		}
		byIncident[d.IncidentID] = d
	}
	if d := byIncident["sl-broken"]; d.Error != "not_in_channel" || d.Method != notifier.MethodPostMessage || d.Channel != "CBROKEN" {
		t.Errorf("dead letter for the broken channel = %+v", d)
	}
	if d := byIncident["sl-noteam"]; d.Error != "no_workspace" || !strings.Contains(d.Reason, `no workspace configured for Slack team "T9"`) {
		t.Errorf("dead letter for the unknown team = %+v", d)
	}
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		for _, m := range r.fake.Messages("CFINE") {
			if id, ok := cardIncident(m.Blocks); ok && id == "sl-fine" {
				return ""
			}
		}
		return "no card for sl-fine"
	})
	var failed int
	for _, c := range r.fake.CallsTo(notifier.MethodPostMessage) {
		if c.Status == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d calls answered 503, want 3", failed)
	}
	if n := len(r.fake.Messages("CFINE")); n != 1 {
		t.Errorf("%d messages in CFINE after retries, want 1", n)
	}
}

// TestOutbox: without workspaces, what would go to Slack goes to the
// outbox file, and ReadOutbox returns the newest entries first.
func TestOutbox(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	dir := t.TempDir()
	cfg := r.config(dir)
	cfg.Workspaces, cfg.SlackAPIURL = nil, ""
	r.startNotifier(cfg)
	r.send(storm(3, 4, "o")...)
	path := filepath.Join(dir, notifier.OutboxFile)
	testenv.Eventually(t, 15*time.Second, "convergence", func() string {
		states, _, err := r.proc.Snapshot()
		if err != nil {
			return err.Error()
		}
		if len(states) != 3 {
			return fmt.Sprintf("%d incidents, want 3", len(states))
		}
		if p := r.applied(); p != "" {
			return p
		}
		es, err := notifier.ReadOutbox(path, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for id, s := range states {
			if s.Card.TS == "" {
				return fmt.Sprintf("incident %s: card not recorded", id)
			}
			found := false
			for _, e := range es { // newest first: the first card entry is the latest
				if e.IncidentID == id && e.Blocks != nil {
					if e.Text != notifier.CardText(s) {
						return fmt.Sprintf("incident %s: outbox card %q, want %q", id, e.Text, notifier.CardText(s))
					}
					found = true
					break
				}
			}
			if !found {
				return "no card for " + id
			}
		}
		return ""
	})
	es, err := notifier.ReadOutbox(path, 2)
	if err != nil || len(es) != 2 || es[0].Time.Before(es[1].Time) {
		t.Fatalf("ReadOutbox(2) = %+v, %v", es, err)
	}
	for _, e := range es {
		if e.Channel == "" || e.Method == "" || e.IncidentID == "" || e.Text == "" {
			t.Errorf("outbox entry missing fields: %+v", e)
		}
	}
}

// TestBadEvents: an undecodable record is a dead letter and a version gap
// is reported (metric) and folded; neither stops the notifier.
func TestBadEvents(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	reg := prometheus.NewRegistry()
	r.startNotifierWith(r.config(t.TempDir()), reg)
	at := time.Now().UTC()
	decl := incident.Event{Incident: "in-gap", Version: 1, Command: "c1", Tenant: "tenant2", Actor: "U1", At: at,
		Kind: incident.Declared, Title: "gap", Severity: "SEV3", Status: incident.StatusOpen, Source: incident.Source{Kind: incident.FromDashboard}}
	sev := incident.Event{Incident: "in-gap", Version: 3, Command: "c3", Tenant: "tenant2", Actor: "U1", At: at,
		Kind: incident.SeverityChanged, Severity: "SEV1", Status: incident.StatusOpen}
	var recs []*kgo.Record
	recs = append(recs, &kgo.Record{Topic: r.kc.Topics().Events, Key: []byte("in-bad"), Value: []byte(`{"v":1,"type":"event","data":{"nope":1}}`)})
	for _, e := range []incident.Event{decl, sev} {
		recs = append(recs, testenv.EventRecord(t, r.kc.Topics().Events, e))
	}
	testenv.Produce(t, r.cl, recs...)
	dl := testenv.ReadTopicN(t, r.kc, r.kc.Topics().DeadLetters, 1)
	var d notifier.DeadLetter
	if err := json.Unmarshal(dl[0].Value, &d); err != nil || d.Error != "malformed_event" || d.IncidentID != "in-bad" || len(d.Record) == 0 {
		t.Fatalf("dead letter = %+v, %v", d, err)
	}
	want := notifier.CardText(incident.Fold(incident.State{}, decl, sev))
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		for _, m := range r.fake.Messages("CINC2") {
			if id, ok := cardIncident(m.Blocks); ok && id == "in-gap" && m.Text == want {
				return ""
			}
		}
		return "card of in-gap does not show v3"
	})
	if got := counter(t, reg, "incidentd_notifier_events_total", "gap"); got != 1 {
		t.Errorf("gap events counted %v, want 1", got)
	}
}

// counter reads one labelled counter from a registry.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestSkipHistory: a fresh notifier with SkipHistory on a topic that has
// history sends nothing for it; the next change edits the card the log
// recorded, or posts a first card for an incident that had none.
func TestSkipHistory(t *testing.T) {
	t.Parallel()
	r := newRig(t, 0)
	cmds := storm(4, 5, "h")
	// An earlier notifier's card for incident 0, recorded in the log.
	inc0 := cmds[0]
	api := slack.New("xoxb-team-1", slack.OptionAPIURL(r.fake.APIURL()))
	_, ts, err := api.PostMessage(inc0.Source.Channel, slack.MsgOptionText("old card", false), slack.MsgOptionTS(inc0.Source.ThreadTS))
	if err != nil {
		t.Fatal(err)
	}
	r.send(cmds...)
	r.send(incident.Command{ID: "rec-0", Incident: inc0.Incident, Tenant: inc0.Tenant, Actor: "incidentd-notifier",
		At: time.Now().UTC(), Kind: incident.RecordSlackMessage, Message: incident.SlackMessage{Channel: inc0.Source.Channel, TS: ts}})
	var history int
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		_, events, _ := r.proc.Snapshot()
		history = 0
		for _, es := range events {
			history += len(es)
		}
		return r.applied()
	})
	callsBefore := len(r.fake.Calls())

	reg := prometheus.NewRegistry()
	cfg := r.config(t.TempDir())
	cfg.SkipHistory = true
	r.startNotifierWith(cfg, reg)
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		if got := counter(t, reg, "incidentd_notifier_events_total", "history"); int(got) != history {
			return fmt.Sprintf("%v history events folded, want %d", got, history)
		}
		return ""
	})
	if n := len(r.fake.Calls()); n != callsBefore {
		t.Fatalf("%d calls for history", n-callsBefore)
	}

	at := time.Now().UTC()
	for i := range 2 {
		c := cmds[i]
		r.send(incident.Command{ID: fmt.Sprintf("retitle-%d", i), Incident: c.Incident, Tenant: c.Tenant, Actor: "U1", At: at,
			Kind: incident.SetTitle, Title: fmt.Sprintf("new title %d", i)})
	}
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		states, _, _ := r.proc.Snapshot()
		if p := r.applied(); p != "" {
			return p
		}
		old, _ := r.fake.Message(inc0.Source.Channel, ts)
		if want := notifier.CardText(states[inc0.Incident]); old.Text != want {
			return fmt.Sprintf("recorded card shows %q, want %q", old.Text, want)
		}
		s1 := states[cmds[1].Incident]
		if s1.Card.TS == "" {
			return "incident 1 has no card recorded"
		}
		if m, _ := r.fake.Message(s1.Card.Channel, s1.Card.TS); m.Text != notifier.CardText(s1) {
			return fmt.Sprintf("incident 1's card shows %q", m.Text)
		}
		return ""
	})
	var methods []string
	for _, c := range r.fake.Calls()[callsBefore:] {
		methods = append(methods, c.Method)
	}
	// One edit of the recorded card, one new card; no thread replies or
	// ephemeral messages from history.
	slices.Sort(methods)
	if got := strings.Join(methods, ","); got != "chat.postMessage,chat.update" {
		t.Errorf("calls after the history: %s", got)
	}
}
