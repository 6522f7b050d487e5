package broker_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/broker"
)

// start runs the broker until the test ends and returns its address.
func start(t *testing.T, dir string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan string, 1)
	done := make(chan error, 1)
	cfg := broker.Config{Addr: "127.0.0.1:0", DataDir: dir}
	go func() { done <- broker.Run(ctx, cfg, slog.New(slog.DiscardHandler), func(a string) { readyc <- a }) }()
	select {
	case addr = <-readyc:
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("broker not ready after 10s")
	}
	stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	return addr, stop
}

func TestRunPersistsAcrossRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "broker")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	addr, stop := start(t, dir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, -1, -1, nil, "t"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("inc-1"), Value: []byte("kept")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.Close()
	stop()

	addr, stop = start(t, dir)
	defer stop()
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(details["t"].Partitions); got != broker.DefaultPartitions {
		t.Fatalf("topic t has %d partitions, want %d", got, broker.DefaultPartitions)
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("record not consumed after restart")
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		if fs.NumRecords() > 0 {
			if got := string(fs.Records()[0].Value); got != "kept" {
				t.Fatalf("consumed %q, want kept", got)
			}
			return
		}
	}
}

func TestRunAddrInUse(t *testing.T) {
	addr, stop := start(t, t.TempDir())
	defer stop()
	err := broker.Run(context.Background(), broker.Config{Addr: addr, DataDir: t.TempDir()}, nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "broker: listen: ") {
		t.Fatalf("Run on a used address = %v, want broker: listen: ...", err)
	}
}

func TestConfigValidate(t *testing.T) {
	var cfg broker.Config
	cfg.Defaults()
	if cfg != (broker.Config{Addr: "127.0.0.1:9092", DataDir: "./data/broker", Partitions: 6}) {
		t.Fatalf("defaults = %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, tc := range []struct {
		cfg  broker.Config
		want string
	}{
		{broker.Config{Addr: "nohost", DataDir: "d", Partitions: 1}, `broker: addr "nohost"`},
		{broker.Config{Addr: ":9092", DataDir: "d", Partitions: 1}, "the host must be one clients can dial"},
		{broker.Config{Addr: "0.0.0.0:9092", DataDir: "d", Partitions: 1}, "the host must be one clients can dial"},
		{broker.Config{Addr: "127.0.0.1:9092", Partitions: 1}, "broker: no data dir"},
		{broker.Config{Addr: "127.0.0.1:9092", DataDir: "d", Partitions: -2}, "broker: partitions -2"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
