package processor_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/processor"
)

// writeChangelog writes states to the changelog in one transaction, which
// commits or aborts.
func writeChangelog(t testing.TB, kc kafka.Config, states []incident.State, commit bool) {
	t.Helper()
	var rs []*kgo.Record
	for _, s := range states {
		b, err := wire.EncodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, &kgo.Record{Key: []byte(s.Incident), Value: b})
	}
	writeChangelogRecords(t, kc, rs, commit)
}

// writeChangelogRecords writes records to the changelog in one
// transaction, which commits or aborts.
func writeChangelogRecords(t testing.TB, kc kafka.Config, rs []*kgo.Record, commit bool) {
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
	testenv.Eventually(t, 30*time.Second, "the processor to be ready", p.Ready)
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
	testenv.Eventually(t, 30*time.Second, "the processor to be ready again", p.Ready)
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

// signalHandler closes seen when a record with message msg is logged.
type signalHandler struct {
	slog.Handler
	msg  string
	once *sync.Once
	seen chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.seen) })
	}
	return nil
}

func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestRestoreWaitsForStableChangelog restarts the processor while an open
// transaction holds the changelog's last stable offset below the
// processor's checkpoint (as Apache Kafka does for a moment after every
// commit, until it has written the markers): the restore waits for the
// stable offset instead of taking the log for lost and replaying it over
// newer states.
func TestRestoreWaitsForStableChangelog(t *testing.T) {
	_, kc := startKafka(t, 1)
	dir := t.TempDir()
	cfg := processor.Config{Kafka: kc, Dir: dir, InstanceID: "r"}
	// One workload throughout: every step changes the same incidents.
	w := newWorkload(11, 10)
	sent := map[string]incident.Command{}
	send := func(n int) {
		var rs []*kgo.Record
		for range n {
			c, _ := w.Next()
			sent[c.ID] = c
			rs = append(rs, testenv.CommandRecord(t, kc.Topics().Commands, c))
		}
		produce(t, kc, rs...)
	}
	send(100)
	_, stop := runProcessor(t, cfg)
	testenv.Eventually(t, 30*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })

	// A transaction opens on the changelog, and the processor commits
	// after it: its checkpoint is past the stable offset.
	open, err := kafka.NewClient(kc, nil, kgo.TransactionalID("test-open-txn"), kgo.DefaultProduceTopic(kc.Topics().Changelog),
		kgo.TransactionTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeState(syntheticStates(0, 1, 1)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(ctx, &kgo.Record{Key: []byte("in-000000"), Value: b}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	send(100)
	testenv.Eventually(t, 30*time.Second, "the processor to commit the commands", func() bool { return committedAll(t, kc, processor.DefaultGroup) })
	stop()

	seen := make(chan struct{})
	logger := slog.New(signalHandler{msg: "changelog not yet stable up to the checkpoint; waiting", once: &sync.Once{}, seen: seen})
	p, err := processor.New(cfg, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	defer func() {
		rcancel()
		if err := <-done; err != nil {
			t.Errorf("processor Run: %v", err)
		}
	}()
	waiting := func() bool {
		select {
		case <-seen:
			return true
		default:
			return false
		}
	}
	testenv.Eventually(t, 30*time.Second, "the restore to wait, or to finish", func() bool { return waiting() || p.Ready() })
	if !waiting() {
		t.Error("restored without waiting for the changelog to become stable up to the checkpoint")
	} else if p.Ready() {
		t.Error("ready while its partition's changelog is not yet restored")
	}
	if err := open.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the processor to be ready", p.Ready)
	send(100)
	testenv.Eventually(t, 30*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	rcancel()
	if err := <-done; err != nil {
		t.Fatalf("processor Run: %v", err)
	}
	done <- nil
	le := readEvents(t, kc)
	le.check(t, sent)
	le.checkStore(t, "processor", storeStates(t, dir), allPartitions(1))
}
