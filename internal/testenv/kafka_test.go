package testenv_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

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
	if testenv.KafkaBroker() == "kfake" && k.Cluster() != nil {
		t.Fatal("cluster still set after Stop")
	}
	if c, err := net.DialTimeout("tcp", k.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatalf("%s accepts connections after Stop", k.Addr())
	}
	k.Restart(t)
	if c, err := net.DialTimeout("tcp", k.Addr(), 5*time.Second); err != nil {
		t.Fatalf("%s after Restart: %v", k.Addr(), err)
	} else {
		c.Close()
	}
}

// TestKafkaStartsEmpty checks that a test never sees what an earlier test
// left on its broker: Apache Kafka brokers are reused within a test binary
// and emptied in between.
func TestKafkaStartsEmpty(t *testing.T) {
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			k := testenv.StartKafka(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic("left"),
				kgo.ConsumerGroup("left-group"), kgo.ConsumeTopics("left"),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			ts, err := adm.ListTopics(ctx)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := adm.ListGroups(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != 0 || len(gs) != 0 {
				t.Fatalf("new broker has topics %v and groups %v, want none", ts.Names(), gs.Groups())
			}

			// Leave a topic with a record and a group with a committed
			// offset behind for the next run.
			if _, err := adm.CreateTopic(ctx, 1, -1, nil, "left"); err != nil {
				t.Fatal(err)
			}
			for {
				err := cl.ProduceSync(ctx, kgo.StringRecord("x")).FirstErr()
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("produce: %v", err)
				}
			}
			for {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatal("record not consumed before timeout")
				}
				if fs.NumRecords() > 0 {
					break
				}
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				t.Fatalf("commit: %v", err)
			}
		})
	}
}

// TestKafkaFeatures checks that the broker runs what DESIGN.md relies on:
// transaction version 2 (KIP-890) and the KIP-848 consumer group protocol.
func TestKafkaFeatures(t *testing.T) {
	k := testenv.StartKafka(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "incidentd-testenv", "1"
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int16{}
	for _, f := range resp.FinalizedFeatures {
		got[f.Name] = f.MaxVersionLevel
	}
	for name, min := range map[string]int16{"transaction.version": 2, "group.version": 1} {
		if got[name] < min {
			t.Errorf("%s broker: feature %s at level %d, want at least %d (finalized: %v)", testenv.KafkaBroker(), name, got[name], min, got)
		}
	}
}

// TestKafkaTransactionsAcrossRestart checks that committed transactions
// survive a broker restart and that the same transactional producer goes
// on committing after it, as read-committed readers see.
func TestKafkaTransactionsAcrossRestart(t *testing.T) {
	k := testenv.StartKafka(t, testenv.WithDataDir(t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic("tx"),
		kgo.TransactionalID("testenv-tx"), kgo.TransactionTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, "tx"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	// commit produces n records in one transaction; it retries the whole
	// transaction while the broker (or a new topic) is not ready.
	commit := func(prefix string, n int) {
		t.Helper()
		for {
			err := cl.BeginTransaction()
			if err == nil {
				for i := range n {
					cl.Produce(ctx, kgo.StringRecord(fmt.Sprintf("%s-%d", prefix, i)), nil)
				}
				err = cl.Flush(ctx)
				commit := kgo.TryCommit
				if err != nil {
					commit = kgo.TryAbort
				}
				if eerr := cl.EndTransaction(ctx, commit); err == nil {
					err = eerr
				}
				if err == nil && commit == kgo.TryCommit {
					return
				}
			}
			if ctx.Err() != nil {
				t.Fatalf("transaction %s: %v", prefix, err)
			}
			select { // back off before the next try
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	commit("before", 10)
	k.Restart(t)
	commit("after", 10)

	reader, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.ConsumeTopics("tx"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	got := map[string]int{}
	for len(got) < 20 {
		fs := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of 20 records before timeout: %v", len(got), got)
		}
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
	}
	for v, n := range got {
		if n != 1 {
			t.Errorf("record %s read %d times, want once", v, n)
		}
	}
}
