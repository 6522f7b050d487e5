package notifier_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// The benchmarks run against the Slack stand-in with its one message per
// second per channel limit on, events produced through a real broker by the
// stand-in processor. An iteration takes seconds (the limit is real), so
// give the count:
//
//	go test -run '^$' -bench 'Throughput|NotifierOnly' -benchtime 2000x ./notifier/
//	go test -run '^$' -bench CardLag -benchtime 20x ./notifier/

// benchRig declares k incidents, each in its own channel, and waits until
// every one has its card.
func benchRig(b *testing.B, k int) (*rig, []string) {
	r := newRig(b, time.Second)
	r.startNotifier(r.config(b.TempDir()))
	at := time.Now().UTC()
	var ids []string
	var cmds []incident.Command
	for i := range k {
		ch := fmt.Sprintf("CB%03d", i)
		id := incident.SlackIncidentID("T1", ch, "1.1")
		ids = append(ids, id)
		cmds = append(cmds, incident.Command{ID: "bench-decl-" + id, Incident: id, Tenant: "tenant1", Actor: "U1", At: at,
			Kind: incident.Declare, Title: "bench " + ch, Severity: "SEV4",
			Source: incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: ch, ThreadTS: "1.1"}})
	}
	r.send(cmds...)
	waitCards(b, r, ids, 30*time.Second)
	return r, ids
}

// waitCards waits until every incident's card shows the processor's state.
func waitCards(b *testing.B, r *rig, ids []string, d time.Duration) {
	b.Helper()
	testenv.Eventually(b, d, "convergence", func() string {
		states, _, err := r.proc.Snapshot()
		if err != nil {
			return err.Error()
		}
		if p := r.applied(); p != "" {
			return p
		}
		cards := map[string]string{}
		for _, m := range r.fake.Messages("") {
			if id, ok := cardIncident(m.Blocks); ok {
				cards[id] = m.Text
			}
		}
		for _, id := range ids {
			s := states[id]
			if want := notifier.CardText(s); cards[id] != want {
				return fmt.Sprintf("incident %s: card %q, want %q", id, cards[id], want)
			}
		}
		return ""
	})
}

// changes returns n commands spread round-robin over ids, each a change
// the model applies (severity flips, notes).
func changes(ids []string, n int, tag string) []incident.Command {
	at := time.Now().UTC()
	var out []incident.Command
	for i := range n {
		id := ids[i%len(ids)]
		round := i / len(ids)
		c := incident.Command{ID: fmt.Sprintf("%s-%d", tag, i), Incident: id, Tenant: "tenant1", Actor: "U2", At: at}
		if round%2 == 0 {
			c.Kind, c.Severity = incident.SetSeverity, []string{"SEV1", "SEV2"}[(round/2)%2]
		} else {
			c.Kind, c.Note = incident.AddNote, fmt.Sprintf("note %d", i)
		}
		out = append(out, c)
	}
	return out
}

// BenchmarkThroughput: b.N changes on 20 incidents in 20 channels, produced
// at once; the clock stops when every card shows its final state.
func BenchmarkThroughput(b *testing.B) {
	r, ids := benchRig(b, 20)
	callsBefore := len(r.fake.Calls())
	b.ResetTimer()
	start := time.Now()
	r.send(changes(ids, b.N, fmt.Sprintf("tp%d", b.N))...)
	waitCards(b, r, ids, 60*time.Second)
	el := time.Since(start)
	b.StopTimer()
	calls := len(r.fake.Calls()) - callsBefore
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(calls)/float64(b.N), "slack-calls/event")
}

// BenchmarkCardLag: bursts of 20 changes to one incident, the last a new
// title. The lag is from the burst being in the log (commands acked) to
// the chat.update showing its last change reaching Slack; lag-after-limit subtracts the time the channel's limit
// held the update back (one second after the channel's previous message).
func BenchmarkCardLag(b *testing.B) {
	r, ids := benchRig(b, 1)
	id := ids[0]
	var lags, afterLimit []time.Duration
	for i := range b.N {
		burst := changes(ids, 19, fmt.Sprintf("lag%d", i))
		// The last change gives the card a text no earlier burst had.
		burst = append(burst, incident.Command{ID: fmt.Sprintf("lag%d-title", i), Incident: id, Tenant: "tenant1",
			Actor: "U2", At: time.Now().UTC(), Kind: incident.SetTitle, Title: fmt.Sprintf("burst %d", i)})
		seqBefore := len(r.fake.Calls())
		r.send(burst...)
		sent := time.Now()
		last := burst[len(burst)-1]
		var want string
		var call slackfake.Call
		testenv.Eventually(b, 30*time.Second, "convergence", func() string {
			states, _, _ := r.proc.Snapshot()
			s := states[id]
			if !r.proc.Decided(last) {
				return "burst not applied yet"
			}
			want = notifier.CardText(s)
			for _, c := range r.fake.CallsTo(notifier.MethodUpdate) {
				if c.OK() && c.Params.Get("text") == want && c.Seq > seqBefore {
					call = c
					return ""
				}
			}
			return "card not updated"
		})
		// The channel's limit allows the update one interval after the
		// previous message call that Slack accepted.
		allowed := sent
		for _, c := range r.fake.Calls() {
			if c.Seq < call.Seq && c.OK() && (c.Method == notifier.MethodUpdate || c.Method == notifier.MethodPostMessage) {
				if t := c.At.Add(time.Second); t.After(allowed) {
					allowed = t
				}
			}
		}
		lags = append(lags, call.At.Sub(sent))
		afterLimit = append(afterLimit, max(0, call.At.Sub(allowed)))
	}
	b.StopTimer()
	b.ReportMetric(mean(lags).Seconds()*1000, "lag-ms")
	b.ReportMetric(mean(afterLimit).Seconds()*1000, "lag-after-limit-ms")
	b.ReportMetric(maxDur(afterLimit).Seconds()*1000, "max-lag-after-limit-ms")
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(max(1, len(ds)))
}

func maxDur(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// BenchmarkNotifierOnly: like BenchmarkThroughput, but the benchmark
// decides the commands itself and produces the events straight to the
// events topic, so the clock measures the notifier alone (consume, fold,
// store, coalesced edits under the rate limit), not the stand-in processor.
func BenchmarkNotifierOnly(b *testing.B) {
	r := newBareRig(b, time.Second)
	r.startNotifier(r.config(b.TempDir()))
	const k = 20
	policy := incident.DefaultPolicy()
	states := map[string]incident.State{}
	var ids []string
	at := time.Now().UTC()
	produce := func(cmds []incident.Command) {
		var recs []*kgo.Record
		for _, c := range cmds {
			d := incident.Decide(policy, states[c.Incident], c, nil) // ids are unique
			states[c.Incident] = incident.Fold(states[c.Incident], d.Events...)
			for _, e := range d.Events {
				v, err := wire.EncodeEvent(e)
				if err != nil {
					b.Fatal(err)
				}
				recs = append(recs, &kgo.Record{Topic: r.kc.Topics().Events, Key: []byte(e.Incident), Value: v})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := r.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	var decl []incident.Command
	for i := range k {
		ch := fmt.Sprintf("CN%03d", i)
		id := incident.SlackIncidentID("T1", ch, "1.1")
		ids = append(ids, id)
		decl = append(decl, incident.Command{ID: "decl-" + id, Incident: id, Tenant: "tenant1", Actor: "U1", At: at,
			Kind: incident.Declare, Title: "bench " + ch, Severity: "SEV4",
			Source: incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: ch, ThreadTS: "1.1"}})
	}
	produce(decl)
	converged := func() string {
		cards := map[string]string{}
		for _, m := range r.fake.Messages("") {
			if id, ok := cardIncident(m.Blocks); ok {
				cards[id] = m.Text
			}
		}
		for _, id := range ids {
			if want := notifier.CardText(states[id]); cards[id] != want {
				return fmt.Sprintf("incident %s: card %q, want %q", id, cards[id], want)
			}
		}
		return ""
	}
	testenv.Eventually(b, 30*time.Second, "convergence", converged)

	cmds := changes(ids, b.N, fmt.Sprintf("only%d", b.N))
	// The last change of each incident is a unique title, so its final
	// card differs from every earlier one.
	for i, id := range ids {
		cmds = append(cmds, incident.Command{ID: fmt.Sprintf("only%d-title-%d", b.N, i), Incident: id, Tenant: "tenant1",
			Actor: "U2", At: at, Kind: incident.SetTitle, Title: fmt.Sprintf("final %d", b.N)})
	}
	b.ResetTimer()
	start := time.Now()
	produce(cmds)
	testenv.Eventually(b, time.Minute, "convergence", converged)
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(cmds))/el.Seconds(), "events/s")
}
