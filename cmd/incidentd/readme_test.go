package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the README's configuration table from the flags")

// TestREADMEConfig keeps the README's configuration table true to the
// flags: every flag of every command, with its environment variable and
// default. Run with -update to regenerate it.
func TestREADMEConfig(t *testing.T) {
	type row struct{ name, env, def, usage, cmds string }
	rows := map[string]*row{}
	for _, c := range subcommands() {
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		commonFlags(fs)
		c.setup(fs)
		fs.VisitAll(func(f *flag.Flag) {
			r, ok := rows[f.Name]
			if !ok {
				r = &row{name: f.Name, env: envName(f.Name), def: f.DefValue, usage: f.Usage}
				rows[f.Name] = r
			}
			r.cmds += " " + c.name
		})
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| flag | environment | default | what |\n| --- | --- | --- | --- |\n")
	for _, n := range names {
		r := rows[n]
		def := r.def
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `-%s` | `%s` | `%s` | %s |\n", r.name, r.env, def, strings.ReplaceAll(r.usage, "|", "\\|"))
	}
	table := b.String()

	const begin, end = "<!-- config:begin", "<!-- config:end -->"
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md has no config:begin/config:end markers")
	}
	i += strings.Index(s[i:], "\n") + 1
	if s[i:j] == table {
		return
	}
	if *update {
		if err := os.WriteFile("../../README.md", []byte(s[:i]+table+s[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's configuration table is out of date with the flags: run go test ./cmd/incidentd -run TestREADMEConfig -update\nwant:\n%s", table)
}
