package projector

import (
	"strings"

	"github.com/incidentd/incidentd/readmodel"
)

// The projector's own statements: its position, the inserts that fill the
// read model's tables, the state it reads back, and the rebuild's swap.
// The tables themselves, their columns and every query of the dashboard
// are defined by package readmodel (readmodel/sql.go). internal/chsql runs
// every statement of both files on ClickHouse 18.16 and on a current
// server (chDB); the rules they keep are in readmodel/sql.go.

// Names of the projector's own table and of a rebuild's tables.
const (
	OffsetsTable  = "projector_offsets"
	RebuildSuffix = "_rebuild"
	RetiredSuffix = "_retired"
)

// SQLCreateOffsets holds how far the tables of this database are: per
// consumer group and partition of the events topic, the next offset to
// project, written after the rows of everything before it are stored. A
// projector resumes from here, not from the group's offsets in Kafka,
// which outlive the tables (a dropped or new database, a restored backup).
func SQLCreateOffsets(db string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + "." + OffsetsTable + ` (
	consumer_group String,
	topic String,
	part UInt32,
	next_offset Int64,
	stored_ms Int64
) ENGINE = ReplacingMergeTree(next_offset) ORDER BY (consumer_group, topic, part)`
}

// SQLInsertOffsets records positions (a native batch of its columns).
func SQLInsertOffsets(db string) string {
	return "INSERT INTO " + db + "." + OffsetsTable + " (consumer_group, topic, part, next_offset, stored_ms)"
}

// SQLStoredOffsets is the position of a group on a topic, per partition:
// the highest offset recorded (rows are stored up to it).
func SQLStoredOffsets(db string) string {
	return "SELECT part, max(next_offset) FROM " + db + "." + OffsetsTable +
		" WHERE consumer_group = ? AND topic = ? GROUP BY part"
}

// SQLAnyEvent returns a row if the events table has any.
func SQLAnyEvent(t readmodel.Tables) string {
	return "SELECT incident FROM " + t.EventsName() + " LIMIT 1"
}

// SQLDropTable drops a table if it is there.
func SQLDropTable(db, table string) string {
	return "DROP TABLE IF EXISTS " + db + "." + table
}

// SQLSwap moves the rebuilt tables in and the live ones out in one
// statement. On 18.16 (Ordinary database engine) the pairs are renamed one
// after the other under a lock; a current server with the Atomic engine
// would use EXCHANGE TABLES, which swaps each pair atomically.
func SQLSwap(live, fresh, retired readmodel.Tables) string {
	db := live.Database
	return "RENAME TABLE " +
		db + "." + live.Events + " TO " + db + "." + retired.Events + ", " +
		db + "." + fresh.Events + " TO " + db + "." + live.Events + ", " +
		db + "." + live.Incidents + " TO " + db + "." + retired.Incidents + ", " +
		db + "." + fresh.Incidents + " TO " + db + "." + live.Incidents
}

// SQLMerges starts or stops the background merges of one table. A RENAME
// on 18.16 waits until the running merges of the tables it renames end (a
// freshly filled table merges for a while), so a rebuild stops them for
// its swap. Stopping cancels the running merges; the lock lives in server
// memory, keyed by the table, not its name, and is gone at a restart.
func SQLMerges(start bool, db, table string) string {
	verb := "STOP"
	if start {
		verb = "START"
	}
	return "SYSTEM " + verb + " MERGES " + db + "." + table
}

// --- ingest ---

// SQLInsertEvents inserts event rows (a native batch of
// readmodel.EventColumns).
func SQLInsertEvents(t readmodel.Tables) string {
	return "INSERT INTO " + t.EventsName() + " (" + strings.Join(readmodel.EventColumns, ", ") + ")"
}

// SQLInsertIncidents inserts state rows (a native batch of
// readmodel.IncidentColumns).
func SQLInsertIncidents(t readmodel.Tables) string {
	return "INSERT INTO " + t.IncidentsName() + " (" + strings.Join(readmodel.IncidentColumns, ", ") + ")"
}

// SQLLatestStates loads the latest state row of the incidents in a set
// (bound as clickhouse.GroupSet, which formats as a parenthesised list). It
// does not know the tenant (a rejection may carry another tenant's), so it
// scans the incidents table; the projector asks only on a cache miss.
func SQLLatestStates(t readmodel.Tables) string {
	return "SELECT " + strings.Join(readmodel.IncidentColumns, ", ") + " FROM " + t.IncidentsName() +
		" WHERE incident IN ? ORDER BY incident, version DESC LIMIT 1 BY incident"
}

// SQLEventVersions lists every (incident, tenant, version) of the event
// rows with its row count (above 1 until a merge deduplicates), for
// comparing the table with the log (incidentd verify clickhouse).
func SQLEventVersions(t readmodel.Tables) string {
	return "SELECT incident, tenant, version, count() FROM " + t.EventsName() + " GROUP BY incident, tenant, version"
}
