package kafka_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
)

// setup starts a broker and returns a config for it and an admin client.
// kadm caches metadata, unknown topics included, for 5s: checks after a
// change list topics with kadm.WithAuthorizedOps, which bypasses the cache.
func setup(t *testing.T) (context.Context, kafka.Config, *kadm.Client) {
	t.Helper()
	k := testenv.StartKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cfg := kafka.Config{Brokers: []string{k.Addr()}}
	cfg.Defaults()
	cl, err := kafka.NewClient(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return ctx, cfg, kadm.NewClient(cl)
}

func TestEnsureTopicsCreates(t *testing.T) {
	ctx, cfg, adm := setup(t)
	if err := kafka.EnsureTopics(ctx, adm, cfg); err != nil {
		t.Fatal(err)
	}
	tp := cfg.Topics()
	names := []string{tp.Commands, tp.Events, tp.Changelog, tp.DeadLetters}
	details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		d := details[name]
		if d.Err != nil {
			t.Fatalf("topic %s: %v", name, d.Err)
		}
		if got := len(d.Partitions); got != 6 {
			t.Errorf("topic %s has %d partitions, want 6", name, got)
		}
	}

	rcs, err := adm.DescribeTopicConfigs(ctx, tp.Changelog, tp.Events)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{
		tp.Changelog: {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"},
		tp.Events:    {"cleanup.policy": "delete", "retention.ms": "-1"},
	}
	for _, rc := range rcs {
		got := map[string]string{}
		for _, c := range rc.Configs {
			got[c.Key] = c.MaybeValue()
		}
		for k, v := range want[rc.Name] {
			if got[k] != v {
				t.Errorf("topic %s: %s=%q, want %q", rc.Name, k, got[k], v)
			}
		}
	}

	// A second run finds everything in place and changes nothing.
	if err := kafka.EnsureTopics(ctx, adm, cfg); err != nil {
		t.Fatalf("second run: %v", err)
	}
}

func TestEnsureTopicsWrongPartitionCount(t *testing.T) {
	ctx, cfg, adm := setup(t)
	configs := map[string]*string{"cleanup.policy": kadm.StringPtr("delete"), "retention.ms": kadm.StringPtr("-1")}
	if _, err := adm.CreateTopic(ctx, 3, -1, configs, "incidentd.events"); err != nil {
		t.Fatal(err)
	}
	err := kafka.EnsureTopics(ctx, adm, cfg)
	const want = `kafka: topic "incidentd.events" has 3 partitions, want 6 (commands, events and changelog must be co-partitioned)`
	if err == nil || err.Error() != want {
		t.Fatalf("EnsureTopics() = %v, want %s", err, want)
	}
	// The other topics were still created.
	details, lerr := adm.ListTopics(kadm.WithAuthorizedOps(ctx), "incidentd.commands", "incidentd.changelog")
	if lerr != nil {
		t.Fatal(lerr)
	}
	if details.Error() != nil {
		t.Fatalf("topics missing: %v", details.Error())
	}
	// And the error persists: nothing was silently repaired.
	if err := kafka.EnsureTopics(ctx, adm, cfg); err == nil || err.Error() != want {
		t.Fatalf("second run: %v, want %s", err, want)
	}
}

func TestEnsureTopicsWrongConfig(t *testing.T) {
	ctx, cfg, adm := setup(t)
	if _, err := adm.CreateTopic(ctx, 6, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")}, "incidentd.changelog"); err != nil {
		t.Fatal(err)
	}
	err := kafka.EnsureTopics(ctx, adm, cfg)
	const want = `kafka: topic "incidentd.changelog" has cleanup.policy=delete, want compact (deploy/topics.txt)`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("EnsureTopics() = %v, want it to contain %s", err, want)
	}
}

func TestEnsureTopicsPrefixAndPartitions(t *testing.T) {
	ctx, cfg, adm := setup(t)
	cfg.TopicPrefix, cfg.Partitions = "test-", 2
	if err := kafka.EnsureTopics(ctx, adm, cfg); err != nil {
		t.Fatal(err)
	}
	details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx), "test-commands")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(details["test-commands"].Partitions); got != 2 {
		t.Fatalf("test-commands has %d partitions, want 2", got)
	}
}

func TestNewClientProduceConsume(t *testing.T) {
	ctx, cfg, adm := setup(t)
	if err := kafka.EnsureTopics(ctx, adm, cfg); err != nil {
		t.Fatal(err)
	}
	topic := cfg.Topics().Commands
	cl, err := kafka.NewClient(cfg, nil,
		kgo.DefaultProduceTopic(topic),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := &kgo.Record{Key: []byte("inc-1"), Value: []byte("declare")}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatal("record not consumed before timeout")
		}
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		if fs.NumRecords() > 0 {
			if got := string(fs.Records()[0].Value); got != "declare" {
				t.Fatalf("consumed %q, want declare", got)
			}
			return
		}
	}
}

func TestNewClientInvalidConfig(t *testing.T) {
	if _, err := kafka.NewClient(kafka.Config{}, nil); err == nil || err.Error() != "kafka: no brokers" {
		t.Fatalf("NewClient(empty config) = %v, want kafka: no brokers", err)
	}
}

func TestEnsureTopicsConcurrent(t *testing.T) {
	ctx, cfg, adm := setup(t)
	const n = 4
	errc := make(chan error, n)
	for range n {
		go func() { errc <- kafka.EnsureTopics(ctx, adm, cfg) }()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Errorf("concurrent EnsureTopics: %v", err)
		}
	}
}
