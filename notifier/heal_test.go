package notifier_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/verify"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/notifier"
)

// TestGapHealedFromLog: the notifier's store misses an event of an
// incident (it resumes past it, as if the record were lost). When the next
// event of that incident shows the version gap, the notifier reads the
// missing version from the events topic and folds it before: its states
// equal the fold of the log (verify notifier finds no difference), the
// card shows it, and the heal is counted, not a gap.
func TestGapHealedFromLog(t *testing.T) {
	t.Parallel()
	r := newBareRig(t, 0)
	dir := t.TempDir()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	var s incident.State
	var evs []incident.Event
	for i, c := range []incident.Command{
		{Kind: incident.Declare, Title: "heal me", Source: incident.Source{Kind: incident.FromDashboard}},
		{Kind: incident.SetSeverity, Severity: "SEV1"},
		{Kind: incident.Acknowledge},
	} {
		c.ID, c.Incident, c.Tenant, c.Actor, c.At = fmt.Sprintf("c%d", i), "in-heal", "tenant3", "U1", at.Add(time.Duration(i)*time.Minute)
		d := incident.Decide(incident.DefaultPolicy(), s, c, nil)
		s = incident.Fold(s, d.Events...)
		evs = append(evs, d.Events...)
	}
	produce := func(e incident.Event) *kgo.Record {
		t.Helper()
		v, err := wire.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rec, err := r.cl.ProduceSync(ctx, &kgo.Record{Topic: r.kc.Topics().Events, Key: []byte(e.Incident), Value: v}).First()
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	reg := prometheus.NewRegistry()
	stop := r.startNotifierWith(r.config(dir), reg)
	produce(evs[0])
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		if counter(t, reg, "incidentd_notifier_events_total", "applied") < 1 {
			return "declaration not folded"
		}
		return ""
	})
	stop()
	lost := produce(evs[1])
	if err := notifier.SkipTo(dir, lost.Partition, lost.Offset+1); err != nil {
		t.Fatal(err)
	}
	produce(evs[2])
	reg = prometheus.NewRegistry()
	stop = r.startNotifierWith(r.config(dir), reg)
	want := notifier.CardText(s)
	testenv.Eventually(t, 10*time.Second, "convergence", func() string {
		for _, m := range r.fake.Messages("CINC3") {
			if id, ok := cardIncident(m.Blocks); ok && id == "in-heal" && m.Text == want {
				return ""
			}
		}
		return "card of in-heal does not show the fold of the log"
	})
	stop()
	if got := total(t, reg, "incidentd_notifier_gaps_healed_total"); got != 1 {
		t.Errorf("gaps healed = %v, want 1", got)
	}
	if got := counter(t, reg, "incidentd_notifier_events_total", "gap"); got != 0 {
		t.Errorf("gaps left = %v, want 0", got)
	}
	stored, err := notifier.StoredStates(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := verify.ReadLog(context.Background(), r.kc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := verify.Notifier(stored, l); len(d) > 0 {
		var b strings.Builder
		for _, x := range d {
			b.WriteString("\n\t" + x.String())
		}
		t.Errorf("verify notifier: %d differences:%s", len(d), b.String())
	}
}

// total sums every sample of a counter in reg.
func total(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
