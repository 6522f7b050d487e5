package projector_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// encode turns events into records of the events topic.
func (h *harness) records(tb testing.TB, events []incident.Event) []*kgo.Record {
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		v, err := wire.EncodeEvent(e)
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = &kgo.Record{Topic: h.kcfg.Topics().Events, Key: []byte(e.Incident), Value: v}
	}
	return recs
}

// BenchmarkRebuild replays an events topic of realistic events (made by
// incident.Decide) into fresh tables and swaps them in, three times per
// op, and reports the median: events/s counts the events replayed per
// second of rebuild, rows/s the rows stored in both tables (events, and
// the incident states of each batch). Each rebuild is logged (-v).
func BenchmarkRebuild(b *testing.B) {
	const events = 300000
	h := newHarness(b)
	w := newWorld(5, "acme", "globex", "initech", "umbrella")
	evs := w.run(events)
	recs := h.records(b, evs)
	for i := 0; i < len(recs); i += 20000 {
		testenv.Produce(b, h.prod, recs[i:min(i+20000, len(recs))]...)
	}
	// Notices (rejections in no incident's history) are in the topic but
	// no view stores them.
	stored := int64(0)
	for _, e := range evs {
		if !e.Notice() {
			stored++
		}
	}
	ctx := context.Background()
	var eventRates, rowRates []float64
	for b.Loop() {
		for range 3 {
			p, err := projector.Rebuild(ctx, projector.RebuildConfig{Kafka: h.kcfg, Database: h.db}, h.conn, nil)
			if err != nil {
				b.Fatal(err)
			}
			if p.Events != stored {
				b.Fatalf("rebuilt %d events, want %d", p.Events, stored)
			}
			eventRates = append(eventRates, float64(p.Events)/p.Elapsed.Seconds())
			rowRates = append(rowRates, float64(p.Events+p.States)/p.Elapsed.Seconds())
			b.Logf("rebuild of %d events and %d states in %v: %.0f rows/s", p.Events, p.States, p.Elapsed, rowRates[len(rowRates)-1])
		}
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	b.ReportMetric(median(eventRates), "events/s")
	b.ReportMetric(median(rowRates), "rows/s")
}

// BenchmarkVisibleLatency measures, at a steady background load, how long
// an event takes from the broker's acknowledgement to a visible row: a
// probe incident is declared every 100ms (its own tenant), and a poller
// lists the probe tenant every 10ms, noting when each probe shows. One run
// is 100 probes over about 10 s whatever b.N is, so the percentiles mean
// something; the default load is 2,000 events/s of realistic commands.
func BenchmarkVisibleLatency(b *testing.B) {
	const (
		loadPerSecond = 2000
		probes        = 100
		probeEvery    = 100 * time.Millisecond
	)
	h := newHarness(b)
	if err := projector.Migrate(context.Background(), h.conn, h.db); err != nil {
		b.Fatal(err)
	}
	h.run(b, func(c *projector.Config) { c.FlushInterval = projector.DefaultFlushInterval })
	q := readmodel.NewQueries(h.conn, h.db)
	w := newWorld(6, "acme", "globex")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// Background load, in 100ms slices.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_ = h.prod.ProduceSync(ctx, h.records(b, w.run(loadPerSecond/10))...).FirstErr()
		}
	}()

	var mu sync.Mutex
	acked := map[string]time.Time{}
	var latencies []time.Duration
	// The poller.
	wg.Add(1)
	go func() {
		defer wg.Done()
		seen := map[string]bool{}
		for ctx.Err() == nil {
			p, err := q.List(ctx, "probe", readmodel.ListQuery{Limit: readmodel.MaxLimit, Sort: readmodel.SortNewest})
			now := time.Now()
			if err == nil {
				mu.Lock()
				for _, s := range p.Incidents {
					if a, ok := acked[s.Incident]; ok && !seen[s.Incident] {
						seen[s.Incident] = true
						latencies = append(latencies, now.Sub(a))
					}
				}
				mu.Unlock()
			}
			time.Sleep(10 * time.Millisecond) // polling interval of the measurement
		}
	}()

	for b.Loop() {
		for i := range probes {
			id := fmt.Sprintf("probe-%d-%d", b.N, i)
			e := incident.Event{Incident: id, Version: 1, Command: "c-" + id, Tenant: "probe", At: time.Now().UTC(),
				Kind: incident.Declared, Title: id, Severity: "SEV1", Status: incident.StatusOpen,
				Source: incident.Source{Kind: incident.FromDashboard}}
			if err := h.prod.ProduceSync(ctx, h.records(b, []incident.Event{e})...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			mu.Lock()
			acked[id] = time.Now()
			mu.Unlock()
			time.Sleep(probeEvery) // pacing of the probes, not synchronisation
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n, want := len(latencies), len(acked)
		mu.Unlock()
		if n == want {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d probes visible after 30s", n, want)
		}
		time.Sleep(10 * time.Millisecond) // polling, bounded by the deadline
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	p := func(f float64) float64 { return latencies[int(f*float64(len(latencies)-1))].Seconds() * 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Milliseconds()), "max-ms")
}
