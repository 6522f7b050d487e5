package processor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/processor"
)

// writeChangelog writes states to the changelog in one transaction, which
// commits or aborts.
func writeChangelog(t testing.TB, kc kafka.Config, states []incident.State, commit bool) {
	t.Helper()
	cl, err := kafka.NewClient(kc, nil, kgo.TransactionalID("test-changelog-writer"), kgo.DefaultProduceTopic(kc.Topics().Changelog))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for _, s := range states {
		b, err := wire.EncodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &kgo.Record{Key: []byte(s.Incident), Value: b})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

func syntheticStates(from, n int, version uint64) []incident.State {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var out []incident.State
	for i := from; i < from+n; i++ {
		out = append(out, incident.State{
			Incident: fmt.Sprintf("in-%06d", i), Tenant: "t1", Version: version, Declared: true,
			Title: fmt.Sprintf("incident %d v%d", i, version), Severity: "SEV2", Status: incident.StatusOpen,
			DeclaredAt: at, UpdatedAt: at,
			Recent: []incident.Outcome{{Command: fmt.Sprintf("c-%d-%d", i, version), From: version, To: version}},
		})
	}
	return out
}

// TestRestoreFromChangelog restores a partition set from a changelog with
// committed and aborted transactions, then restores again from the
// checkpoint after more changelog records: only the new ones are read.
func TestRestoreFromChangelog(t *testing.T) {
	_, kc := startKafka(t, 3)
	const n = 3000
	want := map[string][]byte{}
	add := func(states []incident.State) {
		for _, s := range states {
			b, err := wire.EncodeState(s)
			if err != nil {
				t.Fatal(err)
			}
			want[s.Incident] = b
		}
	}
	v1, v2 := syntheticStates(0, n, 1), syntheticStates(0, 200, 2)
	writeChangelog(t, kc, v1, true)
	writeChangelog(t, kc, syntheticStates(100, 300, 99), false) // aborted: never restored
	writeChangelog(t, kc, v2, true)
	add(v1)
	add(v2)

	dir := t.TempDir()
	cfg := processor.Config{Kafka: kc, Dir: dir, InstanceID: "r"}
	reg := prometheus.NewRegistry()
	p, stop := runProcessorWith(t, cfg, reg)
	waitFor(t, 30*time.Second, "the processor to be ready", p.Ready)
	if got := len(p.Owned()); got != 3 {
		t.Fatalf("owns %d partitions, want 3", got)
	}
	// Compaction may already have dropped superseded records.
	if got := restoreRecords(t, reg); got < n || got > n+200 {
		t.Errorf("restored %v records, want %d to %d", got, n, n+200)
	}
	stop()
	checkStates(t, storeStates(t, dir), want)

	v3 := syntheticStates(1000, 50, 3)
	writeChangelog(t, kc, v3, true)
	add(v3)
	// The changelog now ends with an abort marker: the restore must still
	// see where the stable end is.
	writeChangelog(t, kc, syntheticStates(0, 3000, 98), false)
	reg = prometheus.NewRegistry()
	p, stop = runProcessorWith(t, cfg, reg)
	waitFor(t, 30*time.Second, "the processor to be ready again", p.Ready)
	if got := restoreRecords(t, reg); got != 50 {
		t.Errorf("restored %v records after the checkpoint, want 50", got)
	}
	stop()
	checkStates(t, storeStates(t, dir), want)
}

func restoreRecords(t testing.TB, reg *prometheus.Registry) float64 {
	t.Helper()
	return counter(t, reg, "incidentd_processor_restore_records_total")
}

// counter sums a counter's series.
func counter(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func checkStates(t testing.TB, got, want map[string][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("store has %d states, want %d", len(got), len(want))
	}
	bad := 0
	for id, w := range want {
		if g := got[id]; string(g) != string(w) && bad < 5 {
			bad++
			t.Errorf("incident %s:\n got %s\nwant %s", id, g, w)
		}
	}
}
