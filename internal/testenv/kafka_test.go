package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/testenv"
)

func TestKafkaProduceConsumeAcrossRestart(t *testing.T) {
	k := testenv.StartKafka(t, testenv.WithDataDir(t.TempDir()))
	addr := k.Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, -1, nil, "t"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := cl.ProduceSync(ctx, kgo.StringRecord("before")).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	k.Restart(t)
	if got := k.Addr(); got != addr {
		t.Fatalf("address after restart = %s, want %s", got, addr)
	}

	// The client that was connected before the restart reconnects.
	if err := cl.ProduceSync(ctx, kgo.StringRecord("after")).FirstErr(); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	got := map[string]bool{}
	for len(got) < 2 {
		fs := consumer.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %v before timeout", got)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	if !got["before"] || !got["after"] {
		t.Fatalf("consumed %v, want before and after", got)
	}
}

func TestKafkaStopIsIdempotent(t *testing.T) {
	k := testenv.StartKafka(t)
	k.Stop()
	k.Stop()
	if k.Cluster() != nil {
		t.Fatal("cluster still set after Stop")
	}
}
