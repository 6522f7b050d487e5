package projector

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/readmodel"
)

// This file is what `incidentd verify clickhouse` (internal/verify) reads
// of the tables to compare them with the events topic.

// StoredEvent is one (incident, tenant, version) of the events table and
// how many rows hold it (more than one until a merge deduplicates them).
type StoredEvent struct {
	Incident, Tenant string
	Version          uint64
	Rows             uint64
}

// EventVersions lists every event version the live events table of
// database holds.
func EventVersions(ctx context.Context, conn driver.Conn, database string) ([]StoredEvent, error) {
	if err := readmodel.ValidIdent(database); err != nil {
		return nil, fmt.Errorf("projector: database: %w", err)
	}
	rows, err := conn.Query(ctx, SQLEventVersions(readmodel.LiveTables(database)))
	if err != nil {
		return nil, fmt.Errorf("projector: event versions: %w", err)
	}
	var out []StoredEvent
	for rows.Next() {
		var e StoredEvent
		if err := rows.Scan(&e.Incident, &e.Tenant, &e.Version, &e.Rows); err != nil {
			rows.Close()
			return nil, fmt.Errorf("projector: event versions: %w", err)
		}
		out = append(out, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("projector: event versions: %w", err)
	}
	return out, nil
}
