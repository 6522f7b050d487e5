package processor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// The dedup window: every command's outcome (incident.Outcome), remembered
// by tenant and command id for Config.DedupWindow after the command's
// time, however many commands its incident saw since. It is part of the
// partition's state: kept in Pebble, written in the same batch as the
// states, and carried by the changelog as records of their own (key
// outcomeKeyPrefix + tenant + command id, value wire.EncodeOutcome), which
// a restore reads back like states. An expired outcome is deleted, with a
// tombstone in the changelog so compaction removes it there too.
//
// Pebble keys, beside the states ("s") and checkpoints ("o"):
//
//	"d" + partition + id  -> encoded outcome
//	"e" + partition + time (8 bytes, big endian) + id -> nothing: the expiry index
//
// where id is the tenant's length (uvarint), the tenant and the command id.
// Expiry walks the "e" keys of a partition in time order; an "e" key whose
// outcome is gone or newer (a restore, or the command decided afresh) is
// stale and just deleted.

// outcomeKeyPrefix starts the changelog key of an outcome record. Incident
// ids, the keys of state records, never start with a zero byte (apply
// dead-letters such commands).
const outcomeKeyPrefix = "\x00d"

// maxExpiredPerStep bounds the outcomes one step expires, so a step after a
// long pause stays short; the rest go in the next steps.
const maxExpiredPerStep = 10000

// outcomeID is the part of the keys that names one command: the tenant's
// length, the tenant and the command id.
func outcomeID(tenant, command string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(tenant)+len(command))
	b = binary.AppendUvarint(b, uint64(len(tenant)))
	b = append(b, tenant...)
	return append(b, command...)
}

func outcomeKey(partition int32, id []byte) []byte {
	k := make([]byte, 0, 5+len(id))
	k = append(k, 'd')
	k = binary.BigEndian.AppendUint32(k, uint32(partition))
	return append(k, id...)
}

// expiryKey orders by time (timeKey).
func expiryKey(partition int32, at time.Time, id []byte) []byte {
	k := make([]byte, 0, 13+len(id))
	k = append(k, 'e')
	k = binary.BigEndian.AppendUint32(k, uint32(partition))
	k = binary.BigEndian.AppendUint64(k, timeKey(at))
	return append(k, id...)
}

// yearZero is the earliest time a record carries (wire refuses earlier).
var yearZero = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// timeKey is t in milliseconds since year 0, so that times sort as
// unsigned big-endian numbers (UnixNano overflows over years 0 to 9999).
func timeKey(t time.Time) uint64 {
	return uint64(max(t.Unix()-yearZero, 0))*1000 + uint64(t.Nanosecond()/1e6)
}

// changelogOutcomeKey is an outcome record's key in the changelog.
func changelogOutcomeKey(id []byte) []byte {
	return append([]byte(outcomeKeyPrefix), id...)
}

// Outcome returns the remembered outcome of a tenant's command in a
// partition, if the store has one (expired or not).
func (s *Store) Outcome(partition int32, tenant, command string) (incident.Outcome, bool, error) {
	return s.outcome(outcomeKey(partition, outcomeID(tenant, command)))
}

func (s *Store) outcome(key []byte) (incident.Outcome, bool, error) {
	b, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return incident.Outcome{}, false, nil
	}
	if err != nil {
		return incident.Outcome{}, false, fmt.Errorf("processor: read outcome: %w", err)
	}
	defer closer.Close()
	o, err := wire.DecodeOutcome(b)
	if err != nil {
		return incident.Outcome{}, false, fmt.Errorf("processor: decode stored outcome %q: %w", key, err)
	}
	return o, true, nil
}

// setOutcome stages an outcome and its expiry key.
func (w *writeBatch) setOutcome(partition int32, o incident.Outcome, encoded []byte) error {
	id := outcomeID(o.Tenant, o.Command)
	if err := w.b.Set(outcomeKey(partition, id), encoded, nil); err != nil {
		return err
	}
	return w.b.Set(expiryKey(partition, o.At, id), nil, nil)
}

// deleteOutcome stages the removal of an outcome; its expiry key, if any,
// goes when expiry reaches it.
func (w *writeBatch) deleteOutcome(partition int32, id []byte) error {
	return w.b.Delete(outcomeKey(partition, id), nil)
}

func (w *writeBatch) deleteExpiry(key []byte) error { return w.b.Delete(key, nil) }

// errBadOutcome marks a changelog outcome record a restore cannot use; it
// is skipped (the window forgets one command) rather than stop the
// partition.
var errBadOutcome = errors.New("processor: malformed outcome record")

// restoreOutcome stages a changelog outcome record (a tombstone when value
// is nil) during a restore; key is the record's key.
func (w *writeBatch) restoreOutcome(partition int32, key, value []byte) error {
	id := key[len(outcomeKeyPrefix):]
	if value == nil {
		return w.deleteOutcome(partition, id)
	}
	o, err := wire.DecodeOutcome(value)
	if err != nil {
		return fmt.Errorf("%w %q: %v", errBadOutcome, key, err)
	}
	if !bytes.Equal(outcomeID(o.Tenant, o.Command), id) {
		return fmt.Errorf("%w %q: it holds the outcome of %s/%s", errBadOutcome, key, o.Tenant, o.Command)
	}
	return w.setOutcome(partition, o, value)
}

// expired is one outcome due to go.
type expired struct {
	id        []byte // outcomeID
	expiryKey []byte
	stale     bool // the outcome is gone or newer: only the expiry key goes
}

// expiring returns up to limit expiry entries of a partition for outcomes
// of commands before the given time, oldest first.
func (s *Store) expiring(partition int32, before time.Time, limit int) ([]expired, error) {
	lo := binary.BigEndian.AppendUint32([]byte{'e'}, uint32(partition))
	hi := binary.BigEndian.AppendUint64(append([]byte(nil), lo...), timeKey(before))
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("processor: iterate expiry index: %w", err)
	}
	defer it.Close()
	var out []expired
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		k := it.Key()
		if len(k) < 13 {
			return nil, fmt.Errorf("processor: malformed expiry key %q", k)
		}
		x := expired{id: append([]byte(nil), k[13:]...), expiryKey: append([]byte(nil), k...)}
		o, ok, err := s.outcome(outcomeKey(partition, x.id))
		if err != nil {
			return nil, err
		}
		x.stale = !ok || timeKey(o.At) != binary.BigEndian.Uint64(k[5:13])
		out = append(out, x)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("processor: iterate expiry index: %w", err)
	}
	return out, nil
}

// EachOutcome calls fn for every remembered outcome, in key order
// (partition, then tenant and command id), with its encoded bytes (valid
// only during the call). It stops at fn's first error.
func (s *Store) EachOutcome(fn func(partition int32, o incident.Outcome, encoded []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'d'}, UpperBound: []byte{'e'}})
	if err != nil {
		return fmt.Errorf("processor: iterate outcomes: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) < 5 {
			return fmt.Errorf("processor: malformed outcome key %q", k)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("processor: iterate outcomes: %w", err)
		}
		o, err := wire.DecodeOutcome(v)
		if err != nil {
			return fmt.Errorf("processor: decode stored outcome %q: %w", k, err)
		}
		if err := fn(int32(binary.BigEndian.Uint32(k[1:5])), o, v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("processor: iterate outcomes: %w", err)
	}
	return nil
}

// rawOutcome returns an outcome's encoded bytes (a copy), or nil.
func (s *Store) rawOutcome(partition int32, o incident.Outcome) ([]byte, error) {
	b, closer, err := s.db.Get(outcomeKey(partition, outcomeID(o.Tenant, o.Command)))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("processor: read outcome: %w", err)
	}
	defer closer.Close()
	return append([]byte(nil), b...), nil
}
