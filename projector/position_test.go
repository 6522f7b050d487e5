package projector_test

import (
	"context"
	"testing"
	"time"

	"github.com/incidentd/incidentd/projector"
)

// TestTablesLostGroupKept: the tables are lost (the database dropped, as
// a fresh database, a new ClickHouse server or a restore from an older
// backup also leave them) while the consumer group keeps its committed
// offsets. The projector must not resume at the group's offsets, which
// would silently skip every event before them: the tables say how far
// they are, and it projects from there (here: the whole log again).
func TestTablesLostGroupKept(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(41, "acme", "globex")
	stop := h.run(t, nil)
	first := w.run(500)
	h.produce(t, first...)
	h.waitVerified(t, h.db, 30*time.Second)
	h.waitGroupCommitted(t, projector.DefaultGroup, int64(len(first)))
	stop()
	if err := h.conn.Exec(context.Background(), "DROP DATABASE "+h.db); err != nil {
		t.Fatal(err)
	}
	h.run(t, nil)
	h.produce(t, w.run(300)...)
	h.waitVerified(t, h.db, 30*time.Second)
}

// TestTablesWithoutPositionKeepGroupOffsets: tables written before the
// projector recorded its position (rows, but no projector_offsets) keep
// the group's committed offsets: an upgrade does not replay the log.
func TestTablesWithoutPositionKeepGroupOffsets(t *testing.T) {
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	w := newWorld(43, "acme")
	stop := h.run(t, nil)
	first := w.run(300)
	h.produce(t, first...)
	h.waitVerified(t, h.db, 30*time.Second)
	h.waitGroupCommitted(t, projector.DefaultGroup, int64(len(first)))
	stop()
	if err := h.conn.Exec(context.Background(), "DROP TABLE "+h.db+".projector_offsets"); err != nil {
		t.Fatal(err)
	}
	_, reg := h.runWithRegistry(t, nil)
	more := w.run(100)
	h.produce(t, more...)
	h.waitVerified(t, h.db, 30*time.Second)
	if got := gauge(t, reg, "incidentd_projector_rows_inserted_total"); got < float64(len(more)) || got >= float64(len(first)) {
		t.Errorf("rows inserted after the restart = %v, want the %d new events and their states, not a replay", got, len(more))
	}
}
