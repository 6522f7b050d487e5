package notifier_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// The rig: a kfake broker over TCP, a Slack stand-in with five workspaces,
// and a stand-in processor that decides commands (the test's and the
// notifier's RecordSlackMessage) with the real model and produces events.

const nTeams = 5

func teams() ([]slackfake.Team, []slackapp.Workspace) {
	var ts []slackfake.Team
	var ws []slackapp.Workspace
	for i := 1; i <= nTeams; i++ {
		tok := fmt.Sprintf("xoxb-team-%d", i)
		ts = append(ts, slackfake.Team{ID: fmt.Sprintf("T%d", i), Name: fmt.Sprintf("team%d", i), Token: tok, BotUserID: fmt.Sprintf("UBOT%d", i), BotID: fmt.Sprintf("B%d", i)})
		ws = append(ws, slackapp.Workspace{TeamID: fmt.Sprintf("T%d", i), Tenant: fmt.Sprintf("tenant%d", i), BotToken: tok, IncidentsChannel: fmt.Sprintf("CINC%d", i)})
	}
	return ts, ws
}

type rig struct {
	t    testing.TB
	k    *testenv.Kafka
	kc   kafka.Config
	fake *slackfake.Server
	ws   []slackapp.Workspace
	proc *testenv.StandInProcessor
	cl   *kgo.Client // produces the test's commands

	mu   sync.Mutex
	sent []incident.Command
}

func newRig(t testing.TB, interval time.Duration) *rig {
	t.Helper()
	r := newBareRig(t, interval)
	r.proc = testenv.StartStandInProcessor(t, r.kc, nil)
	return r
}

// newBareRig is a rig without the stand-in processor: the test produces
// events itself.
func newBareRig(t testing.TB, interval time.Duration) *rig {
	t.Helper()
	k := testenv.StartKafka(t)
	kc := testenv.CreateTopics(t, kafka.Config{Brokers: []string{k.Addr()}, TopicPrefix: "nt.", Partitions: 3})
	st, ws := teams()
	return &rig{t: t, k: k, kc: kc, ws: ws, cl: testenv.NewClient(t, kc),
		fake: slackfake.Start(t, slackfake.WithTeams(st...), slackfake.WithMessageInterval(interval))}
}

// config is a notifier config for the rig.
func (r *rig) config(dir string) notifier.Config {
	return notifier.Config{Kafka: r.kc, Dir: dir, Workspaces: r.ws, SlackAPIURL: r.fake.APIURL(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, CallTimeout: 5 * time.Second}
}

// startNotifier runs a notifier in this process until the returned stop is
// called (or the test ends).
func (r *rig) startNotifier(cfg notifier.Config) (stop func()) {
	r.t.Helper()
	return r.startNotifierWith(cfg, prometheus.NewRegistry())
}

func (r *rig) startNotifierWith(cfg notifier.Config, reg *prometheus.Registry) (stop func()) {
	r.t.Helper()
	n, err := notifier.New(cfg, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		r.t.Fatal(err)
	}
	return testenv.Go(r.t, "notifier", n.Run)
}

// send produces test commands to the commands topic.
func (r *rig) send(cmds ...incident.Command) {
	r.t.Helper()
	var recs []*kgo.Record
	for _, c := range cmds {
		recs = append(recs, testenv.CommandRecord(r.t, r.kc.Topics().Commands, c))
	}
	testenv.Produce(r.t, r.cl, recs...)
	r.mu.Lock()
	r.sent = append(r.sent, cmds...)
	r.mu.Unlock()
}

// applied reports a command sent that the processor has not decided yet
// ("" when all are).
func (r *rig) applied() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.sent {
		if !r.proc.Decided(c) {
			return fmt.Sprintf("command %s not applied yet", c.ID)
		}
	}
	return ""
}

// storm builds the commands of n incidents with perIncident commands each
// on average (the declare included) from the test kit's workload: the n
// declares first, then a random mix of changes. The incidents are spread
// over the rig's workspaces: four in five declared in Slack threads (two
// incidents per channel), one in five on the dashboard. Some commands are
// rejected by the model (no_change, invalid transitions), as they would be
// in life.
func storm(n, perIncident int, seed string) []incident.Command {
	h := fnv.New64a()
	_, _ = h.Write([]byte(seed))
	w := testenv.NewWorkload(testenv.WorkloadConfig{
		Seed: h.Sum64(), Incidents: n, DeclareFirst: true, Start: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC),
		Kinds: []incident.CommandKind{incident.SetSeverity, incident.Assign, incident.AddNote, incident.Acknowledge,
			incident.Mitigate, incident.Resolve, incident.Reopen},
		Place: func(i int, c *incident.Command) {
			team := teamOf(i)
			c.Tenant, c.Title, c.Severity = fmt.Sprintf("tenant%d", team), fmt.Sprintf("%s incident %d <&>", seed, i), "SEV3"
			if i%5 == 4 {
				c.Incident = incident.APIIncidentID(c.Tenant, fmt.Sprintf("%s-%d", seed, i))
				return
			}
			ch := fmt.Sprintf("C%s%02d", strings.ToUpper(seed), i/2)
			thread := fmt.Sprintf("1600000000.%06d", i)
			c.Incident = incident.SlackIncidentID(fmt.Sprintf("T%d", team), ch, thread)
			c.Source = incident.Source{Kind: incident.FromSlack, Team: fmt.Sprintf("T%d", team), Channel: ch, ThreadTS: thread}
		},
	})
	out := make([]incident.Command, 0, n*perIncident)
	for range n * perIncident {
		c, _ := w.Next()
		out = append(out, c)
	}
	return out
}

// teamOf spreads storm incidents over the teams, the dashboard ones (every
// fifth) included.
func teamOf(i int) int {
	if i%5 == 4 {
		return (i/5)%nTeams + 1
	}
	return i%nTeams + 1
}

// check compares Slack with the processor's states and events: one card per
// incident showing the final state, recorded in the incident; every
// timeline event in the incident's thread; every rejection of a Slack
// command answered to its author. It returns a description of the first
// difference, or of duplicates (with allowDup, duplicates are counted and
// returned instead).
func check(r *rig, want int) (dups int, problem string) {
	states, events, err := r.proc.Snapshot()
	if err != nil {
		return 0, "processor: " + err.Error()
	}
	if len(states) != want {
		return 0, fmt.Sprintf("processor has %d incidents, want %d", len(states), want)
	}
	if p := r.applied(); p != "" {
		return 0, p
	}
	msgs := r.fake.Messages("")
	cards := map[string][]slackfake.Message{}
	type key struct{ channel, thread, line string }
	lines := map[key]int{}
	ephem := map[key]int{}
	wantEphem := map[key]int{}
	for _, m := range msgs {
		if m.Ephemeral {
			ephem[key{m.Channel, m.User, m.Text}]++
			continue
		}
		if id, ok := cardIncident(m.Blocks); ok {
			cards[id] = append(cards[id], m)
			continue
		}
		for _, l := range strings.Split(m.Text, "\n") {
			lines[key{m.Channel, m.ThreadTS, l}]++
		}
	}
	for id, s := range states {
		cs := cards[id]
		if len(cs) == 0 {
			return 0, fmt.Sprintf("incident %s: no card", id)
		}
		dups += len(cs) - 1
		if len(cs) > 1 && testing.Verbose() {
			fmt.Printf("dup card %s: %d\n", id, len(cs))
		}
		card := cs[len(cs)-1]
		if s.Card.TS == "" {
			return 0, fmt.Sprintf("incident %s: card not recorded in the incident", id)
		}
		for _, c := range cs {
			if c.TS == s.Card.TS {
				card = c
			}
		}
		if wantText := notifier.CardText(s); card.Text != wantText {
			return 0, fmt.Sprintf("incident %s: card shows %q, want %q", id, card.Text, wantText)
		}
		thread := s.Source.ThreadTS
		channel := s.Source.Channel
		if s.Source.Kind != incident.FromSlack {
			thread, channel = s.Card.TS, card.Channel
		}
		for _, e := range events[id] {
			if l, ok := notifier.TimelineLine(e); ok {
				n := lines[key{channel, thread, l}]
				if n == 0 {
					return 0, fmt.Sprintf("incident %s: timeline line %q missing", id, l)
				}
				dups += n - 1
				if n > 1 && testing.Verbose() {
					fmt.Printf("dup line %s %q: %d\n", id, l, n)
				}
			}
			if e.Kind == incident.Rejected && s.Source.Kind == incident.FromSlack && e.CommandKind != incident.RecordSlackMessage {
				wantEphem[key{channel, e.Actor, notifier.RejectionText(e)}]++
			}
		}
	}
	for k, n := range wantEphem {
		got := ephem[k]
		if got < n {
			return 0, fmt.Sprintf("%d ephemeral replies %q to %s, want %d", got, k.line, k.thread, n)
		}
		dups += got - n
		if got > n && testing.Verbose() {
			fmt.Printf("dup ephemeral %q to %s in %s: %d want %d\n", k.line, k.thread, k.channel, got, n)
			for _, m := range msgs {
				if m.Ephemeral && m.Text == k.line {
					fmt.Printf("   seq %d user %s ch %s thread %s\n", m.Seq, m.User, m.Channel, m.ThreadTS)
				}
			}
		}
	}
	return dups, ""
}

// cardIncident finds the incident a card message is for, by its actions
// block id.
func cardIncident(blocks json.RawMessage) (string, bool) {
	var bs []struct {
		BlockID string `json:"block_id"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return "", false
	}
	for _, b := range bs {
		if id, ok := slackapp.IncidentFromBlockID(b.BlockID); ok {
			return id, true
		}
	}
	return "", false
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}
