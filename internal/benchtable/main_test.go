package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	in := `goos: linux
pkg: github.com/incidentd/incidentd/internal/wire
BenchmarkEncodeEvent-2   	 1000000	      1052 ns/op	     480 B/op	       6 allocs/op
pkg: github.com/incidentd/incidentd/processor
BenchmarkLatency-2   	       1	2000000000 ns/op	        12.5 p99_ms
PASS
`
	var out bytes.Buffer
	if err := table(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"internal/wire", "BenchmarkEncodeEvent-2", "1052", "p99_ms", "12.5", "processor"} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if err := table(strings.NewReader("PASS\n"), &out); err == nil {
		t.Error("no results: want an error")
	}
}
