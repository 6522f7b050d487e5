package readmodel

import (
	"fmt"
	"strings"
)

// Every statement that creates or reads the read model's tables is built
// in this file; the projector's own statements (inserts, its position, the
// rebuild's swap) are in projector/sql.go. internal/chsql runs both on the
// 18.16 server CI runs and on a current one (chDB).
//
// Rules the statements keep, because 18.16 and current servers must both
// accept them:
//   - no DateTime64 (times are Int64 milliseconds since the Unix epoch), no
//     LowCardinality, no Nullable, no tuple comparison in WHERE;
//   - INSERTs carry an explicit column list and are sent as native batches,
//     never as Exec with bound parameters (that hangs on 18.16);
//   - "latest version" is picked by FINAL, LIMIT 1 BY or argMax;
//   - bound parameters are positional "?" formatted by clickhouse-go on the
//     client (18.16 predates server-side parameters); a Go slice formats as
//     an array literal, so "has(?, column)" is used for "any of".
//
// Identifiers (database and table names) are checked by ValidIdent before
// they are put into a statement.

// Tables names one set of the read model's tables: the live ones, or the
// fresh ones a rebuild fills before it swaps them in.
type Tables struct {
	Database  string
	Events    string // one row per event, deduplicated by (incident, version)
	Incidents string // one row per incident and version, latest wins
}

// Live table names.
const (
	EventsTable     = "events"
	IncidentsTable  = "incidents"
	MigrationsTable = "schema_migrations"
)

// LiveTables are the tables of database the dashboard reads.
func LiveTables(db string) Tables {
	return Tables{Database: db, Events: EventsTable, Incidents: IncidentsTable}
}

// With is the set of tables named like t's with suffix appended.
func (t Tables) With(suffix string) Tables {
	return Tables{Database: t.Database, Events: t.Events + suffix, Incidents: t.Incidents + suffix}
}

// EventsName is the events table's name qualified by its database.
func (t Tables) EventsName() string { return t.Database + "." + t.Events }

// IncidentsName is the incidents table's name qualified by its database.
func (t Tables) IncidentsName() string { return t.Database + "." + t.Incidents }

// ValidIdent reports (as an error saying why not) whether s cannot be used
// unquoted as a database or table name.
func ValidIdent(s string) error {
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

// SQLCreateDatabase creates the database of the tables.
func SQLCreateDatabase(db string) string {
	return "CREATE DATABASE IF NOT EXISTS " + db
}

// SQLCreateMigrations holds the versions of the schema applied so far.
func SQLCreateMigrations(db string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + "." + MigrationsTable + ` (
	version UInt32,
	name String,
	applied_ms Int64
) ENGINE = ReplacingMergeTree() ORDER BY version`
}

// SQLAppliedMigrations lists the versions of the schema applied.
func SQLAppliedMigrations(db string) string {
	return "SELECT DISTINCT version FROM " + db + "." + MigrationsTable
}

// SQLInsertMigration records an applied version (a native batch).
func SQLInsertMigration(db string) string {
	return "INSERT INTO " + db + "." + MigrationsTable + " (version, name, applied_ms)"
}

// EventColumns are the events table's columns in insert and select order.
// Times are milliseconds since the Unix epoch, 0 for "not set"; a current
// server would store DateTime64(3, 'UTC') and Nullable times instead.
var EventColumns = []string{
	"incident", "version", "tenant", "command", "actor", "at_ms", "kind",
	"title", "severity", "status",
	"source_kind", "source_team", "source_channel", "source_thread_ts",
	"role", "person", "note",
	"msg_channel", "msg_ts", "msg_author", "msg_text", "msg_at_ms",
	"impact_started_ms", "command_kind", "rejected", "rejection_code", "rejection_reason",
}

// IncidentColumns are the incidents table's columns in insert and select
// order.
var IncidentColumns = []string{
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
type Migration struct {
	Version uint32
	Name    string
	Tables  func(t Tables) []string
}

// Migrations are applied in order at start. Append only: never edit a
// migration that has shipped.
var Migrations = []Migration{
	{Version: 1, Name: "events and incidents", Tables: func(t Tables) []string {
		return []string{SQLCreateEvents(t), SQLCreateIncidents(t)}
	}},
}

// SQLCreateEvents is the event log: one row per event, deduplicated by
// (incident, version) when parts merge. Ordered by tenant first because
// every query names the tenant. A rejection is stored under the tenant that
// sent the command, which is what keeps it out of other tenants' timelines.
func SQLCreateEvents(t Tables) string {
	return "CREATE TABLE IF NOT EXISTS " + t.EventsName() + ` (
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

// SQLCreateIncidents holds the folded state of every declared incident:
// one row per incident and version; merges keep the highest version and
// queries pick it themselves (LIMIT 1 BY), since merges are not immediate.
func SQLCreateIncidents(t Tables) string {
	return "CREATE TABLE IF NOT EXISTS " + t.IncidentsName() + ` (
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

// --- queries ---

// ListFilter is one condition of a list query with its bound arguments.
type ListFilter struct {
	SQL  string
	Args []any
}

// SortKey is one expression of a list order.
type SortKey struct {
	Expr string
	Desc bool
}

// Filters of the list query (over the latest state rows).
const (
	SQLFilterStatus   = "has(?, status)"
	SQLFilterSeverity = "has(?, severity)"
	SQLFilterAssignee = "assignee = ?"
	SQLFilterFrom     = "declared_ms >= ?"
	SQLFilterTo       = "declared_ms < ?"
	SQLFilterSearch   = "positionCaseInsensitiveUTF8(title, ?) > 0"
)

// Sort expressions of the list query. The severity rank binds the policy's
// levels (most severe first); a level the policy does not know sorts last.
const (
	SQLSortResolved = "toUInt8(status = 'resolved')"
	SQLSortDeclared = "declared_ms"
	SQLSortUpdated  = "updated_ms"
	SQLSortIncident = "incident"
	SQLSortRank     = "if(indexOf(?, severity) = 0, 1000000, indexOf(?, severity))"
)

// SQLList builds a list query: the latest states of a tenant, filtered,
// ordered by keys, after the cursor position if any, limited. It returns
// the statement and its arguments in order.
//
// The latest states come from FINAL, which on the incidents table
// (ReplacingMergeTree(version) ordered by tenant and incident) merges the
// tenant's rows in key order as it reads them: no sort, unlike LIMIT 1 BY,
// which on 18.16 cost twice as much for a tenant of 50,000 incidents. The
// filters stay outside the FINAL subquery, so they see merged rows only
// (TestListReadsOnlyTheLatestRow).
func SQLList(t Tables, tenant string, filters []ListFilter, keys []SortKey, keyArgs [][]any, after []any, limit int) (string, []any) {
	var b strings.Builder
	args := []any{tenant}
	b.WriteString("SELECT " + strings.Join(IncidentColumns, ", ") + " FROM (")
	b.WriteString("SELECT " + strings.Join(IncidentColumns, ", ") + " FROM " + t.IncidentsName() + " FINAL WHERE tenant = ?")
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

// SQLGetIncident is one incident's latest state, within its tenant.
func SQLGetIncident(t Tables) string {
	return "SELECT " + strings.Join(IncidentColumns, ", ") + " FROM " + t.IncidentsName() +
		" WHERE tenant = ? AND incident = ? ORDER BY version DESC LIMIT 1"
}

// SQLTimeline is one incident's events as its tenant sees them: its own
// history and its own rejections, never another tenant's, deduplicated.
func SQLTimeline(t Tables) string {
	return "SELECT " + strings.Join(EventColumns, ", ") + " FROM " + t.EventsName() +
		" WHERE tenant = ? AND incident = ? ORDER BY version LIMIT 1 BY version"
}

// SQLVersion is the version of an incident's latest state row (0: none).
func SQLVersion(t Tables) string {
	return "SELECT max(version) FROM " + t.IncidentsName() + " WHERE tenant = ? AND incident = ?"
}

// SQLIncidentFacts computes, from the event rows alone, the facts the
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
func SQLIncidentFacts(t Tables) string {
	return `SELECT incident,
	argMaxIf(severity, version, kind IN ('declared', 'severity_changed')) AS f_severity,
	minIf(at_ms, kind = 'declared') AS f_declared,
	argMaxIf(impact_started_ms, version, kind = 'impact_started_set') AS f_impact,
	argMinIf(at_ms, version, kind = 'acknowledged') AS f_acked,
	countIf(kind = 'acknowledged') AS f_acks,
	argMax(status, version) AS f_status,
	argMaxIf(at_ms, version, kind = 'resolved') AS f_resolved,
	countIf(kind = 'declared') AS f_declares
FROM ` + t.EventsName() + `
WHERE tenant = ? AND kind != 'rejected'
GROUP BY incident
HAVING f_declares > 0 AND ((f_declared >= ? AND f_declared < ?) OR f_status != 'resolved'
	OR (f_resolved >= ? AND f_resolved < ?) OR (f_acks > 0 AND f_acked >= ? AND f_acked < ?))`
}
