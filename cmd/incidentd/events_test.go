package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
)

// printed is one line of "incidentd events", as a script reads it.
type printed struct {
	Topic     string           `json:"topic"`
	Partition int32            `json:"partition"`
	Offset    int64            `json:"offset"`
	Time      time.Time        `json:"time"`
	Key       string           `json:"key"`
	Command   *json.RawMessage `json:"command"`
	Event     *json.RawMessage `json:"event"`
	Error     string           `json:"error"`
}

// what is a line in short: KEY KIND NOTE, or KEY error.
func (p printed) what(t *testing.T) string {
	t.Helper()
	var raw *json.RawMessage
	switch {
	case p.Error != "":
		return p.Key + " error"
	case p.Command != nil:
		raw = p.Command
	case p.Event != nil:
		raw = p.Event
	default:
		t.Fatalf("a line with neither command, event nor error: %+v", p)
	}
	var v struct{ Incident, Kind, Note string }
	if err := json.Unmarshal(*raw, &v); err != nil {
		t.Fatalf("line's record %s: %v", *raw, err)
	}
	if v.Incident != p.Key {
		t.Fatalf("record of %s under key %s", v.Incident, p.Key)
	}
	return strings.TrimSpace(p.Key + " " + v.Kind + " " + v.Note)
}

// eventsCmd runs "incidentd events" with args and returns its lines.
func eventsCmd(t *testing.T, broker string, args ...string) []printed {
	t.Helper()
	var out, errOut syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := run(ctx, append([]string{"events", "-kafka.brokers=" + broker}, args...), &out, &errOut); code != 0 {
		t.Fatalf("events %q: exit %d: %s", args, code, errOut.String())
	}
	return parseLines(t, out.String())
}

func parseLines(t *testing.T, s string) []printed {
	t.Helper()
	var lines []printed
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var p printed
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		lines = append(lines, p)
	}
	return lines
}

func whats(t *testing.T, lines []printed) []string {
	t.Helper()
	var w []string
	for _, l := range lines {
		w = append(w, l.what(t))
	}
	return w
}

// produceTx writes recs in one transaction, committed or aborted.
func produceTx(t *testing.T, cl *kgo.Client, commit bool, recs ...*kgo.Record) {
	t.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

func commandRecord(t *testing.T, topic string, c incident.Command, at time.Time) *kgo.Record {
	t.Helper()
	b, err := wire.EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(c.Incident), Value: b, Timestamp: at}
}

// TestEventsPrintsTheLog produces commands and events on a real broker in
// transactions (one aborted, one with a record no decoder reads) and checks
// what "incidentd events" prints with each of its flags: committed records
// only, decoded, in log order per incident; the undecodable record shown,
// not skipped; -events.incident, -events.from-offset and -events.since
// selecting; -events.follow printing what is committed after it started.
func TestEventsPrintsTheLog(t *testing.T) {
	k := testenv.StartKafka(t)
	var out, errOut syncBuffer
	if code := run(context.Background(), []string{"topics", "-kafka.brokers=" + k.Addr(), "-kafka.partitions=3"}, &out, &errOut); code != 0 {
		t.Fatalf("topics: exit %d: %s", code, errOut.String())
	}
	topics := kafka.NewTopics("incidentd.")
	cl, err := kafka.NewClient(kafka.Config{Brokers: []string{k.Addr()}}, nil,
		kgo.TransactionalID("events-test"), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	old, recent := time.Now().Add(-2*time.Hour).Truncate(time.Millisecond), time.Now().Truncate(time.Millisecond)
	cmd := func(id string, kind incident.CommandKind, note string) incident.Command {
		c := incident.Command{ID: id + "-" + string(kind) + note, Incident: id, Tenant: "T1", Actor: "U1", At: old, Kind: kind, Note: note}
		if kind == incident.Declare {
			c.Title, c.Severity, c.Source = "server <down> & out", "SEV2", incident.Source{Kind: incident.FromDashboard}
		}
		return c
	}
	produceTx(t, cl, true,
		commandRecord(t, topics.Commands, cmd("inc-a", incident.Declare, ""), old),
		commandRecord(t, topics.Commands, cmd("inc-b", incident.Declare, ""), old),
		commandRecord(t, topics.Commands, cmd("inc-a", incident.AddNote, "first"), old),
	)
	produceTx(t, cl, false, commandRecord(t, topics.Commands, cmd("inc-a", incident.AddNote, "aborted"), recent))
	produceTx(t, cl, true,
		commandRecord(t, topics.Commands, cmd("inc-a", incident.AddNote, "second"), recent),
		&kgo.Record{Topic: topics.Commands, Key: []byte("inc-c"), Value: []byte("not a record"), Timestamp: recent},
	)
	// The events of inc-a's declaration, as the processor writes them.
	d := incident.Decide(incident.DefaultPolicy(), incident.State{}, cmd("inc-a", incident.Declare, ""), nil)
	var evRecs []*kgo.Record
	for _, ev := range d.Events {
		b, err := wire.EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		evRecs = append(evRecs, &kgo.Record{Topic: topics.Events, Key: []byte(ev.Incident), Value: b})
	}
	produceTx(t, cl, true, evRecs...)

	all := eventsCmd(t, k.Addr(), "-events.topic=commands")
	got := whats(t, all)
	slices.Sort(got)
	want := []string{"inc-a add_note first", "inc-a add_note second", "inc-a declare", "inc-b declare", "inc-c error"}
	if !slices.Equal(got, want) {
		t.Fatalf("commands printed: %q\nwant %q (committed only, the undecodable one shown)", got, want)
	}
	for _, l := range all {
		if l.Topic != topics.Commands || l.Time.IsZero() {
			t.Errorf("line without its topic or time: %+v", l)
		}
		if l.Key == "inc-a" && l.what(t) == "inc-a declare" && !strings.Contains(string(*l.Command), `"title":"server <down> & out"`) {
			t.Errorf("declaration printed as %s; want the title as typed", *l.Command)
		}
	}

	// One incident: its records in log order.
	if got, want := whats(t, eventsCmd(t, k.Addr(), "-events.topic=commands", "-events.incident=inc-a")),
		[]string{"inc-a declare", "inc-a add_note first", "inc-a add_note second"}; !slices.Equal(got, want) {
		t.Fatalf("-events.incident=inc-a: %q, want %q", got, want)
	}

	// From an offset: in every partition, the lines at or after it.
	var second int64 = -1
	for _, l := range all {
		if l.what(t) == "inc-a add_note first" {
			second = l.Offset
		}
	}
	var wantFrom []string
	for _, l := range all {
		if l.Offset >= second {
			wantFrom = append(wantFrom, l.what(t))
		}
	}
	gotFrom := whats(t, eventsCmd(t, k.Addr(), "-events.topic=commands", fmt.Sprintf("-events.from-offset=%d", second)))
	slices.Sort(gotFrom)
	slices.Sort(wantFrom)
	if !slices.Equal(gotFrom, wantFrom) {
		t.Fatalf("-events.from-offset=%d: %q, want %q", second, gotFrom, wantFrom)
	}

	// From a time: only what was written in the last hour.
	gotSince := whats(t, eventsCmd(t, k.Addr(), "-events.topic=commands", "-events.since=1h"))
	slices.Sort(gotSince)
	if want := []string{"inc-a add_note second", "inc-c error"}; !slices.Equal(gotSince, want) {
		t.Fatalf("-events.since=1h: %q, want %q", gotSince, want)
	}
	if got := eventsCmd(t, k.Addr(), "-events.topic=commands", "-events.since="+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
		t.Fatalf("-events.since an hour ahead printed %d lines", len(got))
	}

	// The events topic is the default.
	evs := eventsCmd(t, k.Addr())
	if len(evs) != len(d.Events) || evs[0].Event == nil {
		t.Fatalf("events printed: %+v, want the %d events of the declaration", evs, len(d.Events))
	}
	var first incident.Event
	if err := json.Unmarshal(*evs[0].Event, &struct {
		Incident *string
		Version  *uint64
		Kind     *incident.EventKind
	}{&first.Incident, &first.Version, &first.Kind}); err != nil || first.Incident != "inc-a" || first.Version != 1 || first.Kind != d.Events[0].Kind {
		t.Fatalf("first event printed as %s; want inc-a version 1 %s", *evs[0].Event, d.Events[0].Kind)
	}

	// Following: what is committed later is printed as it comes.
	var fout, ferr syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"events", "-kafka.brokers=" + k.Addr(), "-events.topic=commands", "-events.incident=inc-b", "-events.follow"}, &fout, &ferr)
	}()
	poll(t, 20*time.Second, "inc-b's declaration while following", func() bool { return strings.Contains(fout.String(), `"kind":"declare"`) })
	produceTx(t, cl, true, commandRecord(t, topics.Commands, cmd("inc-b", incident.AddNote, "later"), recent))
	poll(t, 20*time.Second, "the note committed after the follow started", func() bool { return strings.Contains(fout.String(), `"note":"later"`) })
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("events -events.follow: exit %d after interrupt: %s", code, ferr.String())
	}
	if got, want := whats(t, parseLines(t, fout.String())), []string{"inc-b declare", "inc-b add_note later"}; !slices.Equal(got, want) {
		t.Fatalf("followed: %q, want %q", got, want)
	}
}

// TestEventsRefusesBadFlags: wrong flags are told apart before anything is
// read, with exit code 1 and a reason.
func TestEventsRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-events.topic=changelog"},
		{"-events.since=yesterday"},
		{"-events.since=1h", "-events.from-offset=3"},
		{"-events.from-offset=-1"},
		{"extra"},
	} {
		var out, errOut syncBuffer
		code := run(context.Background(), append([]string{"events", "-kafka.brokers=127.0.0.1:1"}, args...), &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "events: ") || out.String() != "" {
			t.Errorf("events %q: exit %d, stderr %q, stdout %q; want 1 and a reason", args, code, errOut.String(), out.String())
		}
	}
}
