package chsql_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/incidentd/incidentd/internal/chsql"
)

// withSQL returns a module root holding the real SQL files, the one named
// file changed by edit.
func withSQL(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range chsql.SQLFiles {
		src, err := os.ReadFile(filepath.Join("..", "..", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == file {
			src = []byte(edit(string(src)))
		}
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, f), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestExtractRefusesAStatementTheDriverDoesNotCall(t *testing.T) {
	for _, file := range chsql.SQLFiles {
		root := withSQL(t, file, func(s string) string {
			return s + "\nfunc SQLSomethingNew(db string) string { return \"SELECT 1 FROM \" + db + \".events\" }\n"
		})
		_, err := chsql.Extract(root)
		if err == nil || !strings.Contains(err.Error(), "SQLSomethingNew") || !strings.Contains(err.Error(), file) {
			t.Errorf("Extract() with a new builder in %s = %v, want an error naming it and the file", file, err)
		}
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
