// Package driver calls every statement builder of readmodel/sql.go and
// projector/sql.go the way the read model and the projector do, with
// sample values and rows, binds the arguments the way clickhouse-go does
// on the client, and returns the statements in the order a server must
// run them (chsql.Extract).
//
// Every exported name of those files that starts with "SQL" must be used
// here: chsql.Extract fails otherwise, so a new statement cannot go
// unchecked.
package driver

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// Statement is one statement in the order a server runs them.
type Statement struct {
	Name    string `json:"name"`
	SQL     string `json:"sql"`     // arguments already bound
	Rows    bool   `json:"rows"`    // a query: returns rows
	Ordered bool   `json:"ordered"` // its rows come in a defined order

	// An INSERT as the projector sends it, a native batch: the statement
	// without VALUES, and the rows (strings and integers). SQL holds the
	// same INSERT with literal VALUES.
	Insert string  `json:"insert,omitempty"`
	Values [][]any `json:"values,omitempty"`

	// Result is the rows 18.16 returned, each value formatted by
	// fmt.Sprint; filled in by chsql's test, compared by check.py.
	Result [][]string `json:"result,omitempty"`
}

// groupSet formats as a parenthesised list, like clickhouse.GroupSet.
type groupSet []any

// mu serialises Statements, which collects into out.
var (
	mu  sync.Mutex
	out []Statement
)

// failure is a mistake in the driver or its samples, raised by fail and
// returned by Statements.
type failure struct{ err error }

// Statements returns every statement, in the order a server must run
// them, with sample values and rows.
func Statements() (stmts []Statement, err error) {
	mu.Lock()
	defer mu.Unlock()
	out = nil
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("chsql driver: %w", f.err)
		}
	}()
	build()
	return out, nil
}

func exec(name, sql string) { out = append(out, Statement{Name: name, SQL: sql}) }

// insert is an INSERT with the rows of values.
func insert(name string, ins insertRows) {
	out = append(out, Statement{Name: name, SQL: ins.sql, Insert: ins.insert, Values: ins.values})
}
func query(name, sql string) {
	out = append(out, Statement{Name: name, SQL: sql, Rows: true, Ordered: true})
}

// unordered is a query whose rows have no defined order (GROUP BY, DISTINCT).
func unordered(name, sql string) {
	out = append(out, Statement{Name: name, SQL: sql, Rows: true})
}

const (
	db     = "incidentd"
	tenant = "acme"
)

// severities is the default policy (most severe first).
var severities = []string{"SEV1", "SEV2", "SEV3", "SEV4"}

func build() {
	live := readmodel.LiveTables(db)
	fresh := live.With(projector.RebuildSuffix)
	retired := live.With(projector.RetiredSuffix)
	for _, name := range []string{db, live.Events, live.Incidents, fresh.Events, retired.Incidents, readmodel.MigrationsTable} {
		if err := readmodel.ValidIdent(name); err != nil {
			fail(err)
		}
	}

	// Schema (readmodel/migrate.go).
	exec("create database", readmodel.SQLCreateDatabase(db))
	exec("create migrations", readmodel.SQLCreateMigrations(db))
	insert("insert migration", values(readmodel.SQLInsertMigration(db), readmodel.SQLCreateMigrations(db),
		[]map[string]any{{"version": 1, "name": "events and incidents", "applied_ms": 1767225600000}}))
	unordered("applied migrations", readmodel.SQLAppliedMigrations(db))
	for _, m := range readmodel.Migrations {
		for i, s := range m.Tables(live) {
			exec(fmt.Sprintf("migration %d (%s) statement %d", m.Version, m.Name, i+1), s)
		}
	}

	// Position (projector/position.go).
	exec("create offsets", projector.SQLCreateOffsets(db))
	insert("insert offsets", values(projector.SQLInsertOffsets(db), projector.SQLCreateOffsets(db), []map[string]any{
		{"consumer_group": "incidentd-projector", "topic": "incidentd.events", "part": 0, "next_offset": int64(120), "stored_ms": 1767225600000},
		{"consumer_group": "incidentd-projector", "topic": "incidentd.events", "part": 0, "next_offset": int64(250), "stored_ms": 1767225601000},
		{"consumer_group": "incidentd-projector", "topic": "incidentd.events", "part": 3, "next_offset": int64(7), "stored_ms": 1767225601000},
		{"consumer_group": "other", "topic": "incidentd.events", "part": 0, "next_offset": int64(999), "stored_ms": 1767225601000},
	}))
	unordered("stored offsets", bind(projector.SQLStoredOffsets(db), "incidentd-projector", "incidentd.events"))
	query("any event of an empty table", projector.SQLAnyEvent(live))

	// Ingest (projector/sink.go): batches carry an explicit column list.
	insert("insert events", values(projector.SQLInsertEvents(live), readmodel.SQLCreateEvents(live), sampleEvents()))
	insert("insert incidents", values(projector.SQLInsertIncidents(live), readmodel.SQLCreateIncidents(live), sampleIncidents()))
	query("latest states", bind(projector.SQLLatestStates(live), groupSet{"inc-1", "inc-2", "inc-9"}))

	// Queries (readmodel/queries.go).
	rank := []any{severities, severities}
	orders := []struct {
		name    string
		keys    []readmodel.SortKey
		keyArgs [][]any
		after   []any
	}{
		{"open first", []readmodel.SortKey{{Expr: readmodel.SQLSortResolved, Desc: false}, {Expr: readmodel.SQLSortDeclared, Desc: true}, {Expr: readmodel.SQLSortIncident, Desc: true}}, [][]any{nil, nil, nil}, []any{0, int64(1767229200000), "inc-3"}},
		{"newest", []readmodel.SortKey{{Expr: readmodel.SQLSortDeclared, Desc: true}, {Expr: readmodel.SQLSortIncident, Desc: true}}, [][]any{nil, nil}, []any{int64(1767229200000), "inc-3"}},
		{"oldest", []readmodel.SortKey{{Expr: readmodel.SQLSortDeclared, Desc: false}, {Expr: readmodel.SQLSortIncident, Desc: false}}, [][]any{nil, nil}, []any{int64(1767229200000), "inc-3"}},
		{"severity", []readmodel.SortKey{{Expr: readmodel.SQLSortRank, Desc: false}, {Expr: readmodel.SQLSortDeclared, Desc: true}, {Expr: readmodel.SQLSortIncident, Desc: true}}, [][]any{rank, nil, nil}, []any{int64(2), int64(1767229200000), "inc-3"}},
		{"recent change", []readmodel.SortKey{{Expr: readmodel.SQLSortUpdated, Desc: true}, {Expr: readmodel.SQLSortIncident, Desc: true}}, [][]any{nil, nil}, []any{int64(1767229200000), "inc-3"}},
	}
	all := []readmodel.ListFilter{
		{SQL: readmodel.SQLFilterStatus, Args: []any{[]string{"declared", "acknowledged", "resolved"}}},
		{SQL: readmodel.SQLFilterSeverity, Args: []any{[]string{"SEV1", "SEV2"}}},
		{SQL: readmodel.SQLFilterAssignee, Args: []any{"U02"}},
		{SQL: readmodel.SQLFilterFrom, Args: []any{int64(1767225600000)}},
		{SQL: readmodel.SQLFilterTo, Args: []any{int64(1767312000000)}},
		{SQL: readmodel.SQLFilterSearch, Args: []any{"DataBase"}},
	}
	for _, o := range orders {
		s, args := readmodel.SQLList(live, tenant, nil, o.keys, o.keyArgs, nil, 51)
		query("list, "+o.name, bind(s, args...))
		s, args = readmodel.SQLList(live, tenant, nil, o.keys, o.keyArgs, o.after, 2)
		query("list, "+o.name+", after a cursor", bind(s, args...))
		s, args = readmodel.SQLList(live, tenant, all, o.keys, o.keyArgs, o.after, 51)
		query("list, "+o.name+", every filter, after a cursor", bind(s, args...))
	}
	for _, f := range all {
		s, args := readmodel.SQLList(live, tenant, []readmodel.ListFilter{f}, orders[0].keys, orders[0].keyArgs, nil, 51)
		query("list, filter "+f.SQL, bind(s, args...))
	}
	query("get incident", bind(readmodel.SQLGetIncident(live), tenant, "inc-1"))
	query("get another tenant's incident", bind(readmodel.SQLGetIncident(live), tenant, "inc-9"))
	query("timeline", bind(readmodel.SQLTimeline(live), tenant, "inc-1"))
	query("version", bind(readmodel.SQLVersion(live), tenant, "inc-1"))
	query("version of an unknown incident", bind(readmodel.SQLVersion(live), tenant, "nope"))
	unordered("event versions", projector.SQLEventVersions(live))
	query("any event", projector.SQLAnyEvent(live))
	from, to := int64(1767225600000), int64(1767312000000)
	unordered("incident facts", bind(readmodel.SQLIncidentFacts(live), tenant, from, to, from, to, from, to))
	// A window after everything: only open incidents come back.
	unordered("incident facts, later window", bind(readmodel.SQLIncidentFacts(live), tenant, to, to+1, to, to+1, to, to+1))

	// Rebuild (projector/rebuild.go): fresh tables, filled, swapped in; the old ones dropped.
	for _, m := range readmodel.Migrations {
		for i, s := range m.Tables(fresh) {
			exec(fmt.Sprintf("rebuild: migration %d statement %d", m.Version, i+1), s)
		}
	}
	insert("rebuild: insert events", values(projector.SQLInsertEvents(fresh), readmodel.SQLCreateEvents(fresh), sampleEvents()))
	insert("rebuild: insert incidents", values(projector.SQLInsertIncidents(fresh), readmodel.SQLCreateIncidents(fresh), sampleIncidents()))
	exec("rebuild: drop leftover retired", projector.SQLDropTable(db, retired.Events))
	for _, t := range []string{live.Events, live.Incidents, fresh.Events, fresh.Incidents} {
		exec("rebuild: stop merges of "+t, projector.SQLMerges(false, db, t))
	}
	exec("rebuild: swap", projector.SQLSwap(live, fresh, retired))
	for _, t := range []string{live.Events, live.Incidents, retired.Events, retired.Incidents} {
		exec("rebuild: start merges of "+t, projector.SQLMerges(true, db, t))
	}
	exec("rebuild: drop retired events", projector.SQLDropTable(db, retired.Events))
	exec("rebuild: drop retired incidents", projector.SQLDropTable(db, retired.Incidents))
	query("rebuild: get incident after swap", bind(readmodel.SQLGetIncident(live), tenant, "inc-2"))
}

func fail(err error) { panic(failure{err}) }

// sampleEvents are the event rows of a few incidents of two tenants, with
// every kind the analytics read, a duplicate (re-delivery) and a rejection.
func sampleEvents() []map[string]any {
	const h = int64(3600000)
	t0 := int64(1767225600000) // 2026-01-01T00:00:00Z
	ev := func(inc, ten string, v int, kind string, at int64, extra map[string]any) map[string]any {
		r := map[string]any{"incident": inc, "tenant": ten, "version": v, "kind": kind, "at_ms": at,
			"command": fmt.Sprintf("cmd-%s-%d", inc, v), "actor": "U01"}
		for k, x := range extra {
			r[k] = x
		}
		return r
	}
	return []map[string]any{
		ev("inc-1", tenant, 1, "declared", t0, map[string]any{"title": "Database down", "severity": "SEV1", "status": "declared", "source_kind": "slack", "source_channel": "C1", "source_thread_ts": "1.2"}),
		ev("inc-1", tenant, 2, "acknowledged", t0+h/4, map[string]any{"status": "acknowledged", "person": "U02"}),
		ev("inc-1", tenant, 2, "acknowledged", t0+h/4, map[string]any{"status": "acknowledged", "person": "U02"}), // re-delivered
		ev("inc-1", tenant, 3, "impact_started_set", t0+h/2, map[string]any{"impact_started_ms": t0 - h}),
		ev("inc-1", tenant, 4, "severity_changed", t0+h, map[string]any{"severity": "SEV2"}),
		ev("inc-1", tenant, 5, "resolved", t0+2*h, map[string]any{"status": "resolved", "note": "it's back; \\o/"}),
		ev("inc-2", tenant, 1, "declared", t0+h, map[string]any{"title": "Slow checkout", "severity": "SEV3", "status": "declared"}),
		ev("inc-2", tenant, 2, "rejected", t0+h, map[string]any{"rejected": 1, "command_kind": "resolve", "rejection_code": "not_allowed", "rejection_reason": "already"}),
		ev("inc-3", tenant, 1, "declared", t0+h, map[string]any{"title": "Login errors", "severity": "SEV2", "status": "declared"}),
		ev("inc-4", tenant, 1, "declared", t0+3*h, map[string]any{"title": "Old news", "severity": "SEV9", "status": "declared"}),
		ev("inc-9", "other", 1, "declared", t0, map[string]any{"title": "Not yours", "severity": "SEV1", "status": "declared"}),
	}
}

// sampleIncidents are state rows: several versions of inc-1, one of the
// others, and another tenant's incident.
func sampleIncidents() []map[string]any {
	const h = int64(3600000)
	t0 := int64(1767225600000)
	st := func(inc, ten string, v int, title, sev, status, assignee string, declared, updated, resolved int64) map[string]any {
		return map[string]any{"incident": inc, "tenant": ten, "version": v, "title": title, "severity": sev,
			"status": status, "reporter": "U01", "commander": "U02", "assignee": assignee,
			"declared_ms": declared, "updated_ms": updated, "resolved_ms": resolved, "notes": v, "pins": 1}
	}
	return []map[string]any{
		st("inc-1", tenant, 1, "Database down", "SEV1", "declared", "", t0, t0, 0),
		st("inc-1", tenant, 2, "Database down", "SEV1", "acknowledged", "U02", t0, t0+h/4, 0),
		st("inc-1", tenant, 5, "Database down", "SEV2", "resolved", "U02", t0, t0+2*h, t0+2*h),
		st("inc-2", tenant, 1, "Slow checkout", "SEV3", "declared", "U02", t0+h, t0+h, 0),
		st("inc-3", tenant, 1, "Login errors", "SEV2", "declared", "U03", t0+h, t0+h, 0),
		st("inc-4", tenant, 1, "Old news", "SEV9", "declared", "", t0+3*h, t0+3*h, 0),
		st("inc-9", "other", 1, "Not yours", "SEV1", "declared", "U02", t0, t0, 0),
	}
}

// columnRE matches a column line of a CREATE TABLE statement.
var columnRE = regexp.MustCompile(`(?m)^\s+([a-z_][a-z0-9_]*) ([A-Za-z0-9]+(?:\([^)]*\))?),?$`)

// insertRows is an INSERT with its rows, as a statement with literal
// VALUES and as rows for a native batch.
type insertRows struct {
	sql, insert string
	values      [][]any
}

// values gives an INSERT's rows: the sample values in the order of its
// column list, typed by the columns of create; a column the sample leaves
// out gets its type's default.
func values(insert, create string, rows []map[string]any) insertRows {
	types := map[string]string{}
	for _, m := range columnRE.FindAllStringSubmatch(create, -1) {
		types[m[1]] = m[2]
	}
	open, close := strings.Index(insert, "("), strings.LastIndex(insert, ")")
	if open < 0 || close < open {
		fail(fmt.Errorf("insert %q has no column list", insert))
	}
	cols := strings.Split(insert[open+1:close], ",")
	ins := insertRows{insert: insert}
	var b strings.Builder
	b.WriteString(insert + " VALUES")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" (")
		var row []any
		for j, c := range cols {
			c = strings.TrimSpace(c)
			typ, ok := types[c]
			if !ok {
				fail(fmt.Errorf("column %s of %q not in its CREATE TABLE", c, insert))
			}
			if j > 0 {
				b.WriteString(", ")
			}
			v, set := r[c]
			switch {
			case typ == "String" && !set:
				v = ""
			case typ == "String":
			case strings.HasPrefix(typ, "Int") || strings.HasPrefix(typ, "UInt"):
				if !set {
					v = 0
				}
			default:
				fail(fmt.Errorf("column %s: type %s has no sample values", c, typ))
			}
			b.WriteString(literal(v))
			row = append(row, v)
		}
		b.WriteString(")")
		ins.values = append(ins.values, row)
	}
	ins.sql = b.String()
	return ins
}

// bind replaces each ? outside quotes with the next argument, formatted as
// clickhouse-go formats bound parameters on the client.
func bind(sql string, args ...any) string {
	var b strings.Builder
	n := 0
	quote := byte(0)
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(sql) {
				b.WriteByte(c)
				i++
				c = sql[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '?':
			if n >= len(args) {
				fail(fmt.Errorf("%q: more ? than %d arguments", sql, len(args)))
			}
			b.WriteString(literal(args[n]))
			n++
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		fail(fmt.Errorf("%q: %d ? for %d arguments", sql, n, len(args)))
	}
	return b.String()
}

// literal formats a value as clickhouse-go's client-side binding does:
// quoted, escaped strings; arrays in brackets; a group set in parentheses.
func literal(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`).Replace(v) + "'"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint8:
		return strconv.Itoa(int(v))
	case []string:
		parts := make([]string, len(v))
		for i, s := range v {
			parts[i] = literal(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case groupSet:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = literal(x)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	fail(fmt.Errorf("no literal for %T", v))
	return ""
}
