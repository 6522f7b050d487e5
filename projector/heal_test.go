package projector_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/projector"
)

// losingSink stores nothing of the first insert holding one chosen event
// and reports success: a batch lost on the way to the tables.
type losingSink struct {
	projector.Sink
	incident string
	version  uint64
	lost     atomic.Bool
}

func (s *losingSink) Insert(ctx context.Context, events []incident.Event, states []incident.State) error {
	if !s.lost.Load() {
		for _, e := range events {
			if e.Incident == s.incident && e.Version == s.version {
				s.lost.Store(true)
				return nil
			}
		}
	}
	return s.Sink.Insert(ctx, events, states)
}

// produceAt produces one event and returns the record as the broker
// stored it (partition and offset set).
func (h *harness) produceAt(t testing.TB, e incident.Event) *kgo.Record {
	t.Helper()
	v, err := wire.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := h.prod.ProduceSync(ctx, &kgo.Record{Topic: h.kcfg.Topics().Events, Key: []byte(e.Incident), Value: v}).First()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitCommitted waits until group has committed past r.
func (h *harness) waitCommitted(t testing.TB, group string, r *kgo.Record) {
	t.Helper()
	adm := kadm.NewClient(h.prod)
	testenv.Eventually(t, 30*time.Second, "offset committed past the lost event", func() error {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return err
		}
		o, ok := offs.Lookup(r.Topic, r.Partition)
		if !ok || o.At <= r.Offset {
			return fmt.Errorf("committed %+v, want past %d", o, r.Offset)
		}
		return nil
	})
}

// TestGapHealedFromLog: an event's rows never reach the tables although
// its offset is committed (a batch lost on its way). When a later event of
// that incident finds the version gap, the projector reads the missing
// version from the events topic and folds it: the tables end equal to the
// log (verify finds no difference), and the heal is counted.
func TestGapHealedFromLog(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(21, "acme", "globex")
	evs := w.run(400)
	// The lost event: version 2 of an incident that has more events after it.
	lostAt := -1
	for i, e := range evs {
		if e.Version == 2 && e.Kind != incident.Rejected {
			for _, later := range evs[i+1:] {
				if later.Incident == e.Incident {
					lostAt = i
					break
				}
			}
		}
		if lostAt >= 0 {
			break
		}
	}
	if lostAt < 0 {
		t.Fatal("no incident with a version 2 and later events")
	}
	lost := evs[lostAt]
	sink := &losingSink{Sink: projector.NewClickHouseSink(h.conn, h.db), incident: lost.Incident, version: lost.Version}
	withSink := func(c *projector.Config) { c.Sink = sink }

	stop := h.run(t, withSink)
	h.produce(t, evs[:lostAt]...)
	h.waitVerified(t, h.db, 30*time.Second)
	r := h.produceAt(t, lost)
	h.waitCommitted(t, projector.DefaultGroup, r)
	if !sink.lost.Load() {
		t.Fatal("the event was committed without passing the losing sink")
	}
	// A fresh projector reads the incident's state back from the table,
	// one version behind the log.
	stop()
	_, reg := h.runWithRegistry(t, withSink)
	h.produce(t, evs[lostAt+1:]...)
	h.waitVerified(t, h.db, 30*time.Second)
	if got := gauge(t, reg, "incidentd_projector_gaps_healed_total"); got < 1 {
		t.Errorf("gaps healed = %v, want at least 1", got)
	}
	if got := gauge(t, reg, "incidentd_projector_version_gaps_total"); got != 0 {
		t.Errorf("gaps left unhealed = %v, want 0", got)
	}
}
