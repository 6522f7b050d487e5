// Package readmodel is the dashboard's read model: the ClickHouse tables
// incidents are listed, searched and charted from, and the queries asked
// of them (Queries: List, Get, Version, Analytics). Ingress's dashboard API
// reads through it; nothing here consumes Kafka, so it is importable
// without the ingest pipeline. Package projector fills the tables from the
// events topic.
//
//	events topic ──▶ projector ──▶ readmodel's tables ◀── readmodel.Queries ◀── ingress
//
// # Who owns the schema
//
// This package does: it defines the tables (names, columns, engines,
// ordering keys), their versioned migrations (Migrate, CreateTables) and
// how an event or a state maps to a row and back (EventBlock, StateBlock,
// StateRow, EventRow). The tables exist to answer these queries: their
// ordering keys and engines are chosen for them (tenant first, because
// every query names one; ReplacingMergeTree(version), because a list
// picks the latest state), so a change of either is one change in one
// package. The projector imports the definitions and creates the tables
// through Migrate at start (and a rebuild's fresh ones through
// CreateTables); it keeps no copy of a name or a column. Only its own
// position table (projector_offsets) and its inserts are the projector's.
//
// # Tables
//
// Created and migrated by Migrate (versioned migrations recorded in
// schema_migrations; every statement idempotent):
//
//   - events: one row per event, deduplicated by (tenant, incident, version)
//     with ReplacingMergeTree. It is the audit log the analytics are computed
//     from. A rejection is stored under the tenant that sent the command, so
//     another tenant's rejections never show in a timeline.
//   - incidents: the folded state of every declared incident, one row per
//     incident and version (ReplacingMergeTree(version)). Merges are not
//     immediate, so queries pick the latest version themselves: a list reads
//     the tenant's rows with FINAL (merged in key order while read, cheaper
//     than sorting them), a lookup of a few incidents uses LIMIT 1 BY.
//
// All SQL of the tables and the queries is in sql.go, as exported
// constants and functions, so internal/chsql can run every statement on
// ClickHouse 18.16 and on a current server.
//
// # Queries
//
// Every query takes the tenant as a mandatory argument and sees only its
// rows; an empty tenant is an error, never "all tenants". An unknown id,
// or another tenant's, is ErrNotFound; a query the caller got wrong is
// ErrBadQuery (a *BadQueryError naming the limit broken); tables not there
// yet (not migrated, or a rebuild swapping them) are ErrNotReady.
//
// # Limits worth knowing
//
//   - Times are stored to the millisecond, in UTC; the instant
//     1970-01-01T00:00:00Z reads back as "not set".
//   - Queries.Version is the version of the latest stored state: every
//     event of the incident counts, including rejections of commands other
//     tenants sent for the same id (they take versions too); 0 while nothing
//     of the incident is visible.
//
// # ClickHouse versions
//
// CI runs Debian's clickhouse-server 18.16; the schema and queries keep to
// what it and current servers both accept. Where a current server would
// allow better:
//
//   - Times are Int64 milliseconds since the epoch (0 = not set): 18.16 has
//     no DateTime64. A current server would use DateTime64(3, 'UTC') and
//     Nullable for "not set".
//   - Low-cardinality columns (tenant, kind, status, severity) are plain
//     String: LowCardinality(String) is experimental in 18.16.
//   - Keyset pagination is spelled out as OR-ed comparisons; current
//     servers compare tuples directly.
//   - Analytics aggregate per incident in SQL and per severity and bucket in
//     Go; a current server could do it all in one query (and a projection or
//     materialized view could keep per-incident facts incrementally).
//   - Inserts are native-protocol batches with an explicit column list
//     (AppendColumns); Exec with bound INSERT parameters hangs on 18.16 and
//     its HTTP interface does not work with clickhouse-go/v2.
package readmodel
