package testenv

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/eventlog"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// Condition is what Eventually polls: a func() bool that holds when true,
// or a func() error / func() string that holds when it returns nil / "",
// the non-nil error or non-empty string saying what is still missing.
type Condition interface {
	func() bool | func() error | func() string
}

// Eventually polls cond until it holds, and fails the test if it still does
// not after d, naming what it waited for and the condition's last reason.
// The polling interval starts at 5 ms and grows to 50 ms; it is a polling
// interval, not synchronisation.
func Eventually[C Condition](t testing.TB, d time.Duration, what string, cond C) {
	t.Helper()
	check := func() string {
		switch c := any(cond).(type) {
		case func() bool:
			if c() {
				return ""
			}
			return "condition false"
		case func() error:
			if err := c(); err != nil {
				return err.Error()
			}
			return ""
		case func() string:
			return c()
		}
		panic("unreachable: Condition has three shapes")
	}
	deadline := time.Now().Add(d)
	interval := 5 * time.Millisecond
	for {
		last := check()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, last)
		}
		time.Sleep(interval)
		interval = min(2*interval, 50*time.Millisecond)
	}
}

// CreateTopics applies cfg's defaults, creates incidentd's topics on the
// broker (kafka.EnsureTopics, as incidentd does at start) and returns the
// completed config.
func CreateTopics(t testing.TB, cfg kafka.Config) kafka.Config {
	t.Helper()
	cfg.Defaults()
	cl := NewClient(t, cfg)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kadm.NewClient(cl), cfg); err != nil {
		t.Fatalf("testenv: create topics: %v", err)
	}
	return cfg
}

// NewClient returns a client of cfg's brokers that produces without
// lingering, with opts applied after; it is closed when the test ends
// (closing it earlier is harmless).
func NewClient(t testing.TB, cfg kafka.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kafka.NewClient(cfg, nil, append([]kgo.Opt{kgo.ProducerLinger(0)}, opts...)...)
	if err != nil {
		t.Fatalf("testenv: kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Produce sends records through cl and waits for the broker's acks.
func Produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("testenv: produce: %v", err)
	}
}

// CommandRecord encodes c as ingress does: keyed by its incident id.
func CommandRecord(t testing.TB, topic string, c incident.Command) *kgo.Record {
	t.Helper()
	b, err := wire.EncodeCommand(c)
	if err != nil {
		t.Fatalf("testenv: encode command %s: %v", c.ID, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(c.Incident), Value: b}
}

// EventRecord encodes e as the processor does: keyed by its incident id.
func EventRecord(t testing.TB, topic string, e incident.Event) *kgo.Record {
	t.Helper()
	b, err := wire.EncodeEvent(e)
	if err != nil {
		t.Fatalf("testenv: encode event %s: %v", e.ID(), err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(e.Incident), Value: b}
}

// ReadTopic reads topic, read committed, from the start to its current
// stable end, and returns its records (control records left out).
func ReadTopic(t testing.TB, cfg kafka.Config, topic string) []*kgo.Record {
	t.Helper()
	recs, err := readTopic(cfg, topic)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return recs
}

// ReadTopicN waits until topic holds at least n records, read committed,
// and returns all it holds then.
func ReadTopicN(t testing.TB, cfg kafka.Config, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := NewClient(t, cfg, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	defer cl.Close()
	seen := 0
	Eventually(t, 60*time.Second, fmt.Sprintf("%d records on %s", n, topic), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		seen += cl.PollFetches(ctx).NumRecords()
		if seen < n {
			return fmt.Errorf("%d records", seen)
		}
		return nil
	})
	return ReadTopic(t, cfg, topic)
}

func readTopic(cfg kafka.Config, topic string) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kafka.NewClient(cfg, nil)
	if err != nil {
		return nil, err
	}
	ends, err := eventlog.StableEnds(ctx, cl, topic)
	cl.Close()
	if err != nil {
		return nil, err
	}
	var out []*kgo.Record
	err = eventlog.Read(ctx, cfg, nil, topic, ends, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// Go runs a service's blocking Run in a goroutine until the returned stop
// is called or the test ends; stop cancels its context and waits for it,
// at most 30 s. An error other than context.Canceled fails the test,
// named by what. A service that does not stop in time fails the test with
// the stacks of every goroutine of the process, which show where it hangs.
func Go(t testing.TB, what string, run func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("%s: %v", what, err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("%s did not stop within 30s; goroutines:\n%s", what, goroutines())
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// goroutines returns the stacks of every goroutine of the process, in
// runtime/pprof's debug=2 form (the form of an unrecovered panic).
func goroutines() string {
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		return "goroutine stacks: " + err.Error()
	}
	return b.String()
}
