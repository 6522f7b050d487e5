// Package chsql extracts every SQL statement incidentd sends to ClickHouse,
// so CI can run them all on both servers it supports: Debian's
// clickhouse-server 18.16 (chsql's test) and a current ClickHouse engine
// (chDB, deploy/chsql/check.py). A statement only one of them accepts, or
// a query whose rows differ between them, fails the build.
//
// The projector builds all its SQL in projector/sql.go, a file that needs
// nothing but the standard library. Extract compiles a copy of that file as
// package main together with driver/driver.go, which calls every builder
// the way the projector does, with sample values and rows, binds the
// arguments as clickhouse-go does on the client, and prints the statements
// in the order a server must run them. Every top-level name of sql.go that
// starts with "sql" must be used by the driver, or Extract fails: a new
// statement cannot go unchecked.
package chsql

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Statement is one statement in the order a server runs them.
type Statement struct {
	Name    string `json:"name"`
	SQL     string `json:"sql"`     // arguments already bound
	Rows    bool   `json:"rows"`    // a query: returns rows
	Ordered bool   `json:"ordered"` // its rows come in a defined order

	// An INSERT as the projector sends it, a native batch: the statement
	// without VALUES, and the rows (JSON strings and numbers). SQL holds
	// the same INSERT with literal VALUES.
	Insert string  `json:"insert,omitempty"`
	Values [][]any `json:"values,omitempty"`

	// Result is the rows 18.16 returned, each value formatted by
	// fmt.Sprint; filled in by the test, compared by check.py.
	Result [][]string `json:"result,omitempty"`
}

// SQLFile is the file, relative to the module root, that holds all of the
// projector's SQL.
const SQLFile = "projector/sql.go"

//go:embed driver/driver.go
var driver []byte

// Extract returns the statements of SQLFile under the module root, as the
// driver builds them. It runs the go command in a temporary directory.
func Extract(root string) ([]Statement, error) {
	src, err := os.ReadFile(filepath.Join(root, SQLFile))
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	names, err := sqlNames(src)
	if err != nil {
		return nil, err
	}
	used, err := driverNames()
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
			SQLFile, strings.Join(missing, ", "))
	}

	dir, err := os.MkdirTemp("", "chsql-")
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	defer os.RemoveAll(dir)
	main, err := asMain(src)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"go.mod":    []byte("module chsqldriver\n\ngo 1.26\n"),
		"sql.go":    main,
		"driver.go": driver,
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, fmt.Errorf("chsql: %w", err)
		}
	}
	// Named on the command line, driver.go is built despite its
	// "ignore" build constraint.
	cmd := exec.Command(goCommand(), "run", "driver.go", "sql.go")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("chsql: run the driver on %s: %v\n%s"+
			"(when %s changes, update internal/chsql/driver/driver.go to call its builders as the projector does)",
			SQLFile, err, stderr.Bytes(), SQLFile)
	}
	var stmts []Statement
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(&stmts); err != nil {
		return nil, fmt.Errorf("chsql: driver output: %w", err)
	}
	if len(stmts) == 0 {
		return nil, errors.New("chsql: the driver printed no statements")
	}
	return stmts, nil
}

// goCommand returns the go command of the running toolchain's GOROOT if
// there is one, else "go" from PATH.
func goCommand() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// sqlNames returns the top-level functions, constants and variables of
// the file whose names start with "sql", and fails if the file imports
// anything outside the standard library (the driver builds it alone).
func sqlNames(src []byte) ([]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), SQLFile, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
			return nil, fmt.Errorf("chsql: %s imports %s: it must need only the standard library, so its statements can be extracted", SQLFile, path)
		}
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
	names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, "sql") })
	slices.Sort(names)
	return names, nil
}

// driverNames returns every identifier the driver uses.
func driverNames() (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "driver.go", driver, parser.SkipObjectResolution)
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

// asMain returns the file with its package clause changed to main.
func asMain(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, SQLFile, src, parser.PackageClauseOnly)
	if err != nil {
		return nil, fmt.Errorf("chsql: %w", err)
	}
	start := fset.Position(f.Name.Pos()).Offset
	end := fset.Position(f.Name.End()).Offset
	return slices.Concat(src[:start], []byte("main"), src[end:]), nil
}
