package projector_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/projector"
)

// failingSink fails every insert while failing is set, as ClickHouse does
// while it is unreachable, and counts the attempts.
type failingSink struct {
	projector.Sink
	failing  atomic.Bool
	attempts atomic.Int64
}

func (s *failingSink) Insert(ctx context.Context, events []incident.Event, states []incident.State) error {
	s.attempts.Add(1)
	if s.failing.Load() {
		return errors.New("dial tcp 127.0.0.1:9000: connect: connection refused")
	}
	return s.Sink.Insert(ctx, events, states)
}

// TestOffsetsOnlyAfterRowsStored: while inserts fail, the projector keeps
// retrying the same batch and commits no offset past what is stored; once
// inserts succeed, the rows are stored and only then the offsets move.
func TestOffsetsOnlyAfterRowsStored(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(31, "acme")
	sink := &failingSink{Sink: projector.NewClickHouseSink(h.conn, h.db)}
	h.run(t, func(c *projector.Config) {
		c.Sink = sink
		c.MinBackoff, c.MaxBackoff = 10*time.Millisecond, 20*time.Millisecond
	})
	h.produce(t, w.run(100)...)
	h.waitVerified(t, h.db, 30*time.Second)
	adm := kadm.NewClient(h.prod)
	committed := func() map[int32]int64 {
		offs, err := adm.FetchOffsets(context.Background(), projector.DefaultGroup)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int32]int64{}
		offs.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
		return out
	}
	var before map[int32]int64
	testenv.Eventually(t, 10*time.Second, "offsets of the stored rows committed", func() error {
		before = committed()
		var sum int64
		for _, o := range before {
			sum += o
		}
		if sum < 100 {
			return fmt.Errorf("committed %v", before)
		}
		return nil
	})

	sink.failing.Store(true)
	h.produce(t, w.run(100)...)
	from := sink.attempts.Load()
	testenv.Eventually(t, 10*time.Second, "inserts retried", func() error {
		if sink.attempts.Load() < from+5 {
			return fmt.Errorf("%d attempts", sink.attempts.Load()-from)
		}
		return nil
	})
	if got := committed(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("offsets moved to %v while no insert succeeded (from %v)", got, before)
	}
	sink.failing.Store(false)
	h.waitVerified(t, h.db, 30*time.Second)
	testenv.Eventually(t, 10*time.Second, "offsets committed after the rows", func() error {
		if got := committed(); fmt.Sprint(got) == fmt.Sprint(before) {
			return fmt.Errorf("offsets still %v", got)
		}
		return nil
	})
}
