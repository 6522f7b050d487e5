package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe to read while run writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestUsageListsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), nil, &out, &out); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, c := range []string{"run", "broker", "topics", "ingress", "processor", "projector", "notifier", "rebuild"} {
		if !strings.Contains(out.String(), "  "+c+" ") {
			t.Errorf("usage does not list %q:\n%s", c, out.String())
		}
	}
	if code := run(context.Background(), []string{"frobnicate"}, &out, &out); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

func TestEnvironmentSetsFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	c := commonFlags(fs)
	if err := fs.Parse([]string{"-kafka.topic-prefix=cli."}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"INCIDENTD_KAFKA_TOPIC_PREFIX": "env.", "INCIDENTD_KAFKA_PARTITIONS": "3"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if err := applyEnv(fs, lookup); err != nil {
		t.Fatal(err)
	}
	if *c.prefix != "cli." || *c.partitions != 3 {
		t.Fatalf("prefix %q partitions %d: want the command line to win and the environment to fill the rest", *c.prefix, *c.partitions)
	}
	env["INCIDENTD_KAFKA_PARTITIONS"] = "many"
	fs = flag.NewFlagSet("y", flag.ContinueOnError)
	commonFlags(fs)
	if err := applyEnv(fs, lookup); err == nil || !strings.Contains(err.Error(), "INCIDENTD_KAFKA_PARTITIONS") {
		t.Fatalf("bad environment value: got %v, want an error naming the variable", err)
	}
}

// TestTopicsRefusesWrongPartitionCount checks that a topic with the wrong
// partition count is a clear start-up error, not silent corruption.
func TestTopicsRefusesWrongPartitionCount(t *testing.T) {
	k := testenv.StartKafka(t)
	var out, errOut syncBuffer
	args := []string{"topics", "-kafka.brokers=" + k.Addr(), "-kafka.partitions=4"}
	if code := run(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("first topics run: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "incidentd.commands") {
		t.Fatalf("topics output does not name the topics: %s", out.String())
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), "incidentd.events")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["incidentd.events"].Partitions); n != 4 {
		t.Fatalf("events topic has %d partitions, want 4", n)
	}
	args = []string{"topics", "-kafka.brokers=" + k.Addr(), "-kafka.partitions=6"}
	if code := run(context.Background(), args, &out, &errOut); code != 1 {
		t.Fatalf("wrong partition count: exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "partitions") {
		t.Fatalf("error does not explain the partition mismatch: %s", errOut.String())
	}
}

// TestRunStartsEverything starts "incidentd run" on the embedded broker,
// every listener on a free port, and checks that each part reports where it
// is (the projector says ClickHouse is unreachable: none runs here), then
// stops it.
func TestRunStartsEverything(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	args := []string{"run", "-data-dir=" + dir, "-broker.addr=127.0.0.1:0", "-ingress.addr=127.0.0.1:0",
		"-processor.http-addr=127.0.0.1:0", "-projector.clickhouse-addr=127.0.0.1:1", "-ingress.clickhouse-addr=127.0.0.1:1"}
	go func() { done <- run(ctx, args, &out, &errOut) }()
	parts := []string{"broker:", "ingress:", "processor:", "projector:", "notifier:", "all parts started"}
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := ""
		for _, p := range parts {
			if !strings.Contains(out.String(), p) {
				missing = p
				break
			}
		}
		if missing == "" {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d early:\n%s\n%s", code, out.String(), errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run did not report %q within 60s:\n%s\n%s", missing, out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond) // polling the output, bounded by the deadline
	}
	if strings.Contains(out.String(), "not built yet") {
		t.Errorf("a part is still a stub:\n%s", out.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("run exit %d after cancel:\n%s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop within 30s of cancel")
	}
}
