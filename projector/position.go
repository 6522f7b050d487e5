package projector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/readmodel"
)

// This file keeps the projector's position with its tables. The consumer
// group's committed offsets live in Kafka and outlive the tables: a
// dropped database, a new ClickHouse server or a backup restored from
// before them leaves the group's offsets past rows the tables do not hold,
// and resuming there skips those events for good (no error, version gaps
// for the incidents that get later events, nothing for the others). So
// after each batch's rows are stored, the next offsets are written to
// projector_offsets in the same database, and on every assignment the
// projector starts each partition from there when the group's offset is
// further on. The group's offsets are still committed, after, for lag
// monitoring and tools.

// Migrate creates the read model's tables in database and brings their
// schema up to date (readmodel.Migrate), and creates the projector's own
// position table beside them. It is idempotent and safe to run from
// several processes at once.
func Migrate(ctx context.Context, conn driver.Conn, database string) error {
	if err := readmodel.Migrate(ctx, conn, database); err != nil {
		return err
	}
	if err := conn.Exec(ctx, SQLCreateOffsets(database)); err != nil {
		return fmt.Errorf("projector: migrate: %w", err)
	}
	return nil
}

// storeOffsets records that the rows of every record of batch are stored.
func storeOffsets(ctx context.Context, conn driver.Conn, database, group string, batch []*kgo.Record) error {
	type key struct {
		topic string
		part  int32
	}
	next := map[key]int64{}
	for _, r := range batch {
		k := key{r.Topic, r.Partition}
		next[k] = max(next[k], r.Offset+1)
	}
	if len(next) == 0 {
		return nil
	}
	var groups, topics []string
	var parts []uint32
	var offsets, at []int64
	now := time.Now().UnixMilli()
	for k, o := range next {
		groups, topics, parts = append(groups, group), append(topics, k.topic), append(parts, uint32(k.part))
		offsets, at = append(offsets, o), append(at, now)
	}
	b, err := conn.PrepareBatch(ctx, SQLInsertOffsets(database))
	if err == nil {
		err = readmodel.AppendColumns(b, []any{groups, topics, parts, offsets, at})
	}
	if err != nil {
		return fmt.Errorf("store offsets: %w", err)
	}
	return nil
}

// storedOffsets returns a group's position on topic, per partition, as the
// tables record it.
func storedOffsets(ctx context.Context, conn driver.Conn, database, group, topic string) (map[int32]int64, error) {
	rows, err := conn.Query(ctx, SQLStoredOffsets(database), group, topic)
	if err != nil {
		return nil, fmt.Errorf("load offsets: %w", err)
	}
	out := map[int32]int64{}
	for rows.Next() {
		var part uint32
		var off int64
		if err := rows.Scan(&part, &off); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load offsets: %w", err)
		}
		out[int32(part)] = off
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("load offsets: %w", err)
	}
	return out, nil
}

// anyEvent reports whether the live events table holds a row.
func anyEvent(ctx context.Context, conn driver.Conn, database string) (bool, error) {
	rows, err := conn.Query(ctx, SQLAnyEvent(readmodel.LiveTables(database)))
	if err != nil {
		return false, fmt.Errorf("look for events: %w", err)
	}
	found := rows.Next()
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return false, fmt.Errorf("look for events: %w", err)
	}
	return found, nil
}

// adjustOffsets is the group's AdjustFetchOffsetsFn: it moves each newly
// assigned partition back to the tables' position where the group's
// committed offset is further on (or absent). Tables written before
// positions were recorded (none recorded, but rows present) keep the
// group's offsets.
func (p *Projector) adjustOffsets(ctx context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	pl := &pipeline{m: p.m, log: p.log, minBackoff: p.cfg.MinBackoff, maxBackoff: p.cfg.MaxBackoff, status: p.status}
	for topic, parts := range offs {
		var stored map[int32]int64
		var rows bool
		err := pl.retry(ctx, "load offsets", func() error {
			var err error
			if stored, err = storedOffsets(ctx, p.conn, p.cfg.Database, p.cfg.Group, topic); err != nil || len(stored) > 0 {
				return err
			}
			rows, err = anyEvent(ctx, p.conn, p.cfg.Database)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(stored) == 0 && rows {
			continue
		}
		for part, o := range parts {
			at := stored[part] // 0: nothing of the partition stored
			committed := o.EpochOffset().Offset
			if committed >= 0 && committed <= at {
				continue
			}
			parts[part] = kgo.NewOffset().At(at)
			if committed >= 0 {
				p.log.Warn("the tables are behind the group's committed offset; projecting from the tables' position",
					"topic", topic, "partition", part, "group_offset", committed, "tables_offset", at)
			}
		}
	}
	return offs, nil
}
