package processor_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/processor"
)

// topicSeq gives every test its own topic prefix.
var topicSeq = struct {
	sync.Mutex
	n int
}{}

// startKafka starts a broker and creates the topics, with partitions
// partitions, under a fresh prefix.
func startKafka(t testing.TB, partitions int32, opts ...testenv.KafkaOpt) (*testenv.Kafka, kafka.Config) {
	t.Helper()
	k := testenv.StartKafka(t, opts...)
	topicSeq.Lock()
	topicSeq.n++
	prefix := fmt.Sprintf("t%d.", topicSeq.n)
	topicSeq.Unlock()
	return k, testenv.CreateTopics(t, kafka.Config{Brokers: []string{k.Addr()}, TopicPrefix: prefix, Partitions: partitions})
}

// runProcessor runs a processor until the test ends (or stop is called)
// and returns it with a function that stops it and waits for Run.
func runProcessor(t testing.TB, cfg processor.Config) (*processor.Processor, func()) {
	t.Helper()
	return runProcessorWith(t, cfg, nil)
}

func runProcessorWith(t testing.TB, cfg processor.Config, reg prometheus.Registerer) (*processor.Processor, func()) {
	t.Helper()
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 6 * time.Second
		cfg.TransactionTimeout = 5 * time.Second
	}
	p, err := processor.New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	return p, testenv.Go(t, "processor Run", p.Run)
}

// newWorkload returns the suite's workload: one tenant, a fixed set of
// incidents (most declared by their first command), a mix of commands the
// model applies or rejects, and about one in twenty re-sent (same id:
// duplicates).
func newWorkload(seed uint64, incidents int) *testenv.Workload {
	return testenv.NewWorkload(testenv.WorkloadConfig{Seed: seed, Incidents: incidents, RetryOneIn: 20})
}

// produce sends records and waits for the broker's acks.
func produce(t testing.TB, cfg kafka.Config, rs ...*kgo.Record) {
	t.Helper()
	cl := testenv.NewClient(t, cfg)
	defer cl.Close()
	testenv.Produce(t, cl, rs...)
}

// logEvents is the events topic decoded: per incident, in log order.
type logEvents struct {
	byIncident map[string][]incident.Event
	partition  map[string]int32 // incident -> partition
	byCommand  map[string][]incident.Event
}

func readEvents(t testing.TB, cfg kafka.Config) logEvents {
	t.Helper()
	le := logEvents{byIncident: map[string][]incident.Event{}, partition: map[string]int32{}, byCommand: map[string][]incident.Event{}}
	for _, r := range testenv.ReadTopic(t, cfg, cfg.Topics().Events) {
		e, err := wire.DecodeEvent(r.Value)
		if err != nil {
			t.Fatalf("events partition %d offset %d: %v", r.Partition, r.Offset, err)
		}
		if string(r.Key) != e.Incident {
			t.Fatalf("event %s has key %q", e.ID(), r.Key)
		}
		if p, ok := le.partition[e.Incident]; ok && p != r.Partition {
			t.Fatalf("incident %s has events on partitions %d and %d", e.Incident, p, r.Partition)
		}
		le.partition[e.Incident] = r.Partition
		le.byCommand[e.Command] = append(le.byCommand[e.Command], e)
		if !e.Notice() { // a notice is in no incident's history
			le.byIncident[e.Incident] = append(le.byIncident[e.Incident], e)
		}
	}
	return le
}

// checkLog checks the invariants of the events topic against the commands
// sent: every command has exactly one outcome (each command of the model
// yields one event), and every incident's versions run 1..n without
// duplicate or gap.
func (le logEvents) check(t testing.TB, commands map[string]incident.Command) {
	t.Helper()
	for id, c := range commands {
		evs := le.byCommand[id]
		if len(evs) != 1 {
			t.Errorf("command %s (%s on %s) has %d events, want exactly 1", id, c.Kind, c.Incident, len(evs))
		}
	}
	for id := range le.byCommand {
		if _, ok := commands[id]; !ok {
			t.Errorf("events for command %s, which was never sent", id)
		}
	}
	for id, evs := range le.byIncident {
		for i, e := range evs {
			if e.Version != uint64(i+1) {
				t.Errorf("incident %s: event %d of the log has version %d, want %d (duplicate or gap)", id, i, e.Version, i+1)
				break
			}
		}
	}
}

// foldState returns the encoded fold of an incident's first n events.
func (le logEvents) foldState(t testing.TB, id string, n uint64) []byte {
	t.Helper()
	evs := le.byIncident[id]
	if n > uint64(len(evs)) {
		t.Fatalf("incident %s: fold of %d events, the log has %d", id, n, len(evs))
	}
	b, err := wire.EncodeState(incident.Fold(incident.State{}, evs[:n]...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storeStates reads every state of a (closed) processor directory.
func storeStates(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	s, err := processor.OpenStore(dir+"/pebble", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string][]byte{}
	if err := s.Each(func(_ int32, id string, b []byte) error {
		out[id] = append([]byte(nil), b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkStore checks a processor's store against the log: every incident of
// the partitions in exact equals the fold of all its events; every other
// stored state equals the fold of the events up to its version.
func (le logEvents) checkStore(t testing.TB, name string, states map[string][]byte, exact map[int32]bool) {
	t.Helper()
	for id, part := range le.partition {
		if !exact[part] {
			continue
		}
		want := le.foldState(t, id, uint64(len(le.byIncident[id])))
		if got, ok := states[id]; !ok {
			t.Errorf("%s: incident %s (partition %d) missing from the store", name, id, part)
		} else if string(got) != string(want) {
			t.Errorf("%s: incident %s (partition %d):\n got %s\nwant %s", name, id, part, got, want)
		}
	}
	for id, b := range states {
		st, err := wire.DecodeState(b)
		if err != nil {
			t.Fatalf("%s: incident %s: %v", name, id, err)
		}
		if st.Version > uint64(len(le.byIncident[id])) {
			t.Errorf("%s: incident %s at version %d, the log has %d events", name, id, st.Version, len(le.byIncident[id]))
			continue
		}
		if want := le.foldState(t, id, st.Version); string(b) != string(want) {
			t.Errorf("%s: incident %s at version %d is not the fold of its events:\n got %s\nwant %s", name, id, st.Version, b, want)
		}
	}
}

func allPartitions(n int32) map[int32]bool {
	m := map[int32]bool{}
	for p := range n {
		m[p] = true
	}
	return m
}

func sortedKeys[V any](m map[int32]V) []int32 {
	var ks []int32
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// caughtUp reports whether the group has committed every command and the
// processor's output is stable: no transaction is open or still being
// completed on the events, changelog or dead-letter topics, so a
// read-committed reader sees every committed step.
//
// Committed offsets alone do not say that. Apache Kafka acknowledges
// EndTxn once the commit is prepared in its transaction log and writes the
// commit markers afterwards, partition by partition: the marker that makes
// the group's offsets visible can land before those of the events topic,
// and until they land the events' last stable offset stays at the
// transaction's first record. (kfake writes the markers before it answers.)
func caughtUp(t testing.TB, cfg kafka.Config, group string) bool {
	t.Helper()
	return committedAll(t, cfg, group, cfg.Topics().Events, cfg.Topics().Changelog, cfg.Topics().DeadLetters)
}

// committedAll reports whether the group has committed every command and
// every partition of stableTopics has no transaction open or being
// completed.
func committedAll(t testing.TB, cfg kafka.Config, group string, stableTopics ...string) bool {
	t.Helper()
	cl, err := kafka.NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, cfg.Topics().Commands)
	if err != nil || ends.Error() != nil {
		return false
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil || committed.Error() != nil {
		return false
	}
	ok := true
	ends.Each(func(lo kadm.ListedOffset) {
		if lo.Offset == 0 {
			return
		}
		c, found := committed.Lookup(lo.Topic, lo.Partition)
		if !found || c.At < lo.Offset {
			ok = false
		}
	})
	return ok && (len(stableTopics) == 0 || stable(ctx, adm, stableTopics...))
}

// stable reports whether every partition of topics has its last stable
// offset at its end: no transaction is open or being completed there.
func stable(ctx context.Context, adm *kadm.Client, topics ...string) bool {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil || ends.Error() != nil {
		return false
	}
	lsos, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil || lsos.Error() != nil {
		return false
	}
	ok := true
	ends.Each(func(lo kadm.ListedOffset) {
		if s, found := lsos.Lookup(lo.Topic, lo.Partition); !found || s.Offset < lo.Offset {
			ok = false
		}
	})
	return ok
}
