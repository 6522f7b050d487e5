package processor_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/processor"
)

// storeOutcomes reads every remembered outcome of a (closed) processor
// directory, encoded, by tenant and command id.
func storeOutcomes(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	s, err := processor.OpenStore(dir+"/pebble", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := map[string][]byte{}
	if err := s.EachOutcome(func(_ int32, o incident.Outcome, b []byte) error {
		out[o.Tenant+"/"+o.Command] = append([]byte(nil), b...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDedupWindowByTime sends 10,000 commands to one incident, then
// retries: a retry within the window (24 h of command time) is not applied
// again however many commands came since; the same id with another request
// is refused and changes nothing; a retry after the window is decided
// afresh. The window expires by command time (tombstones in the
// changelog), survives a restore from the changelog onto an empty store,
// and is what a rebuild from the events topic makes of the log.
//
// Steps of at most 500 commands (500 s of command time here) make the
// expiry's granularity: a step's outcomes go once its latest is out of
// the window.
func TestDedupWindowByTime(t *testing.T) {
	_, kc := startKafka(t, 1)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const id, notes = "in-dedup", 10000
	cmd := func(n int, at time.Duration, kind incident.CommandKind, note string) incident.Command {
		c := incident.Command{ID: fmt.Sprintf("c-%d", n), Incident: id, Tenant: "t1", Actor: "U1", At: base.Add(at), Kind: kind,
			Title: "db down", Note: note, Source: incident.Source{Kind: incident.FromDashboard}}
		c.Fingerprint = incident.Fingerprint(c)
		return c
	}
	// Command i is at base + i seconds: the 10,000 notes span 2.8 hours.
	note := func(i int) incident.Command {
		return cmd(i, time.Duration(i)*time.Second, incident.AddNote, fmt.Sprintf("note %d", i))
	}
	retry := func(c incident.Command, at time.Duration) incident.Command {
		c.At = base.Add(at) // ingress stamps every attempt with its own time
		return c
	}
	topic := kc.Topics().Commands
	var rs []*kgo.Record
	rs = append(rs, testenv.CommandRecord(t, topic, cmd(0, 0, incident.Declare, "")))
	for i := 1; i <= notes; i++ {
		rs = append(rs, testenv.CommandRecord(t, topic, note(i)))
	}
	reused := note(2)
	reused.Note, reused.Fingerprint = "another note", "f-other"
	rs = append(rs,
		testenv.CommandRecord(t, topic, retry(note(1), 3*time.Hour)),                         // the first note, 10,000 commands later
		testenv.CommandRecord(t, topic, retry(cmd(0, 0, incident.Declare, ""), 3*time.Hour)), // the declaration
		testenv.CommandRecord(t, topic, retry(reused, 3*time.Hour)),                          // its id, another request
		testenv.CommandRecord(t, topic, retry(note(3), 25*time.Hour)),                        // after the window
	)
	produce(t, kc, rs...)

	dir := t.TempDir()
	const batch = 500
	cfg := processor.Config{Kafka: kc, Dir: dir, InstanceID: "a", MaxBatch: batch}
	reg := prometheus.NewRegistry()
	_, stop := runProcessorWith(t, cfg, reg)
	testenv.Eventually(t, 60*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	stop()

	le := readEvents(t, kc)
	evs := le.byIncident[id]
	if len(evs) != 1+notes+1 {
		t.Fatalf("incident has %d events, want %d (declaration, notes, one note decided afresh)", len(evs), 2+notes)
	}
	for i, e := range evs {
		if e.Version != uint64(i+1) {
			t.Fatalf("event %d has version %d", i, e.Version)
		}
	}
	if n := len(le.byCommand["c-1"]); n != 1 {
		t.Errorf("the first note has %d events, want 1: its retry 10,000 commands later was applied again", n)
	}
	if n := len(le.byCommand["c-0"]); n != 1 {
		t.Errorf("the declaration has %d events, want 1", n)
	}
	if got := counter(t, reg, "incidentd_processor_duplicates_total"); got != 2 {
		t.Errorf("duplicates metric %v, want 2", got)
	}
	c2 := le.byCommand["c-2"]
	if len(c2) != 2 || c2[0].Note != "note 2" || !c2[1].Notice() || c2[1].Rejection.Code != incident.CodeKeyReused {
		t.Errorf("c-2 and its reuse: %+v, want the note and a notice refusing the reused key", c2)
	}
	c3 := le.byCommand["c-3"]
	if len(c3) != 2 || c3[1].Version != notes+2 || !c3[1].At.Equal(base.Add(25*time.Hour)) {
		t.Errorf("c-3 retried after the window: %+v, want it decided afresh at version %d", c3, notes+2)
	}

	// The latest command time is 25 h: outcomes of commands before 1 h
	// are out of the window (the declaration and notes 1 to 3,599, less
	// c-3 remembered anew), and have expired with tombstones in the
	// changelog, but for those of the step that reaches past 1 h.
	outcomes := storeOutcomes(t, dir)
	for _, id := range []string{"c-0", "c-1", "c-2", fmt.Sprint("c-", 3599-batch)} {
		if _, ok := outcomes["t1/"+id]; ok {
			t.Errorf("%s is still remembered at 25h", id)
		}
	}
	for _, id := range []string{"c-3", "c-3600", "c-10000"} {
		if _, ok := outcomes["t1/"+id]; !ok {
			t.Errorf("%s is forgotten at 25h", id)
		}
	}
	expired := int(counter(t, reg, "incidentd_processor_outcomes_expired_total"))
	if expired > 3599 || expired < 3599-batch {
		t.Errorf("%d outcomes expired, want %d less those of one step at most", expired, 3599)
	}
	if len(outcomes) != 1+notes-expired {
		t.Errorf("%d outcomes remembered, want %d", len(outcomes), 1+notes-expired)
	}
	tombstones := 0
	for _, r := range testenv.ReadTopic(t, kc, kc.Topics().Changelog) {
		if bytes.HasPrefix(r.Key, []byte("\x00d")) && r.Value == nil {
			tombstones++
		}
	}
	// A tombstone per batch of outcomes expired (one step's, here up to
	// 500); what they undo is checked by the restore below.
	if tombstones < expired/batch || tombstones > expired {
		t.Errorf("%d tombstones of outcome batches in the changelog for %d outcomes expired", tombstones, expired)
	}

	// A new instance's empty store restores the window from the changelog.
	dir2 := t.TempDir()
	cfg2 := processor.Config{Kafka: kc, Dir: dir2, InstanceID: "a"}
	p2, stop2 := runProcessor(t, cfg2)
	testenv.Eventually(t, 30*time.Second, "the restore", p2.Ready)
	stop2()
	restored := storeOutcomes(t, dir2)
	if len(restored) != len(outcomes) {
		t.Errorf("restored %d outcomes, want %d", len(restored), len(outcomes))
	}
	for k, b := range outcomes {
		if !bytes.Equal(restored[k], b) {
			t.Fatalf("outcome %s: restored %x, want %x", k, restored[k], b)
		}
	}
	// The restored window answers: a note within it is a duplicate, an
	// expired one is decided afresh.
	_, stop2 = runProcessor(t, cfg2)
	produce(t, kc, testenv.CommandRecord(t, topic, retry(note(9000), 26*time.Hour)), testenv.CommandRecord(t, topic, retry(note(10), 26*time.Hour)))
	testenv.Eventually(t, 30*time.Second, "the retries", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	stop2()
	le = readEvents(t, kc)
	if n := len(le.byCommand["c-9000"]); n != 1 {
		t.Errorf("c-9000 retried within the window after a restore: %d events, want 1", n)
	}
	if n := len(le.byCommand["c-10"]); n != 2 {
		t.Errorf("c-10 retried after the window: %d events, want 2", n)
	}

	rep, err := processor.Rebuild(context.Background(), cfg2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical() || rep.Outcomes == 0 || rep.OutcomesEqual != rep.Outcomes {
		t.Fatalf("rebuild: %+v, want the live window identical to the log's", rep)
	}
}

// TestOtherTenantsCommands sends commands of tenant t2 naming t1's incident,
// as a crafted command would: each is refused with a notice to t2, and t1's
// history, version and state are untouched.
func TestOtherTenantsCommands(t *testing.T) {
	_, kc := startKafka(t, 1)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const id = "in-t1"
	topic := kc.Topics().Commands
	c := func(n int, tenant string, kind incident.CommandKind) *kgo.Record {
		return testenv.CommandRecord(t, topic, incident.Command{ID: fmt.Sprintf("c-%d", n), Incident: id, Tenant: tenant, Actor: "U" + tenant,
			At: at.Add(time.Duration(n) * time.Second), Kind: kind, Title: "title of " + tenant, Severity: "SEV1", Note: "note of " + tenant,
			Source: incident.Source{Kind: incident.FromDashboard}})
	}
	produce(t, kc, c(1, "t1", incident.Declare),
		c(2, "t2", incident.Resolve), c(3, "t2", incident.SetSeverity), c(4, "t2", incident.AddNote),
		c(5, "t2", incident.Declare), c(6, "t2", incident.SetTitle),
		c(7, "t1", incident.Acknowledge))
	dir := t.TempDir()
	_, stop := runProcessor(t, processor.Config{Kafka: kc, Dir: dir, InstanceID: "a"})
	testenv.Eventually(t, 30*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	stop()

	le := readEvents(t, kc)
	evs := le.byIncident[id]
	if len(evs) != 2 || evs[0].Kind != incident.Declared || evs[1].Kind != incident.Acknowledged || evs[1].Version != 2 {
		t.Fatalf("t1's history: %+v, want its declaration and acknowledgement at versions 1 and 2", evs)
	}
	for n := 2; n <= 6; n++ {
		got := le.byCommand[fmt.Sprintf("c-%d", n)]
		if len(got) != 1 || !got[0].Notice() || got[0].Tenant != "t2" || got[0].Status != "" || got[0].Rejection == nil {
			t.Errorf("t2's command c-%d: %+v, want one notice to t2 that shows nothing of t1's incident", n, got)
		}
	}
	st, err := wire.DecodeState(storeStates(t, dir)[id])
	if err != nil {
		t.Fatal(err)
	}
	if st.Tenant != "t1" || st.Version != 2 || st.Status != incident.StatusAcknowledged || st.Title != "title of t1" || st.Notes != 0 {
		t.Fatalf("t1's incident: %+v", st)
	}
}

// TestRestoreSkipsMalformedOutcome restores a changelog holding a state,
// good batches of outcomes, one of them undone by its tombstone, the
// tombstone of a batch never written, and malformed outcome records: the
// malformed ones are skipped (the window forgets their commands) and the
// partition is restored and served.
func TestRestoreSkipsMalformedOutcome(t *testing.T) {
	_, kc := startKafka(t, 1)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	st := syntheticStates(0, 1, 1)[0]
	sb, err := wire.EncodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	outcome := func(id string) incident.Outcome {
		return incident.Outcome{Command: id, Tenant: "t1", Incident: st.Incident, At: at, From: 1, To: 1}
	}
	batch := func(n byte, ids ...string) *kgo.Record {
		var os []incident.Outcome
		for _, id := range ids {
			os = append(os, outcome(id))
		}
		b, err := wire.EncodeOutcomes(os)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Key: batchKey(n), Value: b}
	}
	writeChangelogRecords(t, kc, []*kgo.Record{
		{Key: []byte(st.Incident), Value: sb},
		batch(1, "c-good", "c-also"),
		{Key: batchKey(2), Value: []byte("not outcomes")},
		{Key: []byte("\x00d\x02t1c-bad"), Value: []byte("not a batch")},
		{Key: batchKey(3)}, // never written
		batch(4, "c-gone"),
		{Key: batchKey(4)}, // undone
	}, true)
	dir := t.TempDir()
	p, stop := runProcessor(t, processor.Config{Kafka: kc, Dir: dir, InstanceID: "a"})
	testenv.Eventually(t, 30*time.Second, "the restore", p.Ready)
	stop()
	got := storeOutcomes(t, dir)
	if len(got) != 2 || got["t1/c-good"] == nil || got["t1/c-also"] == nil {
		t.Fatalf("restored outcomes of %v, want c-good and c-also", slices.Collect(maps.Keys(got)))
	}
	if !bytes.Equal(storeStates(t, dir)[st.Incident], sb) {
		t.Fatal("the state was not restored")
	}
}

// batchKey is the changelog key of an outcomes batch named by n, at the
// latest time there is (a batch's name starts with its latest outcome's
// time).
func batchKey(n byte) []byte {
	k := append([]byte("\x00d"), bytes.Repeat([]byte{0xff}, 8)...)
	k = append(k, make([]byte, 7)...)
	return append(k, n)
}

// TestLargeStepSplitsOutcomes applies 10,000 commands in one step on one
// partition: their outcomes (some 1.2 MB) go to the changelog in records
// under the producer's and broker's 1 MB limit, and restore whole.
func TestLargeStepSplitsOutcomes(t *testing.T) {
	_, kc := startKafka(t, 1)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var rs []*kgo.Record
	for i := range 10000 {
		rs = append(rs, testenv.CommandRecord(t, kc.Topics().Commands, incident.Command{
			ID: fmt.Sprintf("c-%d-%s", i, strings.Repeat("x", 40)), Incident: fmt.Sprintf("in-%d", i%50), Tenant: "t1", Actor: "U1",
			At: at.Add(time.Duration(i) * time.Millisecond), Kind: incident.Declare, Title: "down", Source: incident.Source{Kind: incident.FromDashboard}}))
	}
	produce(t, kc, rs...)
	dir := t.TempDir()
	_, stop := runProcessor(t, processor.Config{Kafka: kc, Dir: dir, InstanceID: "a"})
	testenv.Eventually(t, 30*time.Second, "the processor to catch up", func() bool { return caughtUp(t, kc, processor.DefaultGroup) })
	stop()
	batches := 0
	for _, r := range testenv.ReadTopic(t, kc, kc.Topics().Changelog) {
		if bytes.HasPrefix(r.Key, []byte("\x00d")) {
			batches++
			if len(r.Value) > 300<<10 {
				t.Errorf("an outcomes record of %d bytes", len(r.Value))
			}
		}
	}
	if batches < 3 {
		t.Errorf("%d outcomes records for 10,000 outcomes, want them split", batches)
	}
	live := storeOutcomes(t, dir)
	dir2 := t.TempDir()
	p2, stop2 := runProcessor(t, processor.Config{Kafka: kc, Dir: dir2, InstanceID: "a"})
	testenv.Eventually(t, 30*time.Second, "the restore", p2.Ready)
	stop2()
	restored := storeOutcomes(t, dir2)
	if len(live) != 10000 || !maps.EqualFunc(live, restored, bytes.Equal) {
		t.Fatalf("%d outcomes live, %d restored, want the same 10,000", len(live), len(restored))
	}
}
