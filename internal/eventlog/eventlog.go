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

	"github.com/incidentd/incidentd/internal/kafka"
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
