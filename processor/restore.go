package processor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
)

// restoreBatch bounds the changelog records per Pebble commit of a
// restore, so memory stays flat however long the changelog is. It keeps a
// batch under half of Pebble's memtable: larger batches are held whole in
// memory until flushed.
const restoreBatch = 2000

// restoreFetchBytes bounds one changelog fetch of a restore.
const restoreFetchBytes = 2 << 20

// restorer brings newly assigned partitions' state up to date from the
// changelog, from each partition's Pebble checkpoint onward.
type restorer struct {
	p      *Processor
	store  *Store
	cl     *kgo.Client // the session's client, for listing offsets
	logger *slog.Logger
}

// restorePending restores every owned partition not yet restored. A
// partition revoked (or revoked and assigned again) meanwhile stays
// pending if it is owned again.
func (r *restorer) restorePending(ctx context.Context) error {
	p := r.p
	p.mu.Lock()
	parts := maps.Clone(p.pending)
	p.mu.Unlock()
	if len(parts) == 0 {
		return nil
	}
	start := time.Now()
	// The restore writes Pebble behind the cache's back.
	defer r.p.cache.reset()
	defer clear(r.p.expiryFloor)
	n, err := r.restore(ctx, parts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	p.metrics.restoreSeconds.Observe(time.Since(start).Seconds())
	p.mu.Lock()
	for part, seq := range parts {
		if p.pending[part] == seq {
			delete(p.pending, part)
		}
	}
	ready := p.joined && len(p.pending) == 0
	p.mu.Unlock()
	if ready {
		p.metrics.ready.Set(1)
	}
	r.logger.Info("partitions restored", "partitions", len(parts), "records", n, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// restore reads each partition's changelog from its checkpoint+1 up to the
// last stable offset (read committed) into Pebble, and returns how many
// state records it wrote.
func (r *restorer) restore(ctx context.Context, parts map[int32]uint64) (int, error) {
	topic := r.p.topics.Changelog
	adm := kadm.NewClient(r.cl)
	var ends kadm.ListedOffsets
	for waited := false; ; waited = true {
		var behind []int32
		var err error
		if ends, behind, err = r.stableEnds(ctx, adm, parts); err != nil {
			return 0, err
		}
		if len(behind) == 0 {
			break
		}
		// Our last commit's markers are still being written (Apache
		// Kafka acknowledges EndTxn first), or an open transaction
		// holds the stable offset: the checkpoint's record is in the
		// log but not yet readable. Wait for it rather than take the
		// log for lost and replay it over newer states.
		if !waited {
			r.logger.Info("changelog not yet stable up to the checkpoint; waiting", "partitions", behind)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	from := map[int32]kgo.Offset{}
	target := map[int32]int64{}
	for part := range parts {
		lo, _ := ends.Lookup(topic, part)
		cp, has, err := r.store.Checkpoint(part)
		if err != nil {
			return 0, fatal(err)
		}
		start := int64(0)
		if has {
			start = cp + 1
		}
		if start > lo.Offset {
			// The log is behind our checkpoint: its data was lost or the
			// topic recreated. Replay all of it over what we have.
			r.logger.Warn("checkpoint ahead of the changelog; restoring the partition from the start",
				"partition", part, "offset", cp, "changelog_end", lo.Offset)
			start = 0
		}
		if start >= lo.Offset {
			continue
		}
		from[part] = kgo.NewOffset().At(start)
		target[part] = lo.Offset
		r.p.metrics.restoreLeft.WithLabelValues(strconv.Itoa(int(part))).Set(float64(lo.Offset - start))
	}
	if len(from) == 0 {
		return 0, nil
	}
	return r.consume(ctx, from, target)
}

// stableEnds lists the changelog's last stable offsets and returns them
// with the partitions of parts whose checkpointed record is in the log
// (below the high watermark) but not yet below the last stable offset.
func (r *restorer) stableEnds(ctx context.Context, adm *kadm.Client, parts map[int32]uint64) (kadm.ListedOffsets, []int32, error) {
	topic := r.p.topics.Changelog
	lsos, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = lsos.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("processor: restore: list changelog stable offsets: %w", err)
	}
	hws, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = hws.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("processor: restore: list changelog end offsets: %w", err)
	}
	var behind []int32
	for part := range parts {
		lso, ok := lsos.Lookup(topic, part)
		hw, ok2 := hws.Lookup(topic, part)
		if !ok || !ok2 {
			return nil, nil, fmt.Errorf("processor: restore partition %d: changelog %s has no such partition", part, topic)
		}
		cp, has, err := r.store.Checkpoint(part)
		if err != nil {
			return nil, nil, fatal(err)
		}
		if has && cp >= lso.Offset && cp < hw.Offset {
			behind = append(behind, part)
		}
	}
	return lsos, behind, nil
}

func (r *restorer) consume(ctx context.Context, from map[int32]kgo.Offset, target map[int32]int64) (int, error) {
	topic := r.p.topics.Changelog
	cl, err := kafka.NewClient(r.p.cfg.Kafka, r.logger,
		kgo.ClientID("incidentd-processor-restore"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers are kept so the restore sees the last
		// offset below the stable end, which is always a marker.
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
		// Small fetches keep a restore's memory flat: a fetch is decoded
		// into records all at once, and one more is buffered meanwhile.
		kgo.FetchMaxBytes(restoreFetchBytes),
		kgo.FetchMaxPartitionBytes(restoreFetchBytes/4),
	)
	if err != nil {
		return 0, fmt.Errorf("processor: restore: new client: %w", err)
	}
	defer cl.Close()

	w := r.store.newBatch()
	defer func() { w.discard() }()
	last := map[int32]int64{}
	n := 0
	flush := func() error {
		for part, off := range last {
			if err := w.setCheckpoint(part, off); err != nil {
				return fatal(fmt.Errorf("processor: restore partition %d: %w", part, err))
			}
		}
		if err := w.commit(); err != nil {
			return fatal(err)
		}
		w = r.store.newBatch()
		return nil
	}
	for len(target) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return n, err
		}
		fs.EachError(func(t string, part int32, err error) {
			r.logger.Warn("restore fetch error", "topic", t, "partition", part, "err", err)
		})
		var werr error
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := target[rec.Partition]
			if !ok || werr != nil {
				return
			}
			batch := !rec.Attrs.IsControl() && bytes.HasPrefix(rec.Key, []byte(outcomesKeyPrefix))
			if batch && rec.Value == nil {
				// A tombstone undoes a batch the store may hold only in
				// w: write w first.
				if werr = flush(); werr != nil {
					return
				}
			}
			last[rec.Partition] = rec.Offset
			if !rec.Attrs.IsControl() && len(rec.Key) > 0 {
				var err error
				switch {
				case batch && rec.Value == nil:
					err = r.store.forgetBatch(w, rec.Partition, rec.Key)
					n++
				case batch:
					if err = w.restoreOutcomes(rec.Partition, rec.Key, rec.Value); errors.Is(err, errBadOutcomes) {
						r.logger.Warn("restore: outcomes record skipped", "partition", rec.Partition, "offset", rec.Offset, "err", err)
						err = nil
					}
					n++
				case rec.Value != nil:
					err = w.setState(rec.Partition, string(rec.Key), rec.Value)
					n++
				}
				if err != nil {
					werr = fatal(fmt.Errorf("processor: restore partition %d: %w", rec.Partition, err))
					return
				}
			}
			if rec.Offset >= end-1 {
				delete(target, rec.Partition)
				r.p.metrics.restoreLeft.DeleteLabelValues(strconv.Itoa(int(rec.Partition)))
			}
			if w.len() >= restoreBatch {
				werr = flush()
			}
		})
		if werr != nil {
			return n, werr
		}
		for part, end := range target {
			if off, ok := last[part]; ok {
				r.p.metrics.restoreLeft.WithLabelValues(strconv.Itoa(int(part))).Set(float64(end - off - 1))
			}
		}
		if len(target) == 0 {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	r.p.metrics.restoreRecords.Add(float64(n))
	return n, nil
}
