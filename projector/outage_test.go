package projector_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/incidentd/incidentd/incident"

	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// gauge sums a metric's samples in reg.
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			}
		}
	}
	return sum
}

// count returns count() of a table after merging its parts, i.e. the rows
// that really are distinct by the table's key.
func count(t testing.TB, h *harness, table string) uint64 {
	t.Helper()
	ctx := context.Background()
	if err := h.conn.Exec(ctx, "OPTIMIZE TABLE "+h.db+"."+table+" FINAL"); err != nil {
		t.Fatal(err)
	}
	var n uint64
	if err := h.conn.QueryRow(ctx, "SELECT count() FROM "+h.db+"."+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClickHouseKilled: ClickHouse is killed while events keep coming; the
// projector says so, reports the lag, keeps its offsets, and once
// ClickHouse is back everything is projected exactly once.
func TestClickHouseKilled(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(3, "acme", "globex")
	var mu sync.Mutex
	var status []string
	_, reg := h.runWithRegistry(t, func(c *projector.Config) {
		c.Status = func(msg string) { mu.Lock(); status = append(status, msg); mu.Unlock() }
		c.MinBackoff = 20 * time.Millisecond
	})
	q := readmodel.NewQueries(h.conn, h.db)
	h.produce(t, w.run(400)...)
	waitProjected(t, q, w, 30*time.Second)

	h.produce(t, w.run(100)...)
	h.ch.Kill(t)
	h.produce(t, w.run(300)...)
	testenv.Eventually(t, 20*time.Second, "projector reports ClickHouse down and the lag", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(status) == 0 || !strings.Contains(status[len(status)-1], "not reachable") {
			return fmt.Errorf("status %q", status)
		}
		if lag := gauge(t, reg, "incidentd_projector_lag_records"); lag <= 0 {
			return fmt.Errorf("lag %v", lag)
		}
		return nil
	})
	if up := gauge(t, reg, "incidentd_projector_clickhouse_up"); up != 0 {
		t.Fatalf("clickhouse_up = %v while killed", up)
	}
	h.ch.Start(t)
	h.produce(t, w.run(200)...)
	waitProjected(t, q, w, 30*time.Second)
	checkProjection(t, q, w)
	h.waitVerified(t, h.db, 10*time.Second)

	if got, want := count(t, h, "events"), uint64(w.projected()); got != want {
		t.Errorf("events rows = %d, want %d (one per event)", got, want)
	}
	declared := 0
	for _, s := range w.states {
		if s.Declared {
			declared++
		}
	}
	if got := count(t, h, "incidents"); got != uint64(declared) {
		t.Errorf("incident rows = %d, want %d (one per declared incident)", got, declared)
	}
	mu.Lock()
	defer mu.Unlock()
	if last := status[len(status)-1]; !strings.Contains(last, "reachable again") {
		t.Errorf("last status %q, want it to say ClickHouse is reachable again", last)
	}
}

// TestVersionGapReported: an event whose version skips past the projected
// state's, with the missing version nowhere in the log either (so nothing
// can heal it), is reported (metric) and not folded over; the rest goes on.
func TestVersionGapReported(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	_, reg := h.runWithRegistry(t, func(c *projector.Config) { c.MinBackoff = 20 * time.Millisecond })
	w := newWorld(7, "acme")
	var x []incident.Event
	for len(x) < 3 {
		x = nil
		evs := w.run(50)
		for _, e := range evs {
			if e.Incident == evs[0].Incident {
				x = append(x, e)
			}
		}
	}
	id := x[0].Incident
	var rest []incident.Event
	for _, e := range w.events {
		if e.Incident != id {
			rest = append(rest, e)
		}
	}
	h.produce(t, x[0])
	h.produce(t, x[2:]...) // x[1] never comes
	h.produce(t, rest...)
	q := readmodel.NewQueries(h.conn, h.db)
	want := w.states[id]
	delete(w.states, id)
	waitProjected(t, q, w, 30*time.Second)
	testenv.Eventually(t, 20*time.Second, "gap reported", func() error {
		if g := gauge(t, reg, "incidentd_projector_version_gaps_total"); g < 1 {
			return fmt.Errorf("gaps %v", g)
		}
		return nil
	})
	v, err := q.Version(context.Background(), want.Tenant, id)
	if err != nil || v != x[0].Version {
		t.Fatalf("%s at version %d (%v), want it to stay at %d", id, v, err, x[0].Version)
	}
	h.waitVerified(t, h.db, 10*time.Second, id)
}

// TestKafkaDownAtStart: a projector started while the broker is down (a
// restart in progress) waits for it instead of exiting, then projects.
func TestKafkaDownAtStart(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	h.logs = &logRecorder{}
	h.k.Stop()
	h.run(t, func(c *projector.Config) { c.MinBackoff = 20 * time.Millisecond })
	testenv.Eventually(t, 60*time.Second, "the projector finds Kafka down", func() error {
		if !h.logs.logged("kafka unreachable, retrying") {
			return errors.New("not yet")
		}
		return nil
	})
	h.k.Restart(t) // without a data directory: the topics are gone, the projector makes them
	w := newWorld(9, "acme")
	testenv.Eventually(t, 20*time.Second, "topics created by the projector", func() error {
		td, err := kadm.NewClient(h.prod).ListTopics(context.Background(), h.kcfg.Topics().Events)
		if err == nil {
			err = td.Error()
		}
		return err
	})
	h.produce(t, w.run(100)...)
	h.waitVerified(t, h.db, 30*time.Second)
}
