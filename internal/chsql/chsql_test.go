package chsql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/internal/chsql"
	"github.com/incidentd/incidentd/internal/testenv"
)

// OutEnv names the file TestStatements writes the statements and 18.16's
// rows to, for deploy/chsql/check.py ("make test-chsql" sets it).
const OutEnv = "INCIDENTD_CHSQL_OUT"

// wantRows are row counts of some queries on the driver's sample data, so
// that a sample that stopped matching anything is noticed: a query over
// nothing checks little.
var wantRows = map[string]int{
	"applied migrations":               1,
	"latest states":                    3,
	"list, open first":                 4,
	"list, open first, after a cursor": 2,
	"get incident":                     1,
	"get another tenant's incident":    0,
	"timeline":                         5,
	"version":                          1,
	"incident facts":                   4,
	"incident facts, later window":     3,
	"rebuild: get incident after swap": 1,
}

// TestStatements runs every statement of readmodel/sql.go and
// projector/sql.go, in order, on Debian's clickhouse-server 18.16;
// check.py runs the same ones on chDB and compares the rows.
func TestStatements(t *testing.T) {
	stmts, err := chsql.Extract(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ch := testenv.StartClickHouse(t)
	conn := ch.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	seen := map[string]bool{}
	for i := range stmts {
		s := &stmts[i]
		if seen[s.Name] {
			t.Fatalf("two statements named %q", s.Name)
		}
		seen[s.Name] = true
		if s.Insert != "" {
			if err := insert(ctx, conn, s); err != nil {
				t.Fatalf("%s: 18.16 refuses it: %v\n%s", s.Name, err, s.Insert)
			}
			continue
		}
		if !s.Rows {
			if err := conn.Exec(ctx, s.SQL); err != nil {
				t.Fatalf("%s: 18.16 refuses it: %v\n%s", s.Name, err, s.SQL)
			}
			continue
		}
		rows, err := conn.Query(ctx, s.SQL)
		if err != nil {
			t.Errorf("%s: 18.16 refuses it: %v\n%s", s.Name, err, s.SQL)
			continue
		}
		types := rows.ColumnTypes()
		s.Result = [][]string{}
		for rows.Next() {
			dest := make([]any, len(types))
			for j, ct := range types {
				dest[j] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatalf("%s: scan: %v", s.Name, err)
			}
			row := make([]string, len(dest))
			for j, d := range dest {
				row[j] = fmt.Sprint(reflect.ValueOf(d).Elem().Interface())
			}
			s.Result = append(s.Result, row)
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		rows.Close()
		if n, ok := wantRows[s.Name]; ok && len(s.Result) != n {
			t.Errorf("%s: %d rows on the sample data, want %d\n%s\n%v", s.Name, len(s.Result), n, s.SQL, s.Result)
		}
	}
	for name := range wantRows {
		if !seen[name] {
			t.Errorf("no statement named %q any more: update wantRows", name)
		}
	}

	if out := os.Getenv(OutEnv); out != "" && !t.Failed() {
		b, err := json.MarshalIndent(stmts, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d statements written to %s", len(stmts), out)
	}
}

// insert sends an INSERT's rows as a native batch, as the projector does
// (Exec of an INSERT hangs on 18.16), each value converted to its
// column's Go type.
func insert(ctx context.Context, conn driver.Conn, s *chsql.Statement) error {
	b, err := conn.PrepareBatch(ctx, s.Insert)
	if err != nil {
		return err
	}
	defer b.Close()
	cols := b.Columns()
	for _, row := range s.Values {
		if len(row) != len(cols) {
			return fmt.Errorf("%d values for %d columns", len(row), len(cols))
		}
		vals := make([]any, len(row))
		for i, v := range row {
			typ := cols[i].ScanType()
			switch v := v.(type) {
			case string:
				vals[i] = reflect.ValueOf(v).Convert(typ).Interface()
			case int, int64, uint8:
				vals[i] = reflect.ValueOf(v).Convert(typ).Interface()
			default:
				return fmt.Errorf("value %v (%T): want a string or an integer", v, v)
			}
		}
		if err := b.Append(vals...); err != nil {
			return err
		}
	}
	return b.Send()
}
