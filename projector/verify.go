package projector

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/incident"
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
	if err := validIdent(database); err != nil {
		return nil, fmt.Errorf("projector: database: %w", err)
	}
	rows, err := conn.Query(ctx, sqlEventVersions(liveTables(database)))
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

// StoredState is s as the incidents table stores and returns it: times
// to the millisecond in UTC, Recent dropped. A fold of the log compares
// equal to the row read back (ClickHouseSink.Latest) only after this.
func StoredState(s incident.State) incident.State {
	b := newStateBlock(1)
	b.add(s)
	r := stateRow{
		incident: b.incident[0], tenant: b.tenant[0], title: b.title[0], severity: b.severity[0], status: b.status[0],
		reporter: b.reporter[0], commander: b.commander[0], assignee: b.assignee[0],
		srcKind: b.srcKind[0], srcTeam: b.srcTeam[0], srcChannel: b.srcChannel[0], srcThread: b.srcThread[0],
		cardChannel: b.cardChannel[0], cardTS: b.cardTS[0], version: b.version[0],
		declared: b.declared[0], impact: b.impact[0], acked: b.acked[0], mitigated: b.mitigated[0],
		resolved: b.resolved[0], updated: b.updated[0], notes: b.notes[0], pins: b.pins[0],
	}
	return r.state()
}
