package wire_test

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

var at = time.Date(2026, 1, 1, 12, 0, 0, 123456789, time.UTC)

// history runs a realistic command sequence through the model and returns
// its commands, events and the states after each.
func history(t testing.TB) ([]incident.Command, []incident.Event, []incident.State) {
	p := incident.DefaultPolicy()
	cmds := []incident.Command{
		{Kind: incident.Declare, Title: "server down!", Severity: "SEV2", Source: incident.Source{Kind: incident.FromSlack, Team: "T1", Channel: "C1", ThreadTS: "1700000000.000100"}},
		{Kind: incident.Acknowledge},
		{Kind: incident.Assign, Role: incident.Commander, Person: "U2"},
		{Kind: incident.AddNote, Note: "rolled back \"deploy\" <42> & ünïcode"},
		{Kind: incident.PinMessage, Message: incident.SlackMessage{Channel: "C1", TS: "1700000000.000300", Author: "U7", Text: "error rate 40%", At: at.Add(-time.Minute)}},
		{Kind: incident.SetImpactStarted, ImpactStarted: at.Add(-time.Hour)},
		{Kind: incident.RecordSlackMessage, Message: incident.SlackMessage{Channel: "C1", TS: "1700000001.000200"}},
		{Kind: incident.Resolve},
		{Kind: incident.Resolve},
	}
	var s incident.State
	var events []incident.Event
	var states []incident.State
	for i := range cmds {
		cmds[i].ID = incident.CommandIDFor("test", string(rune('a'+i)))
		cmds[i].Incident = incident.SlackIncidentID("T1", "C1", "1700000000.000100")
		cmds[i].Tenant = "T1"
		cmds[i].Actor = "U1"
		cmds[i].At = at.Add(time.Duration(i) * time.Second)
		cmds[i].Fingerprint = incident.Fingerprint(cmds[i])
		d := incident.Decide(p, s, cmds[i], nil)
		s = incident.Fold(s, d.Events...)
		events = append(events, d.Events...)
		states = append(states, s)
	}
	if events[len(events)-1].Kind != incident.Rejected {
		t.Fatal("history should end with a rejection")
	}
	return cmds, events, states
}

// outcomes returns the outcomes of a history's events, one per event, and
// a notice's.
func outcomes(events []incident.Event) []incident.Outcome {
	var out []incident.Outcome
	for _, e := range events {
		out = append(out, incident.OutcomeOf([]incident.Event{e}))
	}
	n := events[0]
	n.Version, n.Kind, n.Rejection = 0, incident.Rejected, &incident.Rejection{Code: incident.CodeUnknownIncident, Reason: "not declared"}
	return append(out, incident.OutcomeOf([]incident.Event{n}))
}

func TestRoundTrip(t *testing.T) {
	cmds, events, states := history(t)
	for _, o := range outcomes(events) {
		b, err := wire.EncodeOutcome(o)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeOutcome(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, o) {
			t.Fatalf("outcome round trip:\n got %+v\nwant %+v", got, o)
		}
	}
	os := outcomes(events)
	b, err := wire.EncodeOutcomes(os)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := wire.DecodeOutcomes(b); err != nil || !reflect.DeepEqual(got, os) {
		t.Fatalf("outcomes round trip: %v\n got %+v\nwant %+v", err, got, os)
	}
	var buf []byte
	var recs [][]byte
	for _, o := range os {
		start := len(buf)
		if buf, err = wire.AppendOutcome(buf, o); err != nil {
			t.Fatal(err)
		}
		one, _ := wire.EncodeOutcome(o)
		if !bytes.Equal(buf[start:], one) {
			t.Fatalf("AppendOutcome %x, EncodeOutcome %x", buf[start:], one)
		}
		recs = append(recs, buf[start:])
	}
	if joined := wire.JoinOutcomes(recs); !bytes.Equal(joined, b) {
		t.Fatalf("JoinOutcomes %x, EncodeOutcomes %x", joined, b)
	}
	for _, c := range cmds {
		b, err := wire.EncodeCommand(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeCommand(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("command round trip:\n got %+v\nwant %+v", got, c)
		}
	}
	for _, e := range events {
		b, err := wire.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeEvent(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("event round trip:\n got %+v\nwant %+v", got, e)
		}
	}
	for _, s := range states {
		b, err := wire.EncodeState(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("state round trip:\n got %+v\nwant %+v", got, s)
		}
		again, _ := wire.EncodeState(got)
		if string(again) != string(b) {
			t.Fatalf("state encoding is not deterministic:\n%s\n%s", b, again)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"empty", ``, wire.ErrMalformed},
		{"not json", `server down`, wire.ErrMalformed},
		{"future version", `{"v":2,"type":"event","data":{}}`, wire.ErrUnknownVersion},
		{"no version", `{"type":"event","data":{}}`, wire.ErrUnknownVersion},
		{"command as event", `{"v":1,"type":"command","data":{}}`, wire.ErrWrongType},
		{"unknown field", `{"v":1,"type":"event","data":{"incident":"i","version":1,"kind":"declared","extra":1}}`, wire.ErrMalformed},
		{"no version number", `{"v":1,"type":"event","data":{"incident":"i","kind":"declared"}}`, wire.ErrMalformed},
		{"unknown kind", `{"v":1,"type":"event","data":{"incident":"i","version":1,"kind":"exploded"}}`, wire.ErrMalformed},
		{"bad time", `{"v":1,"type":"event","data":{"incident":"i","version":1,"kind":"declared","at":"yesterday"}}`, wire.ErrMalformed},
	} {
		if _, err := wire.DecodeEvent([]byte(tc.in)); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to every decoder: none may panic, and
// whatever decodes re-encodes to something that decodes to the same value.
func FuzzDecode(f *testing.F) {
	cmds, events, states := history(f)
	for i := range cmds {
		b, _ := wire.EncodeCommand(cmds[i])
		f.Add(b)
	}
	for i := range events {
		b, _ := wire.EncodeEvent(events[i])
		f.Add(b)
		b, _ = wire.EncodeState(states[min(i, len(states)-1)])
		f.Add(b)
	}
	for _, o := range outcomes(events) {
		b, _ := wire.EncodeOutcome(o)
		f.Add(b)
	}
	b, _ := wire.EncodeOutcomes(outcomes(events))
	f.Add(b)
	f.Add([]byte(`{"v":1,"type":"event","data":null}`))
	if raw, err := os.ReadFile("testdata/v1.jsonl"); err == nil {
		for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := wire.DecodeCommand(b); err == nil {
			enc, err := wire.EncodeCommand(c)
			if err != nil {
				t.Fatal(err)
			}
			c2, err := wire.DecodeCommand(enc)
			if err != nil || !reflect.DeepEqual(c, c2) {
				t.Fatalf("command does not survive re-encoding: %v\n%+v\n%+v", err, c, c2)
			}
		}
		if e, err := wire.DecodeEvent(b); err == nil {
			enc, err := wire.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wire.DecodeEvent(enc); err != nil {
				t.Fatalf("event does not survive re-encoding: %v", err)
			}
		}
		if s, err := wire.DecodeState(b); err == nil {
			if _, err := wire.EncodeState(s); err != nil {
				t.Fatal(err)
			}
		}
		if os, err := wire.DecodeOutcomes(b); err == nil {
			enc, err := wire.EncodeOutcomes(os)
			if err != nil {
				t.Fatal(err)
			}
			if os2, err := wire.DecodeOutcomes(enc); err != nil || !reflect.DeepEqual(os, os2) {
				t.Fatalf("outcomes do not survive re-encoding: %v", err)
			}
		}
		if o, err := wire.DecodeOutcome(b); err == nil {
			enc, err := wire.EncodeOutcome(o)
			if err != nil {
				t.Fatal(err)
			}
			o2, err := wire.DecodeOutcome(enc)
			if err != nil || !reflect.DeepEqual(o, o2) {
				t.Fatalf("outcome does not survive re-encoding: %v\n%+v\n%+v", err, o, o2)
			}
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	_, events, _ := history(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := wire.EncodeEvent(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodeNeedsData(t *testing.T) {
	for _, in := range []string{`{"v":1,"type":"command"}`, `{"v":1,"type":"command","data":null}`, `{"v":1,"type":"command","data":{}} {}`} {
		if _, err := wire.DecodeCommand([]byte(in)); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", in, err)
		}
	}
}

func BenchmarkDecodeCommand(b *testing.B) {
	cmds, _, _ := history(b)
	enc, err := wire.EncodeCommand(cmds[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.DecodeCommand(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	_, events, _ := history(b)
	encs := make([][]byte, len(events))
	for i, e := range events {
		var err error
		if encs[i], err = wire.EncodeEvent(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := wire.DecodeEvent(encs[i%len(encs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeState(b *testing.B) {
	_, _, states := history(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := wire.EncodeState(states[i%len(states)]); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReadsVersion1 decodes records written by the version 1 (JSON)
// encoder, kept in testdata/v1.jsonl, so topics written before version 2
// still replay: they must give the same values as the history they came
// from, and re-encode as version 2.
func TestReadsVersion1(t *testing.T) {
	cmds, events, states := history(t)
	// Version 1 had no fingerprints.
	for i := range cmds {
		cmds[i].Fingerprint = ""
	}
	for i := range events {
		events[i].Fingerprint = ""
	}
	raw, err := os.ReadFile("testdata/v1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	if len(lines) != len(cmds)+len(events)+len(states) {
		t.Fatalf("%d version 1 records, want %d", len(lines), len(cmds)+len(events)+len(states))
	}
	for i, c := range cmds {
		got, err := wire.DecodeCommand(lines[i])
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("v1 command %d: %v\n got %+v\nwant %+v", i, err, got, c)
		}
	}
	lines = lines[len(cmds):]
	for i, e := range events {
		got, err := wire.DecodeEvent(lines[i])
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("v1 event %d: %v\n got %+v\nwant %+v", i, err, got, e)
		}
	}
	lines = lines[len(events):]
	for i, s := range states {
		got, err := wire.DecodeState(lines[i])
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("v1 state %d: %v\n got %+v\nwant %+v", i, err, got, s)
		}
		v2, _ := wire.EncodeState(s)
		again, _ := wire.EncodeState(got)
		if !bytes.Equal(v2, again) {
			t.Fatalf("v1 state %d re-encodes differently from its original", i)
		}
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	_, events, _ := history(t)
	good, err := wire.EncodeEvent(events[0])
	if err != nil {
		t.Fatal(err)
	}
	with := func(b ...byte) []byte { return append(append([]byte(nil), good...), b...) }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"version byte only", []byte{wire.Version}, wire.ErrMalformed},
		{"future version", append([]byte{wire.Version + 1}, good[1:]...), wire.ErrUnknownVersion},
		{"command as event", append([]byte{wire.Version, 1}, good[2:]...), wire.ErrWrongType},
		{"unknown type", append([]byte{wire.Version, 9}, good[2:]...), wire.ErrMalformed},
		{"truncated", good[:len(good)-3], wire.ErrMalformed},
		{"unknown field", with(0xf8, 0x01, 0x01), wire.ErrMalformed},     // field 31, varint 1
		{"wrong wire type", with(0x10|5, 0, 0, 0, 0), wire.ErrMalformed}, // version as fixed32
		{"nanos past a second", with(0x32, 0x06, 0x10, 0x80, 0x94, 0xeb, 0xdc, 0x03), wire.ErrMalformed},
		{"year past 9999", with(0x32, 0x07, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x08), wire.ErrMalformed},
		{"no incident", []byte{wire.Version, 2, 0x10, 0x01, 0x3a, 0x08, 'd', 'e', 'c', 'l', 'a', 'r', 'e', 'd'}, wire.ErrMalformed},
	} {
		if _, err := wire.DecodeEvent(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := wire.DecodeEvent(good); err != nil {
		t.Fatalf("the unchanged record: %v", err)
	}
}

func TestEncodeRefusesTimesPastYear9999(t *testing.T) {
	_, events, _ := history(t)
	e := events[0]
	e.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := wire.EncodeEvent(e); err == nil {
		t.Fatal("an event in year 10000 encoded")
	}
}

// TestJSONRendering checks the JSON that "incidentd events" prints: every
// command and event of a history renders to the data of a version 1
// record, so wrapping it in the version 1 envelope decodes to the same
// value (nothing is lost or renamed), and people's text stays readable.
func TestJSONRendering(t *testing.T) {
	cmds, events, _ := history(t)
	for i, c := range cmds {
		b, err := wire.CommandJSON(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeCommand([]byte(`{"v":1,"type":"command","data":` + string(b) + `}`))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("command %d rendered as %s: %v\n got %+v\nwant %+v", i, b, err, got, c)
		}
	}
	for i, e := range events {
		b, err := wire.EventJSON(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.DecodeEvent([]byte(`{"v":1,"type":"event","data":` + string(b) + `}`))
		if err != nil || !reflect.DeepEqual(got, e) {
			t.Fatalf("event %d rendered as %s: %v\n got %+v\nwant %+v", i, b, err, got, e)
		}
	}
	note, _ := wire.CommandJSON(cmds[3])
	if !bytes.Contains(note, []byte(`"note":"rolled back \"deploy\" <42> & ünïcode"`)) || bytes.ContainsRune(note, '\n') {
		t.Errorf("a note renders as %s; want its text as typed, on one line", note)
	}
	rejected, _ := wire.EventJSON(events[len(events)-1])
	if !bytes.Contains(rejected, []byte(`"kind":"rejected"`)) || !bytes.Contains(rejected, []byte(`"command_kind":"resolve","rejection":{"code":"`)) {
		t.Errorf("the rejection renders as %s; want its kind, what was asked and the code", rejected)
	}
}

// TestReadsVersion2 decodes version 2 records: the same messages as
// version 3 without its fields, and states carrying their dedup window
// (State.recent, field 21), which is checked and dropped.
func TestReadsVersion2(t *testing.T) {
	cmds, events, states := history(t)
	c, e, s := cmds[1], events[1], states[len(states)-1]
	c.Fingerprint, e.Fingerprint = "", ""
	v2 := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		b[0] = 2
		return b
	}
	if got, err := wire.DecodeCommand(v2(wire.EncodeCommand(c))); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("v2 command: %v\n got %+v\nwant %+v", err, got, c)
	}
	if got, err := wire.DecodeEvent(v2(wire.EncodeEvent(e))); err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("v2 event: %v\n got %+v\nwant %+v", err, got, e)
	}
	// A state with a window of two outcomes, as version 2 wrote it.
	rec := v2(wire.EncodeState(s))
	for _, o := range [][]byte{
		{0x0a, 0x02, 'c', '1', 0x10, 0x01, 0x18, 0x01},
		{0x0a, 0x02, 'c', '2', 0x10, 0x02, 0x18, 0x02, 0x22, 0x09, 'n', 'o', '_', 'c', 'h', 'a', 'n', 'g', 'e'},
	} {
		rec = append(rec, 0xaa, 0x01, byte(len(o))) // field 21, length-delimited
		rec = append(rec, o...)
	}
	got, err := wire.DecodeState(rec)
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("v2 state with a window: %v\n got %+v\nwant %+v", err, got, s)
	}
	bad := append(append([]byte(nil), rec...), 0xaa, 0x01, 0x02, 0x78, 0x01) // an outcome with field 15
	if _, err := wire.DecodeState(bad); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("a malformed window decoded: %v", err)
	}
}

func TestDecodeOutcomeErrors(t *testing.T) {
	_, events, _ := history(t)
	good, err := wire.EncodeOutcome(incident.OutcomeOf(events[:1]))
	if err != nil {
		t.Fatal(err)
	}
	noIncident, _ := wire.EncodeOutcome(incident.Outcome{Command: "c1"})
	ev, _ := wire.EncodeEvent(events[0])
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"json", []byte(`{"v":1,"type":"outcome","data":{}}`), wire.ErrMalformed},
		{"no incident", noIncident, wire.ErrMalformed},
		{"an event", ev, wire.ErrWrongType},
		{"truncated", good[:len(good)-2], wire.ErrMalformed},
	} {
		if _, err := wire.DecodeOutcome(tc.in); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}
