package projector_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/verify"
	"github.com/incidentd/incidentd/projector"
	"github.com/incidentd/incidentd/readmodel"
)

// harness is a kfake broker and a ClickHouse server owned by one test,
// with the topics created and a producer for the events topic.
type harness struct {
	k    *testenv.Kafka
	ch   *testenv.ClickHouse
	conn driver.Conn
	kcfg kafka.Config
	prod *kgo.Client
	db   string
	// logs, if set, also receives the log of every projector run starts.
	logs *logRecorder
}

// logRecorder is a slog handler that keeps the messages logged through it.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Message)
	return nil
}

// logged reports whether msg was logged.
func (r *logRecorder) logged(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.msgs, msg)
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{k: testenv.StartKafka(t), ch: testenv.StartClickHouse(t), db: "incidentd"}
	h.kcfg = testenv.CreateTopics(t, kafka.Config{Brokers: []string{h.k.Addr()}, Partitions: 3})
	conn, err := projector.OpenClickHouse(h.ch.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.conn = conn
	h.prod = testenv.NewClient(t, h.kcfg)
	return h
}

// testLogger logs to the test's output when -v is given, else nowhere.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// run starts a projector; the returned function stops it and waits for
// Run to return (also done at cleanup).
func (h *harness) run(t testing.TB, edit func(*projector.Config)) (stop func()) {
	t.Helper()
	stop, _ = h.runWithRegistry(t, edit)
	return stop
}

// runWithRegistry is run, also returning the projector's metrics registry.
func (h *harness) runWithRegistry(t testing.TB, edit func(*projector.Config)) (stop func(), reg *prometheus.Registry) {
	t.Helper()
	cfg := projector.Config{
		Kafka: h.kcfg, Database: h.db, FlushInterval: 200 * time.Millisecond,
		LagInterval: 500 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	reg = prometheus.NewRegistry()
	logger := testLogger(t)
	if h.logs != nil {
		logger = slog.New(h.logs)
	}
	p, err := projector.New(cfg, h.conn, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Go(t, "projector Run", p.Run), reg
}

// produce writes events to the events topic, keyed by incident.
func (h *harness) produce(t testing.TB, events ...incident.Event) {
	t.Helper()
	recs := make([]*kgo.Record, 0, len(events))
	for _, e := range events {
		recs = append(recs, testenv.EventRecord(t, h.kcfg.Topics().Events, e))
	}
	testenv.Produce(t, h.prod, recs...)
}

// world is the event stream of the test kit's workload (several tenants,
// time advancing up to ten minutes a command, rejections: wrong tenant,
// invalid transitions, unknown ids; retried commands) decided by the model,
// with what the projection of each incident should be.
type world struct {
	gen      *testenv.Workload
	policy   incident.Policy
	tenants  []string
	states   map[string]incident.State
	outcomes incident.Memory    // for retried commands
	ids      []string           // every id commands were sent to, first use first
	cmds     []incident.Command // every command issued, in order, retries included
	events   []incident.Event
}

func newWorld(seed uint64, tenants ...string) *world {
	return &world{
		gen: testenv.NewWorkload(testenv.WorkloadConfig{Seed: seed, Tenants: tenants, Rejects: true, RetryOneIn: 30,
			Step: time.Second, MaxStep: time.Second + 10*time.Minute}),
		policy: incident.DefaultPolicy(), tenants: tenants, states: map[string]incident.State{}, outcomes: incident.Memory{},
	}
}

// now is the time of the latest command.
func (w *world) now() time.Time { return w.gen.Now() }

// step issues one command and returns the events it produced (none for a
// retry).
func (w *world) step() []incident.Event {
	c, _ := w.gen.Next()
	w.ids = w.gen.Incidents()
	w.cmds = append(w.cmds, c)
	d := w.outcomes.Decide(w.policy, w.states[c.Incident], c)
	w.states[c.Incident] = incident.Fold(w.states[c.Incident], d.Events...)
	w.events = append(w.events, d.Events...)
	return d.Events
}

// projected is how many of the world's events are projected: all but the
// notices, which are in no incident's history.
func (w *world) projected() int {
	n := 0
	for _, e := range w.events {
		if !e.Notice() {
			n++
		}
	}
	return n
}

// run issues commands until n events exist.
func (w *world) run(n int) []incident.Event {
	start := len(w.events)
	for len(w.events)-start < n {
		w.step()
	}
	return w.events[start:]
}

// want returns the expected projection of an incident: its folded state
// and the events its tenant sees.
func (w *world) want(id string) (incident.State, []incident.Event) {
	var s incident.State
	var evs []incident.Event
	for _, e := range w.events {
		if e.Incident != id || e.Notice() { // notices are not projected
			continue
		}
		s = incident.Evolve(s, e)
		evs = append(evs, e)
	}
	var mine []incident.Event
	for _, e := range evs {
		if e.Tenant == s.Tenant {
			mine = append(mine, e)
		}
	}
	return s, mine
}

// waitProjected waits until every declared incident of w is projected at
// its latest version.
func waitProjected(t testing.TB, q *readmodel.Queries, w *world, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	testenv.Eventually(t, d, "projection caught up", func() error {
		for _, id := range w.ids {
			s := w.states[id]
			if !s.Declared {
				continue
			}
			v, err := q.Version(ctx, s.Tenant, id)
			if err != nil {
				return err
			}
			if v != s.Version {
				return fmt.Errorf("%s at version %d, want %d", id, v, s.Version)
			}
		}
		return nil
	})
}

// checkProjection compares every incident's projection with the fold of
// its events, and checks that no tenant sees another's incidents.
func checkProjection(t testing.TB, q *readmodel.Queries, w *world) {
	t.Helper()
	ctx := context.Background()
	declared := 0
	for i, id := range w.ids {
		want, wantEvents := w.want(id)
		for j, tenant := range w.tenants {
			// The owner and one other tenant (all of them for undeclared ids).
			if want.Declared && tenant != want.Tenant && j != i%len(w.tenants) {
				continue
			}
			tl, err := q.Get(ctx, tenant, id)
			if !want.Declared || tenant != want.Tenant {
				if !errors.Is(err, readmodel.ErrNotFound) {
					t.Errorf("Get(%s, %s) = %v, want ErrNotFound", tenant, id, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("Get(%s, %s): %v", tenant, id, err)
				continue
			}
			declared++
			if !reflect.DeepEqual(tl.Incident, want) {
				t.Errorf("%s state:\n got %+v\nwant %+v", id, tl.Incident, want)
			}
			if !reflect.DeepEqual(tl.Events, wantEvents) {
				t.Errorf("%s timeline: got %d events, want %d\n got %s\nwant %s", id, len(tl.Events), len(wantEvents),
					summary(tl.Events), summary(wantEvents))
			}
		}
	}
	if declared == 0 {
		t.Fatal("no declared incident checked")
	}
}

func summary(evs []incident.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "%d:%s/%s ", e.Version, e.Kind, e.Tenant)
	}
	return b.String()
}

// waitVerified polls `verify clickhouse` on database until it reports no
// difference, and fails the test with the differences if it still does
// after d. Differences of the incidents in except (a test's deliberate
// fault: refused rows, a version the log never had) are left out.
func (h *harness) waitVerified(t testing.TB, database string, d time.Duration, except ...string) {
	t.Helper()
	testenv.Eventually(t, d, "verify clickhouse "+database, func() error { return h.verify(database, except...) })
}

// verify runs `verify clickhouse` on database once: nil when the tables
// equal the fold of the log (but for the incidents in except).
func (h *harness) verify(database string, except ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, diffs, err := verify.ClickHouse(ctx, h.conn, database, h.kcfg, nil)
	if err != nil {
		return err
	}
	var b strings.Builder
	n := 0
	for _, d := range append(l.LogProblems(), diffs...) {
		if slices.Contains(except, d.Incident) {
			continue
		}
		if n++; n <= 10 {
			b.WriteString("\n\t" + d.String())
		}
	}
	if n > 0 {
		return fmt.Errorf("%d differences over %d incidents of %d records:%s", n, len(l.Incidents), l.Records, b.String())
	}
	return nil
}

// waitGroupCommitted waits until group has committed n records of the
// events topic in all (the sum of its partitions' offsets: records produced
// outside transactions, from offset 0).
func (h *harness) waitGroupCommitted(t testing.TB, group string, n int64) {
	t.Helper()
	adm := kadm.NewClient(h.prod)
	testenv.Eventually(t, 30*time.Second, "the group's offsets committed", func() error {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			return err
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += max(o.At, 0) })
		if sum < n {
			return fmt.Errorf("committed %d of %d records", sum, n)
		}
		return nil
	})
}
