package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/notifier"
)

// TestVerifyClickHouse: after "rebuild clickhouse" the tables equal the
// log and "verify clickhouse" says so (exit 0); an event the tables do not
// hold yet is printed as a difference, with exit 1.
func TestVerifyClickHouse(t *testing.T) {
	t.Parallel()
	k := testenv.StartKafka(t)
	ch := testenv.StartClickHouse(t)
	common := []string{"-kafka.brokers=" + k.Addr(), "-kafka.partitions=2", "-projector.clickhouse-addr=" + ch.Addr()}
	var out, errOut syncBuffer
	if code := run(context.Background(), append([]string{"topics"}, common[:2]...), &out, &errOut); code != 0 {
		t.Fatalf("topics: exit %d: %s", code, errOut.String())
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	declared := incident.Event{Incident: "in-v", Version: 1, Command: "c1", Tenant: "acme", Actor: "U1", At: at,
		Kind: incident.Declared, Title: "verify me", Severity: "SEV2", Status: incident.StatusOpen, Source: incident.Source{Kind: incident.FromDashboard}}
	acked := incident.Event{Incident: "in-v", Version: 2, Command: "c2", Tenant: "acme", Actor: "U1", At: at.Add(time.Minute),
		Kind: incident.Acknowledged, Status: incident.StatusAcknowledged}
	produce := func(e incident.Event) {
		t.Helper()
		v, err := wire.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "incidentd.events", Key: []byte(e.Incident), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(declared)
	if code := run(context.Background(), append(append([]string{"rebuild"}, common...), "clickhouse"), &out, &errOut); code != 0 {
		t.Fatalf("rebuild: exit %d: %s", code, errOut.String())
	}
	out = syncBuffer{}
	if code := run(context.Background(), append(append([]string{"verify"}, common...), "clickhouse"), &out, &errOut); code != 0 {
		t.Fatalf("verify of equal tables: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "no difference: 1 incidents, 1 records") {
		t.Errorf("verify of equal tables printed %q", out.String())
	}

	produce(acked) // in the log, not in the tables
	out = syncBuffer{}
	if code := run(context.Background(), append(append([]string{"verify"}, common...), "clickhouse"), &out, &errOut); code != 1 {
		t.Fatalf("verify of tables behind the log: exit %d, want 1: %s", code, out.String())
	}
	for _, want := range []string{"in-v: event versions 2 missing from ClickHouse (log has 1-2)",
		"in-v: incidents row differs from the fold of the log: Version 1 (log: 2)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verify output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run(context.Background(), append(append([]string{"verify"}, common...), "nothing"), &out, &errOut); code != 1 {
		t.Errorf("verify of an unknown view: exit %d, want 1", code)
	}
}

// TestVerifyNotifier: after a notifier folded the log, "verify notifier"
// finds its store equal to the fold (exit 0); an event it has not folded
// is a difference (exit 1).
func TestVerifyNotifier(t *testing.T) {
	t.Parallel()
	k := testenv.StartKafka(t)
	dir := t.TempDir()
	common := []string{"-kafka.brokers=" + k.Addr(), "-kafka.partitions=2", "-data-dir=" + dir}
	var out, errOut syncBuffer
	if code := run(context.Background(), append([]string{"topics"}, common...), &out, &errOut); code != 0 {
		t.Fatalf("topics: exit %d: %s", code, errOut.String())
	}
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	declared := incident.Event{Incident: "in-n", Version: 1, Command: "c1", Tenant: "acme", Actor: "U1", At: at,
		Kind: incident.Declared, Title: "notify me", Severity: "SEV2", Status: incident.StatusOpen, Source: incident.Source{Kind: incident.FromDashboard}}
	acked := incident.Event{Incident: "in-n", Version: 2, Command: "c2", Tenant: "acme", Actor: "U1", At: at.Add(time.Minute),
		Kind: incident.Acknowledged, Status: incident.StatusAcknowledged}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(e incident.Event) {
		t.Helper()
		v, err := wire.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "incidentd.events", Key: []byte(e.Incident), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(declared)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"notifier"}, common...), &out, &errOut) }()
	outbox := filepath.Join(dir, "notifier", notifier.OutboxFile)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if es, err := notifier.ReadOutbox(outbox, 10); err == nil && len(es) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no card in the outbox within 20s: %s", errOut.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the outbox, bounded by the deadline
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("notifier exit %d: %s", code, errOut.String())
	}

	out = syncBuffer{}
	if code := run(context.Background(), append(append([]string{"verify"}, common...), "notifier"), &out, &errOut); code != 0 {
		t.Fatalf("verify of a notifier that folded the log: exit %d: %s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "no difference: 1 incidents, 1 records") {
		t.Errorf("verify printed %q", out.String())
	}
	produce(acked) // in the log, not folded by the stopped notifier
	out = syncBuffer{}
	if code := run(context.Background(), append(append([]string{"verify"}, common...), "notifier"), &out, &errOut); code != 1 {
		t.Fatalf("verify of a notifier behind the log: exit %d, want 1: %s", code, out.String())
	}
	if want := "in-n: the notifier's state differs from the fold of the log: Version 1 (log: 2)"; !strings.Contains(out.String(), want) {
		t.Errorf("verify output lacks %q:\n%s", want, out.String())
	}
}
