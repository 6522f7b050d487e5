// Command benchtable reads "go test -bench" output on stdin and prints one
// table row per benchmark with every metric it reported (ns/op, B/op and the
// custom ones from b.ReportMetric such as p99_ms or rows/s), so "make bench"
// ends with something a person can read at a glance.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

type row struct {
	pkg, name string
	metrics   map[string]string
}

func main() {
	if err := table(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
}

func table(in io.Reader, out io.Writer) error {
	var rows []row
	units := map[string]bool{}
	pkg := ""
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "pkg:":
			pkg = f[1]
		case len(f) >= 4 && strings.HasPrefix(f[0], "Benchmark"):
			r := row{pkg: pkg, name: f[0], metrics: map[string]string{}}
			for i := 2; i+1 < len(f); i += 2 {
				r.metrics[f[i+1]] = f[i]
				units[f[i+1]] = true
			}
			rows = append(rows, r)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no benchmark results on stdin")
	}
	cols := make([]string, 0, len(units))
	for u := range units {
		cols = append(cols, u)
	}
	sort.Strings(cols)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "package\tbenchmark\t%s\t\n", strings.Join(cols, "\t"))
	for _, r := range rows {
		vals := make([]string, len(cols))
		for i, c := range cols {
			if vals[i] = r.metrics[c]; vals[i] == "" {
				vals[i] = "-"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t\n", strings.TrimPrefix(r.pkg, "github.com/incidentd/incidentd/"), r.name, strings.Join(vals, "\t"))
	}
	return w.Flush()
}
