// Package chsql lists every SQL statement incidentd sends to ClickHouse,
// so CI can run them all on both servers it supports: Debian's
// clickhouse-server 18.16 (chsql's test) and a current ClickHouse engine
// (chDB, deploy/chsql/check.py). A statement only one of them accepts, or
// a query whose rows differ between them, fails the build.
//
// The statements are built in two files: readmodel/sql.go (the tables and
// the dashboard's queries) and projector/sql.go (the projector's inserts,
// its position and the rebuild's swap). Package driver imports both and
// calls every builder the way the read model and the projector do, with
// sample values and rows. Every exported name of those files that starts
// with "SQL" must be used by the driver, or Extract fails: a new statement
// cannot go unchecked.
package chsql

import (
	_ "embed"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/incidentd/incidentd/internal/chsql/driver"
)

// Statement is one statement in the order a server runs them.
type Statement = driver.Statement

// SQLFiles are the files, relative to the module root, that build every
// statement incidentd sends to ClickHouse.
var SQLFiles = []string{"readmodel/sql.go", "projector/sql.go"}

//go:embed driver/driver.go
var driverSource []byte

// Extract returns the statements the driver builds, after checking that
// it uses every "SQL" name of SQLFiles under the module root.
func Extract(root string) ([]Statement, error) {
	used, err := driverNames()
	if err != nil {
		return nil, err
	}
	for _, file := range SQLFiles {
		src, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			return nil, fmt.Errorf("chsql: %w", err)
		}
		names, err := sqlNames(file, src)
		if err != nil {
			return nil, err
		}
		var missing []string
		for _, n := range names {
			if !used[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("chsql: %s declares %s, which internal/chsql/driver/driver.go does not use: add them there, so they are checked on both servers",
				file, strings.Join(missing, ", "))
		}
	}
	stmts, err := driver.Statements()
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	if len(stmts) == 0 {
		return nil, fmt.Errorf("chsql: the driver built no statements")
	}
	return stmts, nil
}

// sqlNames returns the top-level functions, constants and variables of
// the file whose names start with "SQL".
func sqlNames(file string, src []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	var names []string
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil {
				names = append(names, d.Name.Name)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if vs, ok := s.(*ast.ValueSpec); ok {
					for _, n := range vs.Names {
						names = append(names, n.Name)
					}
				}
			}
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, "SQL") })
	slices.Sort(names)
	return names, nil
}

// driverNames returns every identifier the driver uses.
func driverNames() (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "driver.go", driverSource, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			used[id.Name] = true
		}
		return true
	})
	return used, nil
}
