package verify

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// ClickHouse reads the projector's live tables in database, then the log
// (ReadLog with cfg), and compares them: per incident, the event versions
// present (each version of the log once, under its event's tenant, and
// nothing else) and the latest incidents row (the fold of the log, as the
// table stores it; none for an incident never declared). It returns the
// log and the differences, sorted by incident.
//
// The tables are read first: while events keep coming, the log read after
// them holds everything they can legitimately hold, so a table ahead of
// the log is a real difference; a table behind it may only be catching up
// (compare again).
func ClickHouse(ctx context.Context, conn driver.Conn, database string, cfg kafka.Config, logger *slog.Logger) (*Log, []Difference, error) {
	stored, err := projector.EventVersions(ctx, conn, database)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	type key struct {
		tenant  string
		version uint64
	}
	have := map[string]map[key]bool{}
	var withRows []string
	for _, e := range stored {
		if have[e.Incident] == nil {
			have[e.Incident] = map[key]bool{}
			withRows = append(withRows, e.Incident)
		}
		have[e.Incident][key{e.Tenant, e.Version}] = true
	}
	// Every incidents row follows the event rows it folds (the sink
	// inserts events first), so these are all the rows there are.
	states, err := projector.NewClickHouseSink(conn, database).Latest(ctx, withRows)
	if err != nil {
		return nil, nil, fmt.Errorf("verify: %w", err)
	}
	l, err := ReadLog(ctx, cfg, logger)
	if err != nil {
		return nil, nil, err
	}
	ids := l.IDs()
	for id := range have {
		if l.Incidents[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)

	var out []Difference
	for _, id := range ids {
		h := l.Incidents[id]
		if h == nil {
			out = append(out, Difference{id, fmt.Sprintf("%d event versions in ClickHouse, none in the log", len(have[id]))})
			continue
		}
		var missing, wrongTenant, extra []uint64
		rows := have[id]
		seen := map[uint64]bool{}
		for _, e := range h.Events {
			seen[e.Version] = true
			if rows[key{e.Tenant, e.Version}] {
				continue
			}
			missing = append(missing, e.Version)
			for k := range rows {
				if k.version == e.Version {
					wrongTenant = append(wrongTenant, e.Version)
					break
				}
			}
		}
		for k := range rows {
			if !seen[k.version] {
				extra = append(extra, k.version)
			}
		}
		slices.Sort(extra)
		extra = slices.Compact(extra)
		if len(missing) > 0 {
			out = append(out, Difference{id, fmt.Sprintf("event versions %s missing from ClickHouse (log has %s)",
				ranges(missing), ranges(h.Versions()))})
		}
		if len(wrongTenant) > 0 {
			out = append(out, Difference{id, fmt.Sprintf("event versions %s stored under another tenant", ranges(wrongTenant))})
		}
		if len(extra) > 0 {
			out = append(out, Difference{id, fmt.Sprintf("event versions %s in ClickHouse that the log does not hold", ranges(extra))})
		}
		got, ok := states[id]
		switch {
		case !h.State.Declared && ok:
			out = append(out, Difference{id, fmt.Sprintf("incidents row at version %d for an incident the log never declared", got.Version)})
		case h.State.Declared && !ok:
			out = append(out, Difference{id, fmt.Sprintf("no incidents row; the log folds to version %d", h.State.Version)})
		case h.State.Declared:
			if want := readmodel.StoredState(h.State); !reflect.DeepEqual(got, want) {
				out = append(out, Difference{id, "incidents row differs from the fold of the log: " + stateDiff(got, want)})
			}
		}
	}
	return l, out, nil
}

// stateDiff names the fields of got that differ from want.
func stateDiff(got, want incident.State) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	var s string
	for i := range gv.NumField() {
		if reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %v (log: %v)", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
	}
	return s
}
