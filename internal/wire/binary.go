package wire

import (
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/incidentd/incidentd/incident"
)

// The version 2 encoding: two header bytes (the version, then the record
// type), then the data as a Protocol Buffers message of incidentd.proto.
// The messages are written and read field by field with protowire, in
// field-number order, skipping zero values (proto3's defaults), so the
// bytes are deterministic.

// Record type bytes of the binary header.
const (
	binCommand  byte = 1
	binEvent    byte = 2
	binState    byte = 3
	binOutcome  byte = 4
	binOutcomes byte = 5
)

// binNames names the record types by their type byte.
var binNames = [...]string{binCommand: TypeCommand, binEvent: TypeEvent, binState: TypeState, binOutcome: TypeOutcome, binOutcomes: TypeOutcomes}

// The range of times a record can carry: years 0 to 9999, as RFC 3339 and
// version 1 allowed.
var (
	minSeconds = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxSeconds = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// --- encoding ---

type enc struct {
	b   []byte
	err error
}

func newEnc(typ byte, size int) enc {
	e := enc{b: make([]byte, 0, size)}
	e.b = append(e.b, Version, typ)
	return e
}

func (e *enc) str(n protowire.Number, s string) {
	if s != "" {
		e.b = protowire.AppendTag(e.b, n, protowire.BytesType)
		e.b = protowire.AppendString(e.b, s)
	}
}

func (e *enc) uint(n protowire.Number, v uint64) {
	if v != 0 {
		e.b = protowire.AppendTag(e.b, n, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, v)
	}
}

func (e *enc) int(n protowire.Number, v int64) { e.uint(n, uint64(v)) }

func (e *enc) bool(n protowire.Number, v bool) {
	if v {
		e.uint(n, 1)
	}
}

// sub writes a nested message with fill, or nothing if it is empty: the
// length is written once the message is, since it comes first.
func (e *enc) sub(n protowire.Number, fill func(*enc)) {
	start := len(e.b)
	e.b = protowire.AppendTag(e.b, n, protowire.BytesType)
	e.b = append(e.b, 0) // room for a one-byte length, the usual case
	body := len(e.b)
	fill(e)
	size := len(e.b) - body
	switch {
	case size == 0:
		e.b = e.b[:start]
	case size < 0x80:
		e.b[body-1] = byte(size)
	default:
		ln := protowire.SizeVarint(uint64(size))
		e.b = append(e.b, make([]byte, ln-1)...)
		copy(e.b[body+ln-1:], e.b[body:body+size])
		protowire.AppendVarint(e.b[:body-1], uint64(size))
	}
}

// time writes a google.protobuf.Timestamp; a zero time is left out.
func (e *enc) time(n protowire.Number, t time.Time) {
	if t.IsZero() {
		return
	}
	sec := t.Unix()
	if sec < minSeconds || sec > maxSeconds {
		if e.err == nil {
			e.err = fmt.Errorf("time %v outside years 0 to 9999", t)
		}
		return
	}
	// A present Timestamp is a set time, even 1970-01-01 (both fields zero).
	e.b = protowire.AppendTag(e.b, n, protowire.BytesType)
	size := 0
	if sec != 0 {
		size += 1 + protowire.SizeVarint(uint64(sec))
	}
	if ns := t.Nanosecond(); ns != 0 {
		size += 1 + protowire.SizeVarint(uint64(ns))
	}
	e.b = protowire.AppendVarint(e.b, uint64(size))
	if sec != 0 {
		e.b = protowire.AppendTag(e.b, 1, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, uint64(sec))
	}
	if ns := t.Nanosecond(); ns != 0 {
		e.b = protowire.AppendTag(e.b, 2, protowire.VarintType)
		e.b = protowire.AppendVarint(e.b, uint64(ns))
	}
}

func (e *enc) source(n protowire.Number, s incident.Source) {
	if s == (incident.Source{}) {
		return
	}
	e.sub(n, func(e *enc) {
		e.str(1, string(s.Kind))
		e.str(2, s.Team)
		e.str(3, s.Channel)
		e.str(4, s.ThreadTS)
	})
}

func (e *enc) message(n protowire.Number, m incident.SlackMessage) {
	if m.Channel == "" && m.TS == "" && m.Author == "" && m.Text == "" && m.At.IsZero() {
		return
	}
	e.sub(n, func(e *enc) {
		e.str(1, m.Channel)
		e.str(2, m.TS)
		e.str(3, m.Author)
		e.str(4, m.Text)
		e.time(5, m.At)
	})
}

func (e *enc) done(typ string) ([]byte, error) {
	if e.err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", typ, e.err)
	}
	return e.b, nil
}

func encodeCommand(c incident.Command) ([]byte, error) {
	e := newEnc(binCommand, 128+len(c.Title)+len(c.Note)+len(c.Message.Text)+len(c.Fingerprint))
	e.str(1, c.ID)
	e.str(2, c.Incident)
	e.str(3, c.Tenant)
	e.str(4, c.Actor)
	e.time(5, c.At)
	e.str(6, string(c.Kind))
	e.str(7, c.Title)
	e.str(8, c.Severity)
	e.source(9, c.Source)
	e.str(10, string(c.Role))
	e.str(11, c.Person)
	e.str(12, c.Note)
	e.message(13, c.Message)
	e.time(14, c.ImpactStarted)
	e.str(15, c.Fingerprint)
	return e.done(TypeCommand)
}

func encodeEvent(ev incident.Event) ([]byte, error) {
	e := newEnc(binEvent, 160+len(ev.Title)+len(ev.Note)+len(ev.Message.Text)+len(ev.Fingerprint))
	e.str(1, ev.Incident)
	e.uint(2, ev.Version)
	e.str(3, ev.Command)
	e.str(4, ev.Tenant)
	e.str(5, ev.Actor)
	e.time(6, ev.At)
	e.str(7, string(ev.Kind))
	e.str(8, ev.Title)
	e.str(9, ev.Severity)
	e.str(10, string(ev.Status))
	e.source(11, ev.Source)
	e.str(12, string(ev.Role))
	e.str(13, ev.Person)
	e.str(14, ev.Note)
	e.message(15, ev.Message)
	e.time(16, ev.ImpactStarted)
	e.str(17, string(ev.CommandKind))
	if r := ev.Rejection; r != nil {
		// A rejection is present even when empty: encode it by hand, since
		// sub leaves empty messages out.
		e.b = protowire.AppendTag(e.b, 18, protowire.BytesType)
		var body enc
		body.str(1, string(r.Code))
		body.str(2, r.Reason)
		e.b = protowire.AppendBytes(e.b, body.b)
	}
	e.str(19, ev.Fingerprint)
	return e.done(TypeEvent)
}

func encodeState(s incident.State) ([]byte, error) {
	e := newEnc(binState, 200+len(s.Title))
	e.str(1, s.Incident)
	e.str(2, s.Tenant)
	e.uint(3, s.Version)
	e.bool(4, s.Declared)
	e.str(5, s.Title)
	e.str(6, s.Severity)
	e.str(7, string(s.Status))
	e.str(8, s.Reporter)
	e.str(9, s.Commander)
	e.str(10, s.Assignee)
	e.source(11, s.Source)
	e.message(12, s.Card)
	e.time(13, s.DeclaredAt)
	e.time(14, s.ImpactStartedAt)
	e.time(15, s.AcknowledgedAt)
	e.time(16, s.MitigatedAt)
	e.time(17, s.ResolvedAt)
	e.time(18, s.UpdatedAt)
	e.int(19, int64(s.Notes))
	e.int(20, int64(s.Pins))
	return e.done(TypeState)
}

func outcomeSize(o incident.Outcome) int {
	return 64 + len(o.Command) + len(o.Tenant) + len(o.Incident) + len(o.Fingerprint) + len(o.Code)
}

func (e *enc) outcome(o incident.Outcome) {
	e.str(1, o.Command)
	e.uint(2, o.From)
	e.uint(3, o.To)
	e.str(4, string(o.Code))
	e.str(5, o.Tenant)
	e.str(6, o.Incident)
	e.str(7, o.Fingerprint)
	e.time(8, o.At)
}

func encodeOutcome(o incident.Outcome) ([]byte, error) {
	e := newEnc(binOutcome, outcomeSize(o))
	e.outcome(o)
	return e.done(TypeOutcome)
}

func appendOutcome(dst []byte, o incident.Outcome) ([]byte, error) {
	e := enc{b: append(dst, Version, binOutcome)}
	e.outcome(o)
	if e.err != nil {
		return dst, fmt.Errorf("wire: encode %s: %w", TypeOutcome, e.err)
	}
	return e.b, nil
}

// joinOutcomes builds an outcomes record from outcome records: their
// messages become the repeated field, byte for byte.
func joinOutcomes(records [][]byte) []byte {
	size := 2
	for _, r := range records {
		size += 1 + protowire.SizeBytes(len(r)-2)
	}
	b := make([]byte, 0, size)
	b = append(b, Version, binOutcomes)
	for _, r := range records {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, r[2:])
	}
	return b
}

func encodeOutcomes(os []incident.Outcome) ([]byte, error) {
	size := 2
	for _, o := range os {
		size += 3 + outcomeSize(o)
	}
	e := newEnc(binOutcomes, size)
	for _, o := range os {
		e.sub(1, func(e *enc) { e.outcome(o) })
	}
	return e.done(TypeOutcomes)
}

// --- decoding ---

// dec reads one message, b[i:end]. Decoded strings are substrings of s, a
// copy of the whole record made once: one allocation per record rather
// than one per string. The first error sticks; reads after it return
// zero values.
type dec struct {
	b      []byte
	s      string
	i, end int
	err    error
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *dec) more() bool { return d.err == nil && d.i < d.end }

// field reads the next field's tag.
func (d *dec) field() (protowire.Number, protowire.Type) {
	num, typ, n := protowire.ConsumeTag(d.b[d.i:d.end])
	if n < 0 {
		d.fail(protowire.ParseError(n))
		return 0, 0
	}
	d.i += n
	return num, typ
}

func (d *dec) unknown(num protowire.Number) { d.fail(fmt.Errorf("unknown field %d", num)) }

func (d *dec) want(num protowire.Number, got, want protowire.Type) bool {
	if got != want {
		d.fail(fmt.Errorf("field %d has wire type %d, want %d", num, got, want))
		return false
	}
	return true
}

// span reads a length-delimited value and returns where it is.
func (d *dec) span(num protowire.Number, typ protowire.Type) (lo, hi int) {
	if !d.want(num, typ, protowire.BytesType) {
		return 0, 0
	}
	v, n := protowire.ConsumeBytes(d.b[d.i:d.end])
	if n < 0 {
		d.fail(protowire.ParseError(n))
		return 0, 0
	}
	d.i += n
	return d.i - len(v), d.i
}

func (d *dec) str(num protowire.Number, typ protowire.Type) string {
	lo, hi := d.span(num, typ)
	return d.s[lo:hi]
}

func (d *dec) uint(num protowire.Number, typ protowire.Type) uint64 {
	if !d.want(num, typ, protowire.VarintType) {
		return 0
	}
	v, n := protowire.ConsumeVarint(d.b[d.i:d.end])
	if n < 0 {
		d.fail(protowire.ParseError(n))
		return 0
	}
	d.i += n
	return v
}

func (d *dec) int(num protowire.Number, typ protowire.Type) int {
	v := int64(d.uint(num, typ))
	if v < math.MinInt || v > math.MaxInt {
		d.fail(fmt.Errorf("field %d: %d out of range", num, v))
	}
	return int(v)
}

func (d *dec) bool(num protowire.Number, typ protowire.Type) bool {
	switch v := d.uint(num, typ); v {
	case 0, 1:
		return v == 1
	default:
		d.fail(fmt.Errorf("field %d: %d is not a bool", num, v))
		return false
	}
}

// sub returns a reader of the nested message in the next field; the
// caller hands it back to done once read.
func (d *dec) sub(num protowire.Number, typ protowire.Type) dec {
	lo, hi := d.span(num, typ)
	return dec{b: d.b, s: d.s, i: lo, end: hi, err: d.err}
}

func (d *dec) done(sub dec) { d.fail(sub.err) }

func (d *dec) time(num protowire.Number, typ protowire.Type) time.Time {
	m := d.sub(num, typ)
	var sec int64
	var ns uint64
	for m.more() {
		switch n, t := m.field(); n {
		case 1:
			sec = int64(m.uint(n, t))
		case 2:
			ns = m.uint(n, t)
		default:
			m.unknown(n)
		}
	}
	d.done(m)
	if sec < minSeconds || sec > maxSeconds || ns >= 1e9 {
		d.fail(fmt.Errorf("field %d: time %d.%09d outside years 0 to 9999", num, sec, ns))
		return time.Time{}
	}
	return time.Unix(sec, int64(ns)).UTC()
}

func (d *dec) source(num protowire.Number, typ protowire.Type) incident.Source {
	m := d.sub(num, typ)
	var s incident.Source
	for m.more() {
		switch n, t := m.field(); n {
		case 1:
			s.Kind = incident.SourceKind(m.str(n, t))
		case 2:
			s.Team = m.str(n, t)
		case 3:
			s.Channel = m.str(n, t)
		case 4:
			s.ThreadTS = m.str(n, t)
		default:
			m.unknown(n)
		}
	}
	d.done(m)
	return s
}

func (d *dec) message(num protowire.Number, typ protowire.Type) incident.SlackMessage {
	m := d.sub(num, typ)
	var s incident.SlackMessage
	for m.more() {
		switch n, t := m.field(); n {
		case 1:
			s.Channel = m.str(n, t)
		case 2:
			s.TS = m.str(n, t)
		case 3:
			s.Author = m.str(n, t)
		case 4:
			s.Text = m.str(n, t)
		case 5:
			s.At = m.time(n, t)
		default:
			m.unknown(n)
		}
	}
	d.done(m)
	return s
}

// open checks a version 2 record's type byte against want and returns a
// reader of its message.
func open(b []byte, want byte) (dec, error) {
	typ := binNames[want]
	if len(b) < 2 {
		return dec{}, fmt.Errorf("%w: %s: no record type", ErrMalformed, typ)
	}
	if got := b[1]; got != want {
		if int(got) < len(binNames) && binNames[got] != "" {
			return dec{}, fmt.Errorf("%w: %q, want %q", ErrWrongType, binNames[got], typ)
		}
		return dec{}, fmt.Errorf("%w: %s: unknown record type %d", ErrMalformed, typ, got)
	}
	return dec{b: b, s: string(b), i: 2, end: len(b)}, nil
}

func (d *dec) close(typ string) error {
	if d.err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformed, typ, d.err)
	}
	return nil
}

func decodeCommandV2(b []byte) (incident.Command, error) {
	d, err := open(b, binCommand)
	if err != nil {
		return incident.Command{}, err
	}
	var c incident.Command
	for d.more() {
		switch n, t := d.field(); n {
		case 1:
			c.ID = d.str(n, t)
		case 2:
			c.Incident = d.str(n, t)
		case 3:
			c.Tenant = d.str(n, t)
		case 4:
			c.Actor = d.str(n, t)
		case 5:
			c.At = d.time(n, t)
		case 6:
			c.Kind = incident.CommandKind(d.str(n, t))
		case 7:
			c.Title = d.str(n, t)
		case 8:
			c.Severity = d.str(n, t)
		case 9:
			c.Source = d.source(n, t)
		case 10:
			c.Role = incident.Role(d.str(n, t))
		case 11:
			c.Person = d.str(n, t)
		case 12:
			c.Note = d.str(n, t)
		case 13:
			c.Message = d.message(n, t)
		case 14:
			c.ImpactStarted = d.time(n, t)
		case 15:
			c.Fingerprint = d.str(n, t)
		default:
			d.unknown(n)
		}
	}
	if err := d.close(TypeCommand); err != nil {
		return incident.Command{}, err
	}
	return c, nil
}

func decodeEventV2(b []byte) (incident.Event, error) {
	d, err := open(b, binEvent)
	if err != nil {
		return incident.Event{}, err
	}
	var e incident.Event
	for d.more() {
		switch n, t := d.field(); n {
		case 1:
			e.Incident = d.str(n, t)
		case 2:
			e.Version = d.uint(n, t)
		case 3:
			e.Command = d.str(n, t)
		case 4:
			e.Tenant = d.str(n, t)
		case 5:
			e.Actor = d.str(n, t)
		case 6:
			e.At = d.time(n, t)
		case 7:
			e.Kind = incident.EventKind(d.str(n, t))
		case 8:
			e.Title = d.str(n, t)
		case 9:
			e.Severity = d.str(n, t)
		case 10:
			e.Status = incident.Status(d.str(n, t))
		case 11:
			e.Source = d.source(n, t)
		case 12:
			e.Role = incident.Role(d.str(n, t))
		case 13:
			e.Person = d.str(n, t)
		case 14:
			e.Note = d.str(n, t)
		case 15:
			e.Message = d.message(n, t)
		case 16:
			e.ImpactStarted = d.time(n, t)
		case 17:
			e.CommandKind = incident.CommandKind(d.str(n, t))
		case 18:
			m := d.sub(n, t)
			r := &incident.Rejection{}
			for m.more() {
				switch n, t := m.field(); n {
				case 1:
					r.Code = incident.Code(m.str(n, t))
				case 2:
					r.Reason = m.str(n, t)
				default:
					m.unknown(n)
				}
			}
			d.done(m)
			e.Rejection = r
		case 19:
			e.Fingerprint = d.str(n, t)
		default:
			d.unknown(n)
		}
	}
	if err := d.close(TypeEvent); err != nil {
		return incident.Event{}, err
	}
	return e, nil
}

func decodeStateV2(b []byte) (incident.State, error) {
	d, err := open(b, binState)
	if err != nil {
		return incident.State{}, err
	}
	var s incident.State
	for d.more() {
		switch n, t := d.field(); n {
		case 1:
			s.Incident = d.str(n, t)
		case 2:
			s.Tenant = d.str(n, t)
		case 3:
			s.Version = d.uint(n, t)
		case 4:
			s.Declared = d.bool(n, t)
		case 5:
			s.Title = d.str(n, t)
		case 6:
			s.Severity = d.str(n, t)
		case 7:
			s.Status = incident.Status(d.str(n, t))
		case 8:
			s.Reporter = d.str(n, t)
		case 9:
			s.Commander = d.str(n, t)
		case 10:
			s.Assignee = d.str(n, t)
		case 11:
			s.Source = d.source(n, t)
		case 12:
			s.Card = d.message(n, t)
		case 13:
			s.DeclaredAt = d.time(n, t)
		case 14:
			s.ImpactStartedAt = d.time(n, t)
		case 15:
			s.AcknowledgedAt = d.time(n, t)
		case 16:
			s.MitigatedAt = d.time(n, t)
		case 17:
			s.ResolvedAt = d.time(n, t)
		case 18:
			s.UpdatedAt = d.time(n, t)
		case 19:
			s.Notes = d.int(n, t)
		case 20:
			s.Pins = d.int(n, t)
		case 21:
			// The per-incident dedup window of records written before
			// version 3: checked, and dropped (the processor keeps
			// outcomes in an index of their own).
			m := d.sub(n, t)
			m.outcome()
			d.done(m)
		default:
			d.unknown(n)
		}
	}
	if err := d.close(TypeState); err != nil {
		return incident.State{}, err
	}
	return s, nil
}

// outcome reads an Outcome message to its end.
func (m *dec) outcome() incident.Outcome {
	var o incident.Outcome
	for m.more() {
		switch n, t := m.field(); n {
		case 1:
			o.Command = m.str(n, t)
		case 2:
			o.From = m.uint(n, t)
		case 3:
			o.To = m.uint(n, t)
		case 4:
			o.Code = incident.Code(m.str(n, t))
		case 5:
			o.Tenant = m.str(n, t)
		case 6:
			o.Incident = m.str(n, t)
		case 7:
			o.Fingerprint = m.str(n, t)
		case 8:
			o.At = m.time(n, t)
		default:
			m.unknown(n)
		}
	}
	return o
}

func decodeOutcomesBin(b []byte) ([]incident.Outcome, error) {
	d, err := open(b, binOutcomes)
	if err != nil {
		return nil, err
	}
	var os []incident.Outcome
	for d.more() {
		switch n, t := d.field(); n {
		case 1:
			m := d.sub(n, t)
			os = append(os, m.outcome())
			d.done(m)
		default:
			d.unknown(n)
		}
	}
	if err := d.close(TypeOutcomes); err != nil {
		return nil, err
	}
	return os, nil
}

func decodeOutcomeBin(b []byte) (incident.Outcome, error) {
	d, err := open(b, binOutcome)
	if err != nil {
		return incident.Outcome{}, err
	}
	o := d.outcome()
	if err := d.close(TypeOutcome); err != nil {
		return incident.Outcome{}, err
	}
	return o, nil
}
