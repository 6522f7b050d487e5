package processor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
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
//	"e" + partition + time (8 bytes) + sequence (8 bytes) -> ids: the expiry index
//
// where id is the tenant's length (uvarint), the tenant and the command id.
// Each Pebble batch that sets outcomes (a step, a restore or rebuild flush)
// writes one expiry entry per partition, at the latest time among them,
// listing their ids (each length-prefixed): one more key per batch rather
// than per command. Expiry walks a partition's entries in time order; an
// entry is due once its time is out of the window, and of its ids those
// whose outcome is still out of the window (not gone, not remembered anew)
// are deleted.

// outcomeKeyPrefix starts the changelog key of an outcome record. Incident
// ids, the keys of state records, never start with a zero byte (apply
// dead-letters such commands).
const outcomeKeyPrefix = "\x00d"

// maxExpiredPerStep bounds the outcomes one step expires (whole expiry
// entries are taken, so a step may go a batch beyond), so a step after a
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

// expirySeq makes expiry keys unique; the index is local to this store, so
// it needs no determinism.
var expirySeq atomic.Uint64

func init() { expirySeq.Store(uint64(time.Now().UnixNano())) }

// expiryKey orders by time (timeKey).
func expiryKey(partition int32, at time.Time) []byte {
	k := make([]byte, 0, 21)
	k = append(k, 'e')
	k = binary.BigEndian.AppendUint32(k, uint32(partition))
	k = binary.BigEndian.AppendUint64(k, timeKey(at))
	return binary.BigEndian.AppendUint64(k, expirySeq.Add(1))
}

// expiryList is the ids a batch set in one partition, and their latest
// time: the batch's expiry entry.
type expiryList struct {
	ids    []byte // length-prefixed ids
	latest time.Time
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

// outcome returns the remembered outcome under a Pebble key, if any.
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

// outcomes returns the remembered outcomes found under keys (Pebble keys,
// in any order, possibly repeated), read with one iterator in key order.
func (s *Store) outcomes(keys []string) (map[string]incident.Outcome, error) {
	found := map[string]incident.Outcome{}
	if len(keys) == 0 {
		return found, nil
	}
	slices.Sort(keys)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'d'}, UpperBound: []byte{'e'}})
	if err != nil {
		return nil, fmt.Errorf("processor: read outcomes: %w", err)
	}
	defer it.Close()
	for i, k := range keys {
		if i > 0 && keys[i-1] == k {
			continue
		}
		// SeekPrefixGE consults the tables' bloom filters: a key no table
		// holds costs no data block.
		if !it.SeekPrefixGE([]byte(k)) || string(it.Key()) != k {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("processor: read outcome: %w", err)
		}
		o, err := wire.DecodeOutcome(v)
		if err != nil {
			return nil, fmt.Errorf("processor: decode stored outcome %q: %w", k, err)
		}
		found[k] = o
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("processor: read outcomes: %w", err)
	}
	return found, nil
}

// setOutcome stages an outcome; its id goes in the batch's expiry entry of
// the partition, written on commit.
func (w *writeBatch) setOutcome(partition int32, o incident.Outcome, encoded []byte) error {
	id := outcomeID(o.Tenant, o.Command)
	if err := w.b.Set(outcomeKey(partition, id), encoded, nil); err != nil {
		return err
	}
	if w.expiry == nil {
		w.expiry = map[int32]*expiryList{}
	}
	l := w.expiry[partition]
	if l == nil {
		l = &expiryList{latest: o.At}
		w.expiry[partition] = l
	}
	l.ids = binary.AppendUvarint(l.ids, uint64(len(id)))
	l.ids = append(l.ids, id...)
	if o.At.After(l.latest) {
		l.latest = o.At
	}
	return nil
}

// setExpiry stages the batch's expiry entries.
func (w *writeBatch) setExpiry() error {
	for part, l := range w.expiry {
		if err := w.b.Set(expiryKey(part, l.latest), l.ids, nil); err != nil {
			return err
		}
	}
	clear(w.expiry)
	return nil
}

// deleteOutcome stages the removal of an outcome; its expiry entry goes
// when expiry reaches it.
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

// expiryEntry is a due entry of the expiry index: its key, and the ids in
// it whose outcomes are out of the window.
type expiryEntry struct {
	key []byte
	ids [][]byte
}

// expiring returns a partition's expiry entries due before the given time,
// oldest first, until they hold at least limit ids; with each, the ids whose
// outcome is still stored and older than that time.
func (s *Store) expiring(partition int32, before time.Time, limit int) ([]expiryEntry, error) {
	lo := binary.BigEndian.AppendUint32([]byte{'e'}, uint32(partition))
	due := timeKey(before)
	hi := binary.BigEndian.AppendUint64(append([]byte(nil), lo...), due)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("processor: iterate expiry index: %w", err)
	}
	defer it.Close()
	var out []expiryEntry
	n := 0
	for it.First(); it.Valid() && n < limit; it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("processor: iterate expiry index: %w", err)
		}
		if len(k) != 21 {
			return nil, fmt.Errorf("processor: malformed expiry key %q", k)
		}
		x := expiryEntry{key: append([]byte(nil), k...)}
		for len(v) > 0 {
			l, w := binary.Uvarint(v)
			if w <= 0 || uint64(len(v)-w) < l {
				return nil, fmt.Errorf("processor: malformed expiry entry %q", k)
			}
			id := v[w : w+int(l)]
			v = v[w+int(l):]
			o, ok, err := s.outcome(outcomeKey(partition, id))
			if err != nil {
				return nil, err
			}
			if ok && timeKey(o.At) < due {
				x.ids = append(x.ids, append([]byte(nil), id...))
				n++
			}
		}
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
