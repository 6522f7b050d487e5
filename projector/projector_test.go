package projector_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// consumeDeadLetters reads the dead-letter topic until n records arrived.
func (h *harness) consumeDeadLetters(t testing.TB, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.kcfg.Brokers...), kgo.ConsumeTopics(h.kcfg.Topics().DeadLetters),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("dead letters: got %d, want %d", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TestProjectionEqualsFold: after a random stream with duplicated records,
// a replay of its first half and projector restarts in the middle, every
// incident's projection equals the fold of its events, its timeline is its
// events as its tenant sees them, and an undecodable record is dead-lettered
// while everything around it is projected. Two projectors share the work
// for a while, then one leaves: partitions move, states are read back.
func TestProjectionEqualsFold(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(1, "acme", "globex", "initech")
	first := w.run(900)
	stop := h.run(t, nil)

	// Every 7th event goes twice; then a record nobody can decode.
	var dup []incident.Event
	for i, e := range first {
		dup = append(dup, e)
		if i%7 == 0 {
			dup = append(dup, e)
		}
	}
	h.produce(t, dup...)
	garbage := &kgo.Record{Topic: h.kcfg.Topics().Events, Key: []byte("in-0001"), Value: []byte(`{"v":1,"type":"event","data":{"incident":`)}
	testenv.Produce(t, h.prod, garbage)
	q := readmodel.NewQueries(h.conn, h.db)
	waitProjected(t, q, w, 30*time.Second)

	// Restart as two projectors of one group, replay the first half, go
	// on; then one of them stops and the other takes its partitions over.
	stop()
	second := w.run(600)
	stopA := h.run(t, nil)
	h.run(t, nil)
	h.produce(t, first[:len(first)/2]...)
	h.produce(t, second...)
	waitProjected(t, q, w, 30*time.Second)
	stopA()
	h.produce(t, w.run(300)...)
	waitProjected(t, q, w, 30*time.Second)
	checkProjection(t, q, w)
	h.waitVerified(t, h.db, 10*time.Second)

	dl := h.consumeDeadLetters(t, 1)
	if len(dl) != 1 || string(dl[0].Value) != string(garbage.Value) || string(dl[0].Key) != "in-0001" {
		t.Fatalf("dead letters = %v, want the garbage record", dl)
	}
	if got := header(dl[0], projector.HeaderKind); got != "undecodable" {
		t.Errorf("dead letter kind %q, want undecodable", got)
	}
	if got := header(dl[0], projector.HeaderReason); !strings.Contains(got, "malformed") {
		t.Errorf("dead letter reason %q, want it to say malformed", got)
	}
}

// refusingSink is the real ClickHouse sink, except that ClickHouse
// "refuses" the rows of one incident, as it would rows it cannot store.
type refusingSink struct {
	*projector.ClickHouseSink
	refuse string
	mu     sync.Mutex
	calls  int
}

func (s *refusingSink) Insert(ctx context.Context, events []incident.Event, states []incident.State) error {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	for _, e := range events {
		if e.Incident == s.refuse {
			return fmt.Errorf("insert: %w", &clickhouse.Exception{Code: 27, Name: "DB::Exception", Message: "Cannot parse input"})
		}
	}
	return s.ClickHouseSink.Insert(ctx, events, states)
}

func TestRefusedRowsAreDeadLettered(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(2, "acme", "globex")
	evs := w.run(300)
	victim := evs[0].Incident
	var victimEvents int
	for _, e := range evs {
		if e.Incident == victim && !e.Notice() { // notices are not projected
			victimEvents++
		}
	}
	sink := &refusingSink{ClickHouseSink: projector.NewClickHouseSink(h.conn, h.db), refuse: victim}
	h.run(t, func(c *projector.Config) { c.Sink = sink })
	h.produce(t, evs...)
	dl := h.consumeDeadLetters(t, victimEvents)
	for _, r := range dl {
		if string(r.Key) != victim || header(r, projector.HeaderKind) != "refused" ||
			!strings.Contains(header(r, projector.HeaderReason), "Cannot parse input") {
			t.Fatalf("dead letter key %q kind %q reason %q, want %s refused with the reason", r.Key,
				header(r, projector.HeaderKind), header(r, projector.HeaderReason), victim)
		}
	}
	// Every other incident is projected.
	q := readmodel.NewQueries(h.conn, h.db)
	ctx := context.Background()
	delete(w.states, victim)
	waitProjected(t, q, w, 30*time.Second)
	if _, err := q.Get(ctx, "acme", victim); !errors.Is(err, readmodel.ErrNotFound) {
		t.Fatalf("refused incident visible: %v", err)
	}
	h.waitVerified(t, h.db, 10*time.Second, victim)
}
