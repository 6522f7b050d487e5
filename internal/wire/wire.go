// Package wire is the only package that knows how incidentd's records look
// on Kafka: commands (commands topic), events (events topic) and incident
// state (changelog topic and the processor's Pebble store).
//
// Version 3, which this package writes, is binary: a version byte (3), a
// record-type byte (1 command, 2 event, 3 state, 4 outcome, 5 outcomes), then the data
// as a Protocol Buffers message described by incidentd.proto (next to this
// file), written and read field by field with protowire. Any protobuf tool
// reads a record: strip the two header bytes and decode, for example
// tail -c +3 record | protoc --decode incidentd.wire.v3.Event incidentd.proto
//
// Version 2 is the same encoding without the fields version 3 added
// (fingerprints, the outcome record) and with each state's dedup window
// (State.recent); it is read by the same code, and the window is dropped.
//
// Version 1 was a JSON envelope {"v":1,"type":"...","data":{...}}; it is
// still read, so topics written before version 2 replay as they are. The
// first byte tells them apart: JSON starts with '{' or white space, never
// with a byte below 0x20. Binary was chosen over JSON for speed: decoding
// and encoding records was the processor's largest cost, and the
// projector's rebuild spent a fifth of its time decoding (see
// docs/model.md for the measurements).
//
// CommandJSON and EventJSON render a decoded record as JSON for people and
// scripts ("incidentd events"): the data object of a version 1 record.
//
// A reader refuses versions it does not know (ErrUnknownVersion) and
// fields it does not know (ErrMalformed) rather than guess. Encoding is
// deterministic: the same value always gives the same bytes, which rebuild
// checks rely on. Decoding never panics; malformed input gives an error
// wrapping ErrMalformed.
package wire

import (
	"errors"
	"fmt"

	"github.com/incidentd/incidentd/incident"
)

// Version is the record version this package writes. Version 2 records
// are read too.
const Version = 3

// Record types.
const (
	TypeCommand  = "command"
	TypeEvent    = "event"
	TypeState    = "state"
	TypeOutcome  = "outcome"
	TypeOutcomes = "outcomes"
)

// Errors returned by the decoders.
var (
	ErrMalformed      = errors.New("wire: malformed record")
	ErrUnknownVersion = errors.New("wire: unknown envelope version")
	ErrWrongType      = errors.New("wire: wrong record type")
)

// EncodeCommand encodes a command for the commands topic.
func EncodeCommand(c incident.Command) ([]byte, error) { return encodeCommand(c) }

// DecodeCommand decodes a commands-topic record. It checks the envelope
// and the shape, not the rules: an unknown command kind decodes, and
// incident.Decide rejects it.
func DecodeCommand(b []byte) (incident.Command, error) {
	if err := version(b); err != nil {
		return incident.Command{}, err
	}
	if isBinary(b) {
		return decodeCommandV2(b)
	}
	return decodeCommandV1(b)
}

// EncodeEvent encodes an event for the events topic.
func EncodeEvent(e incident.Event) ([]byte, error) { return encodeEvent(e) }

// DecodeEvent decodes an events-topic record. Beyond the envelope it
// requires what every view relies on: an incident id, a version from 1 and a
// known kind.
func DecodeEvent(b []byte) (incident.Event, error) {
	if err := version(b); err != nil {
		return incident.Event{}, err
	}
	var e incident.Event
	var err error
	if isBinary(b) {
		e, err = decodeEventV2(b)
	} else {
		e, err = decodeEventV1(b)
	}
	if err != nil {
		return incident.Event{}, err
	}
	if e.Incident == "" || !e.Kind.Valid() || e.Version == 0 && e.Kind != incident.Rejected {
		return incident.Event{}, fmt.Errorf("%w: event needs an incident, a known kind and a version from 1 unless it is a notice (got %q v%d %q)", ErrMalformed, e.Incident, e.Version, e.Kind)
	}
	return e, nil
}

// EncodeState encodes an incident's state for the changelog and Pebble.
func EncodeState(s incident.State) ([]byte, error) { return encodeState(s) }

// DecodeState decodes a changelog or Pebble record.
func DecodeState(b []byte) (incident.State, error) {
	if err := version(b); err != nil {
		return incident.State{}, err
	}
	if isBinary(b) {
		return decodeStateV2(b)
	}
	return decodeStateV1(b)
}

// EncodeOutcome encodes a command's remembered outcome for Pebble (the
// processor's dedup window).
func EncodeOutcome(o incident.Outcome) ([]byte, error) { return encodeOutcome(o) }

// EncodeOutcomes encodes the outcomes one step remembered in a partition,
// for the changelog.
func EncodeOutcomes(os []incident.Outcome) ([]byte, error) { return encodeOutcomes(os) }

// AppendOutcome appends the EncodeOutcome record of o to dst.
func AppendOutcome(dst []byte, o incident.Outcome) ([]byte, error) { return appendOutcome(dst, o) }

// JoinOutcomes returns the EncodeOutcomes record of the outcomes whose
// EncodeOutcome records are given, without decoding them.
func JoinOutcomes(records [][]byte) []byte { return joinOutcomes(records) }

// DecodeOutcomes decodes an outcomes record; every outcome in it must name
// its command and incident.
func DecodeOutcomes(b []byte) ([]incident.Outcome, error) {
	if err := version(b); err != nil {
		return nil, err
	}
	if !isBinary(b) {
		return nil, fmt.Errorf("%w: an outcomes record is binary", ErrMalformed)
	}
	os, err := decodeOutcomesBin(b)
	if err != nil {
		return nil, err
	}
	for _, o := range os {
		if o.Command == "" || o.Incident == "" {
			return nil, fmt.Errorf("%w: outcome needs a command and an incident", ErrMalformed)
		}
	}
	return os, nil
}

// DecodeOutcome decodes an outcome record. Outcomes exist only in binary
// records, from version 3.
func DecodeOutcome(b []byte) (incident.Outcome, error) {
	if err := version(b); err != nil {
		return incident.Outcome{}, err
	}
	if !isBinary(b) {
		return incident.Outcome{}, fmt.Errorf("%w: an outcome record is binary", ErrMalformed)
	}
	o, err := decodeOutcomeBin(b)
	if err != nil {
		return incident.Outcome{}, err
	}
	if o.Command == "" || o.Incident == "" {
		return incident.Outcome{}, fmt.Errorf("%w: outcome needs a command and an incident", ErrMalformed)
	}
	return o, nil
}

// isBinary tells a binary record (version 2 on), which starts with its
// version byte, from a JSON one (version 1), which starts with '{' or white
// space: JSON text has no other control characters.
func isBinary(b []byte) bool {
	return len(b) > 0 && b[0] < 0x20 && b[0] != '\t' && b[0] != '\n' && b[0] != '\r'
}

// version refuses a binary record of a version this build does not read.
func version(b []byte) error {
	if isBinary(b) && b[0] != Version && b[0] != 2 {
		return fmt.Errorf("%w: %d (this build reads 1 to %d)", ErrUnknownVersion, b[0], Version)
	}
	return nil
}
