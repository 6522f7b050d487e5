// Package eventlog reads the events topic directly, partition by
// partition, outside any consumer group: read committed, from the start of
// each partition up to a bound. The views use it to heal a version gap from
// the log (the source of truth) and `incidentd verify` to fold the whole
// topic and compare a view with it.
package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// StableEnds returns the last stable offset of every partition of topic:
// the end of what a read-committed reader can see now.
func StableEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("eventlog: list stable offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, nil
}

// Read calls fn, in offset order per partition, for every committed data
// record of topic whose offset is below ends[partition], from the start
// of each partition in ends. It returns when every partition is read to
// its bound, fn fails, or ctx is done. fn is called from one goroutine.
//
// The record at ends[partition]-1 must be one a read-committed reader
// sees (a bound from StableEnds, or one past a record already read), or
// Read waits for it forever.
func Read(ctx context.Context, cfg kafka.Config, logger *slog.Logger, topic string, ends map[int32]int64,
	fn func(*kgo.Record) error) error {
	from := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			from[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(from) == 0 {
		return nil
	}
	cl, err := kafka.NewClient(cfg, logger,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records (commit markers) move the position too: the
		// last one may sit right before the bound.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	defer cl.Close()
	left := len(from)
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("eventlog: fetch %s/%d: %w", topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var err error
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if _, ok := from[fp.Partition]; !ok || err != nil {
				return
			}
			for _, r := range fp.Records {
				if r.Offset >= ends[fp.Partition] {
					break
				}
				if !r.Attrs.IsControl() {
					if err = fn(r); err != nil {
						return
					}
				}
				if r.Offset+1 >= ends[fp.Partition] {
					delete(from, fp.Partition)
					left--
					cl.PauseFetchPartitions(map[string][]int32{topic: {fp.Partition}})
					break
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Gap is an event that skips versions of its incident: the view folding
// it holds version Have, the event is version Got, read at Partition and
// Offset of the events topic.
type Gap struct {
	Incident  string
	Have, Got uint64
	Partition int32
	Offset    int64
}

// Missing reads what a view needs to heal its gaps: for each gap, the
// events of its incident with a version between Have and Got (both
// excluded) that its partition holds before the gap's record, in log
// order. Each partition is read once, from its start up to its last gap;
// the first gap of an incident is the one that counts. Records that do
// not decode are left out (the views dead-letter them on their own path).
func Missing(ctx context.Context, cfg kafka.Config, logger *slog.Logger, topic string, gaps []Gap) ([]incident.Event, error) {
	want := map[string]Gap{}
	ends := map[int32]int64{}
	for _, g := range gaps {
		if _, ok := want[g.Incident]; ok {
			continue
		}
		want[g.Incident] = g
		// One past a record the view has read: a bound Read can reach.
		ends[g.Partition] = max(ends[g.Partition], g.Offset+1)
	}
	var out []incident.Event
	err := Read(ctx, cfg, logger, topic, ends, func(r *kgo.Record) error {
		g, ok := want[string(r.Key)]
		if !ok || r.Partition != g.Partition || r.Offset >= g.Offset {
			return nil
		}
		e, err := wire.DecodeEvent(r.Value)
		if err != nil || e.Incident != g.Incident {
			return nil
		}
		if e.Version > g.Have && e.Version < g.Got {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
