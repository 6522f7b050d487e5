package processor_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/processor"
)

// sendWorkload produces n commands of a workload (with re-sent duplicates)
// and returns the distinct commands sent, by id.
func sendWorkload(t testing.TB, cfg kafka.Config, seed uint64, incidents, n int) map[string]incident.Command {
	t.Helper()
	w := newWorkload(seed, incidents)
	sent := map[string]incident.Command{}
	var rs []*kgo.Record
	for range n {
		c, _ := w.Next()
		sent[c.ID] = c
		rs = append(rs, testenv.CommandRecord(t, cfg.Topics().Commands, c))
	}
	produce(t, cfg, rs...)
	return sent
}

func TestApplyCommandsOnceWithDeadLetters(t *testing.T) {
	_, kc := startKafka(t, 3)
	sent := sendWorkload(t, kc, 1, 30, 400)
	// Bad input: undecodable, and a key that is not the incident id.
	good := testenv.CommandRecord(t, kc.Topics().Commands, incident.Command{ID: "c-x", Incident: "in-x", Tenant: "t1", At: time.Now(), Kind: incident.Acknowledge})
	good.Key = []byte("in-other")
	noIncident := testenv.CommandRecord(t, kc.Topics().Commands, incident.Command{ID: "c-y", Tenant: "t1", At: time.Now(), Kind: incident.Acknowledge})
	produce(t, kc, &kgo.Record{Topic: kc.Topics().Commands, Key: []byte("in-bad"), Value: []byte("{not json")}, good, noIncident)
	sent2 := sendWorkload(t, kc, 2, 10, 50) // after the bad records: the partition goes on
	resent := 400 - len(sent) + 50 - len(sent2)

	dir := t.TempDir()
	cfg := processor.Config{Kafka: kc, Dir: dir, InstanceID: "a"}
	reg := prometheus.NewRegistry()
	p, stop := runProcessorWith(t, cfg, reg)
	testenv.Eventually(t, 30*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	if !p.Ready() {
		t.Error("caught up but not ready")
	}
	stop()

	for id, c := range sent2 {
		sent[id] = c
	}
	le := readEvents(t, kc)
	t.Logf("%d commands sent, %d incidents in the log, %d commands with events", len(sent), len(le.byIncident), len(le.byCommand))
	le.check(t, sent)
	if le.byCommand["c-x"] != nil || le.byCommand["c-y"] != nil {
		t.Error("a command with a mismatched key or no incident id was applied")
	}
	le.checkStore(t, "processor", storeStates(t, dir), allPartitions(3))

	if got := counter(t, reg, "incidentd_processor_duplicates_total"); got != float64(resent) {
		t.Errorf("duplicates metric %v, want %d (commands re-sent)", got, resent)
	}
	if got := counter(t, reg, "incidentd_processor_dead_letters_total"); got != 3 {
		t.Errorf("dead letters metric %v, want 3", got)
	}
	if got := counter(t, reg, "incidentd_processor_rejections_total"); got == 0 {
		t.Error("no rejections counted")
	}

	dead := testenv.ReadTopic(t, kc, kc.Topics().DeadLetters)
	if len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dead))
	}
	for _, r := range dead {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if h[processor.HeaderReason] == "" || h[processor.HeaderTopic] != kc.Topics().Commands ||
			h[processor.HeaderPartition] != strconv.Itoa(int(r.Partition)) || h[processor.HeaderOffset] == "" {
			t.Errorf("dead letter %q has headers %v", r.Key, h)
		}
	}

	rep, err := processor.Rebuild(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical() || rep.Equal != len(le.byIncident) {
		t.Fatalf("rebuild: %+v, want %d identical incidents", rep, len(le.byIncident))
	}
}

// TestCrashBetweenCommitAndStoreWrite stops the processor's goroutine right
// after a transaction commits and before Pebble is written (as kill -9
// would), then starts the same instance again: the restore from its
// checkpoint repairs the store, and nothing is applied twice.
func TestCrashBetweenCommitAndStoreWrite(t *testing.T) {
	_, kc := startKafka(t, 2)
	sent := sendWorkload(t, kc, 3, 20, 200)
	dir := t.TempDir()

	crashed := make(chan struct{})
	cfg := processor.Config{Kafka: kc, Dir: dir, InstanceID: "a", MaxBatch: 10,
		SessionTimeout: 6 * time.Second, TransactionTimeout: 5 * time.Second,
		AfterCommit: func(n int) {
			if n == 3 {
				runtime.Goexit() // the Run goroutine ends here; its defers close the store and client
			}
		}}
	p, err := processor.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(crashed)
		err := p.Run(context.Background())
		t.Errorf("the processor returned before the failpoint: %v", err)
	}()
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("failpoint not reached")
	}

	cfg.AfterCommit = nil
	_, stop := runProcessor(t, cfg)
	more := sendWorkload(t, kc, 4, 20, 100)
	for id, c := range more {
		sent[id] = c
	}
	testenv.Eventually(t, 30*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	stop()
	le := readEvents(t, kc)
	le.check(t, sent)
	le.checkStore(t, "processor", storeStates(t, dir), allPartitions(2))
}

// TestBrokerRestart restarts the broker (state kept in its data dir) while
// commands stream in: the processor rides it out, re-creating its Kafka
// session if it must, and every command still has exactly one outcome.
func TestBrokerRestart(t *testing.T) {
	k, kc := startKafka(t, 3, testenv.WithDataDir(t.TempDir()))
	dir := t.TempDir()
	_, stop := runProcessor(t, processor.Config{Kafka: kc, Dir: dir, InstanceID: "a"})
	sent := sendWorkload(t, kc, 5, 30, 300)
	k.Restart(t)
	for id, c := range sendWorkload(t, kc, 6, 30, 300) {
		sent[id] = c
	}
	testenv.Eventually(t, 60*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	stop()
	le := readEvents(t, kc)
	le.check(t, sent)
	le.checkStore(t, "processor", storeStates(t, dir), allPartitions(3))
}
