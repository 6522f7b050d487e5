package chsql_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/incidentd/incidentd/internal/chsql"
)

// withSQL returns a module root whose projector/sql.go is the real one
// changed by edit.
func withSQL(t *testing.T, edit func(string) string) string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", chsql.SQLFile))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "projector"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, chsql.SQLFile), []byte(edit(string(src))), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestExtractRefusesAStatementTheDriverDoesNotCall(t *testing.T) {
	root := withSQL(t, func(s string) string {
		return s + "\nfunc sqlSomethingNew(t tableSet) string { return \"SELECT 1 FROM \" + t.events() }\n"
	})
	_, err := chsql.Extract(root)
	if err == nil || !strings.Contains(err.Error(), "sqlSomethingNew") {
		t.Fatalf("Extract() = %v, want an error naming sqlSomethingNew", err)
	}
}

func TestExtractRefusesImportsOutsideTheStandardLibrary(t *testing.T) {
	root := withSQL(t, func(s string) string {
		return strings.Replace(s, "import (", "import (\n\t_ \"github.com/ClickHouse/clickhouse-go/v2\"", 1)
	})
	_, err := chsql.Extract(root)
	if err == nil || !strings.Contains(err.Error(), "clickhouse-go") {
		t.Fatalf("Extract() = %v, want an error naming the import", err)
	}
}

func TestExtractBindsArguments(t *testing.T) {
	stmts, err := chsql.Extract(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if s.Rows && strings.Contains(s.SQL, "?") {
			t.Errorf("%s: unbound ? in %s", s.Name, s.SQL)
		}
		if s.Insert != "" && (len(s.Values) == 0 || !strings.HasPrefix(s.SQL, s.Insert+" VALUES (")) {
			t.Errorf("%s: insert %q without rows or a VALUES form: %s", s.Name, s.Insert, s.SQL)
		}
	}
}
