package projector

import (
	"fmt"
	"strings"
)

// Every statement the projector and its query layer send to ClickHouse is
// built in this file, so all of it can be extracted and checked against a
// current server (chDB) as well as the 18.16 server CI runs.
//
// Rules the statements keep, because 18.16 and current servers must both
// accept them:
//   - no DateTime64 (times are Int64 milliseconds since the Unix epoch), no
//     LowCardinality, no Nullable, no tuple comparison in WHERE;
//   - INSERTs carry an explicit column list and are sent as native batches,
//     never as Exec with bound parameters (that hangs on 18.16);
//   - "latest version" is picked by LIMIT 1 BY or argMax, never FINAL;
//   - bound parameters are positional "?" formatted by clickhouse-go on the
//     client (18.16 predates server-side parameters); a Go slice formats as
//     an array literal, so "has(?, column)" is used for "any of".
//
// Identifiers (database and table names) are checked by validIdent before
// they are put into a statement.

// tableSet names the tables one projection writes: the live ones or the
// fresh ones a rebuild fills.
type tableSet struct {
	Database  string
	Events    string // one row per event, deduplicated by (incident, version)
	Incidents string // one row per incident and version, latest wins
}

// Live table names.
const (
	eventsTable     = "events"
	incidentsTable  = "incidents"
	migrationsTable = "schema_migrations"
	offsetsTable    = "projector_offsets"
	rebuildSuffix   = "_rebuild"
	retiredSuffix   = "_retired"
)

func liveTables(db string) tableSet {
	return tableSet{Database: db, Events: eventsTable, Incidents: incidentsTable}
}

func (t tableSet) with(suffix string) tableSet {
	return tableSet{Database: t.Database, Events: t.Events + suffix, Incidents: t.Incidents + suffix}
}

func (t tableSet) events() string    { return t.Database + "." + t.Events }
func (t tableSet) incidents() string { return t.Database + "." + t.Incidents }

// validIdent reports whether s can be used unquoted as a database or table
// name.
func validIdent(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("name %q must be 1 to 64 characters", s)
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return fmt.Errorf("name %q: only letters, digits and '_' (not first) are allowed", s)
		}
	}
	return nil
}

// --- schema ---

func sqlCreateDatabase(db string) string {
	return "CREATE DATABASE IF NOT EXISTS " + db
}

func sqlCreateMigrations(db string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + "." + migrationsTable + ` (
	version UInt32,
	name String,
	applied_ms Int64
) ENGINE = ReplacingMergeTree() ORDER BY version`
}

func sqlAppliedMigrations(db string) string {
	return "SELECT DISTINCT version FROM " + db + "." + migrationsTable
}

func sqlInsertMigration(db string) string {
	return "INSERT INTO " + db + "." + migrationsTable + " (version, name, applied_ms)"
}

// sqlCreateOffsets holds how far the tables of this database are: per
// consumer group and partition of the events topic, the next offset to
// project, written after the rows of everything before it are stored. A
// projector resumes from here, not from the group's offsets in Kafka,
// which outlive the tables (a dropped or new database, a restored backup).
func sqlCreateOffsets(db string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + "." + offsetsTable + ` (
	consumer_group String,
	topic String,
	part UInt32,
	next_offset Int64,
	stored_ms Int64
) ENGINE = ReplacingMergeTree(next_offset) ORDER BY (consumer_group, topic, part)`
}

func sqlInsertOffsets(db string) string {
	return "INSERT INTO " + db + "." + offsetsTable + " (consumer_group, topic, part, next_offset, stored_ms)"
}

// sqlStoredOffsets is the position of a group on a topic, per partition:
// the highest offset recorded (rows are stored up to it).
func sqlStoredOffsets(db string) string {
	return "SELECT part, max(next_offset) FROM " + db + "." + offsetsTable +
		" WHERE consumer_group = ? AND topic = ? GROUP BY part"
}

// sqlAnyEvent returns a row if the events table has any.
func sqlAnyEvent(t tableSet) string {
	return "SELECT incident FROM " + t.events() + " LIMIT 1"
}

// eventColumns are the events table's columns in insert and select order.
// Times are milliseconds since the Unix epoch, 0 for "not set"; a current
// server would store DateTime64(3, 'UTC') and Nullable times instead.
var eventColumns = []string{
	"incident", "version", "tenant", "command", "actor", "at_ms", "kind",
	"title", "severity", "status",
	"source_kind", "source_team", "source_channel", "source_thread_ts",
	"role", "person", "note",
	"msg_channel", "msg_ts", "msg_author", "msg_text", "msg_at_ms",
	"impact_started_ms", "command_kind", "rejected", "rejection_code", "rejection_reason",
}

// incidentColumns are the incidents table's columns in insert and select
// order.
var incidentColumns = []string{
	"incident", "tenant", "version", "title", "severity", "status",
	"reporter", "commander", "assignee",
	"source_kind", "source_team", "source_channel", "source_thread_ts",
	"card_channel", "card_ts",
	"declared_ms", "impact_started_ms", "acknowledged_ms", "mitigated_ms", "resolved_ms", "updated_ms",
	"notes", "pins",
}

// migration is one step of the schema. Its statements take the table set,
// so a rebuild creates its fresh tables with the very same steps. Every
// statement is idempotent (IF NOT EXISTS), so a migration interrupted
// half-way is simply applied again.
type migration struct {
	Version uint32
	Name    string
	Tables  func(t tableSet) []string
}

// migrations are applied in order at start. Append only: never edit a
// migration that has shipped.
var migrations = []migration{
	{Version: 1, Name: "events and incidents", Tables: func(t tableSet) []string {
		return []string{sqlCreateEvents(t), sqlCreateIncidents(t)}
	}},
}

// sqlCreateEvents is the event log: one row per event, deduplicated by
// (incident, version) when parts merge. Ordered by tenant first because
// every query names the tenant. A rejection is stored under the tenant that
// sent the command, which is what keeps it out of other tenants' timelines.
func sqlCreateEvents(t tableSet) string {
	return "CREATE TABLE IF NOT EXISTS " + t.events() + ` (
	incident String,
	version UInt64,
	tenant String,
	command String,
	actor String,
	at_ms Int64,
	kind String,
	title String,
	severity String,
	status String,
	source_kind String,
	source_team String,
	source_channel String,
	source_thread_ts String,
	role String,
	person String,
	note String,
	msg_channel String,
	msg_ts String,
	msg_author String,
	msg_text String,
	msg_at_ms Int64,
	impact_started_ms Int64,
	command_kind String,
	rejected UInt8,
	rejection_code String,
	rejection_reason String
) ENGINE = ReplacingMergeTree() ORDER BY (tenant, incident, version)`
}

// sqlCreateIncidents holds the folded state of every declared incident:
// one row per incident and version; merges keep the highest version and
// queries pick it themselves (LIMIT 1 BY), since merges are not immediate.
func sqlCreateIncidents(t tableSet) string {
	return "CREATE TABLE IF NOT EXISTS " + t.incidents() + ` (
	incident String,
	tenant String,
	version UInt64,
	title String,
	severity String,
	status String,
	reporter String,
	commander String,
	assignee String,
	source_kind String,
	source_team String,
	source_channel String,
	source_thread_ts String,
	card_channel String,
	card_ts String,
	declared_ms Int64,
	impact_started_ms Int64,
	acknowledged_ms Int64,
	mitigated_ms Int64,
	resolved_ms Int64,
	updated_ms Int64,
	notes UInt32,
	pins UInt32
) ENGINE = ReplacingMergeTree(version) ORDER BY (tenant, incident)`
}

func sqlDropTable(db, table string) string {
	return "DROP TABLE IF EXISTS " + db + "." + table
}

// sqlSwap moves the rebuilt tables in and the live ones out in one
// statement. On 18.16 (Ordinary database engine) the pairs are renamed one
// after the other under a lock; a current server with the Atomic engine
// would use EXCHANGE TABLES, which swaps each pair atomically.
func sqlSwap(live, fresh, retired tableSet) string {
	db := live.Database
	return "RENAME TABLE " +
		db + "." + live.Events + " TO " + db + "." + retired.Events + ", " +
		db + "." + fresh.Events + " TO " + db + "." + live.Events + ", " +
		db + "." + live.Incidents + " TO " + db + "." + retired.Incidents + ", " +
		db + "." + fresh.Incidents + " TO " + db + "." + live.Incidents
}

// sqlMerges starts or stops the background merges of one table. A RENAME
// on 18.16 waits until the running merges of the tables it renames end (a
// freshly filled table merges for a while), so a rebuild stops them for
// its swap. Stopping cancels the running merges; the lock lives in server
// memory, keyed by the table, not its name, and is gone at a restart.
func sqlMerges(start bool, db, table string) string {
	verb := "STOP"
	if start {
		verb = "START"
	}
	return "SYSTEM " + verb + " MERGES " + db + "." + table
}

// --- ingest ---

func sqlInsertEvents(t tableSet) string {
	return "INSERT INTO " + t.events() + " (" + strings.Join(eventColumns, ", ") + ")"
}

func sqlInsertIncidents(t tableSet) string {
	return "INSERT INTO " + t.incidents() + " (" + strings.Join(incidentColumns, ", ") + ")"
}

// sqlLatestStates loads the latest state row of the incidents in a set
// (bound as clickhouse.GroupSet, which formats as a parenthesised list). It
// does not know the tenant (a rejection may carry another tenant's), so it
// scans the incidents table; the projector asks only on a cache miss.
func sqlLatestStates(t tableSet) string {
	return "SELECT " + strings.Join(incidentColumns, ", ") + " FROM " + t.incidents() +
		" WHERE incident IN ? ORDER BY incident, version DESC LIMIT 1 BY incident"
}

// --- queries ---

// listFilter is one condition of a list query with its bound arguments.
type listFilter struct {
	SQL  string
	Args []any
}

// sortKey is one expression of a list order.
type sortKey struct {
	Expr string
	Desc bool
}

// Filters of the list query (over the latest state rows).
const (
	sqlFilterStatus   = "has(?, status)"
	sqlFilterSeverity = "has(?, severity)"
	sqlFilterAssignee = "assignee = ?"
	sqlFilterFrom     = "declared_ms >= ?"
	sqlFilterTo       = "declared_ms < ?"
	sqlFilterSearch   = "positionCaseInsensitiveUTF8(title, ?) > 0"
)

// Sort expressions of the list query. The severity rank binds the policy's
// levels (most severe first); a level the policy does not know sorts last.
const (
	sqlSortResolved = "toUInt8(status = 'resolved')"
	sqlSortDeclared = "declared_ms"
	sqlSortUpdated  = "updated_ms"
	sqlSortIncident = "incident"
	sqlSortRank     = "if(indexOf(?, severity) = 0, 1000000, indexOf(?, severity))"
)

// sqlList builds a list query: the latest states of a tenant, filtered,
// ordered by keys, after the cursor position if any, limited. It returns
// the statement and its arguments in order.
//
// The latest states come from FINAL, which on the incidents table
// (ReplacingMergeTree(version) ordered by tenant and incident) merges the
// tenant's rows in key order as it reads them: no sort, unlike LIMIT 1 BY,
// which on 18.16 cost twice as much for a tenant of 50,000 incidents. The
// filters stay outside the FINAL subquery, so they see merged rows only
// (TestListReadsOnlyTheLatestRow).
func sqlList(t tableSet, tenant string, filters []listFilter, keys []sortKey, keyArgs [][]any, after []any, limit int) (string, []any) {
	var b strings.Builder
	args := []any{tenant}
	b.WriteString("SELECT " + strings.Join(incidentColumns, ", ") + " FROM (")
	b.WriteString("SELECT " + strings.Join(incidentColumns, ", ") + " FROM " + t.incidents() + " FINAL WHERE tenant = ?")
	b.WriteString(") WHERE 1 = 1")
	for _, f := range filters {
		b.WriteString(" AND " + f.SQL)
		args = append(args, f.Args...)
	}
	if after != nil {
		// Keyset pagination, spelled out as (k1 > v1) OR (k1 = v1 AND k2 > v2)
		// ...; tuple comparison would be shorter on a current server.
		b.WriteString(" AND (")
		for i := range keys {
			if i > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString("(")
			for j := 0; j < i; j++ {
				b.WriteString(keys[j].Expr + " = ? AND ")
				args = append(args, keyArgs[j]...)
				args = append(args, after[j])
			}
			op := " > ?"
			if keys[i].Desc {
				op = " < ?"
			}
			b.WriteString(keys[i].Expr + op + ")")
			args = append(args, keyArgs[i]...)
			args = append(args, after[i])
		}
		b.WriteString(")")
	}
	b.WriteString(" ORDER BY ")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.Expr)
		args = append(args, keyArgs[i]...)
		if k.Desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
	}
	fmt.Fprintf(&b, " LIMIT %d", limit)
	return b.String(), args
}

// sqlGetIncident is one incident's latest state, within its tenant.
func sqlGetIncident(t tableSet) string {
	return "SELECT " + strings.Join(incidentColumns, ", ") + " FROM " + t.incidents() +
		" WHERE tenant = ? AND incident = ? ORDER BY version DESC LIMIT 1"
}

// sqlTimeline is one incident's events as its tenant sees them: its own
// history and its own rejections, never another tenant's, deduplicated.
func sqlTimeline(t tableSet) string {
	return "SELECT " + strings.Join(eventColumns, ", ") + " FROM " + t.events() +
		" WHERE tenant = ? AND incident = ? ORDER BY version LIMIT 1 BY version"
}

// sqlVersion is the version of an incident's latest state row (0: none).
func sqlVersion(t tableSet) string {
	return "SELECT max(version) FROM " + t.incidents() + " WHERE tenant = ? AND incident = ?"
}

// sqlEventVersions lists every (incident, tenant, version) of the event
// rows with its row count (above 1 until a merge deduplicates), for
// comparing the table with the log (incidentd verify clickhouse).
func sqlEventVersions(t tableSet) string {
	return "SELECT incident, tenant, version, count() FROM " + t.events() + " GROUP BY incident, tenant, version"
}

// sqlIncidentFacts computes, from the event rows alone, the facts the
// analytics need about each of a tenant's incidents: severity now,
// declaration, latest impact start, first acknowledgement, status now and
// latest resolution. Rejections are left out (they change nothing, and may
// carry another tenant). Duplicate rows cannot change min, argMin or argMax,
// so no deduplication is needed. Only incidents that matter for the window
// come back: declared, first acknowledged or resolved in [from, to), or open
// now.
//
// A current server could push the per-severity and per-bucket aggregation
// into SQL as well (the figures are cheap to compute from these rows in Go).
func sqlIncidentFacts(t tableSet) string {
	return `SELECT incident,
	argMaxIf(severity, version, kind IN ('declared', 'severity_changed')) AS f_severity,
	minIf(at_ms, kind = 'declared') AS f_declared,
	argMaxIf(impact_started_ms, version, kind = 'impact_started_set') AS f_impact,
	argMinIf(at_ms, version, kind = 'acknowledged') AS f_acked,
	countIf(kind = 'acknowledged') AS f_acks,
	argMax(status, version) AS f_status,
	argMaxIf(at_ms, version, kind = 'resolved') AS f_resolved,
	countIf(kind = 'declared') AS f_declares
FROM ` + t.events() + `
WHERE tenant = ? AND kind != 'rejected'
GROUP BY incident
HAVING f_declares > 0 AND ((f_declared >= ? AND f_declared < ?) OR f_status != 'resolved'
	OR (f_resolved >= ? AND f_resolved < ?) OR (f_acks > 0 AND f_acked >= ? AND f_acked < ?))`
}
