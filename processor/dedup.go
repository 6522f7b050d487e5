package processor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// The dedup window: every command's outcome (incident.Outcome), remembered
// by tenant and command id for Config.DedupWindow after the command's
// time, however many commands its incident saw since. It is part of the
// partition's state: kept in Pebble, written in the same batch as the
// states, and carried by the same changelog partition, which a restore
// reads back with the states.
//
// Outcomes go in batches: the outcomes one step remembered in a partition
// are one changelog record (key outcomesKeyPrefix + batch, value
// wire.EncodeOutcomes) and one entry of the expiry index. A batch is named
// by its latest command time and the offset of its last command (8 bytes
// each, big endian): unique in the partition, and in time order. Once a
// batch's latest time is out of the window (measured on the partition's
// latest command time, never a clock), its outcomes that are still out of
// it (not remembered anew by a later batch) are deleted, and the batch's
// changelog record gets a tombstone, so compaction removes it.
//
// Pebble keys, beside the states ("s") and checkpoints ("o"):
//
//	"d" + partition + id    -> encoded outcome (wire.EncodeOutcome)
//	"e" + partition + batch -> the ids of the batch (each length-prefixed)
//
// where id is the tenant's length (uvarint), the tenant and the command id.

// outcomesKeyPrefix starts the changelog key of an outcomes batch. Incident
// ids, the keys of state records, never start with a zero byte (apply
// dead-letters such commands).
const outcomesKeyPrefix = "\x00d"

// batchLen is the length of a batch name: time, then offset.
const batchLen = 16

// maxExpiredPerStep bounds the outcomes one step expires (whole batches
// are taken, so a step may go one batch beyond), so a step after a long
// pause stays short; the rest go in the next steps.
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

// batchName names a batch by its latest command time and the offset of its
// last command (or event, in a rebuild).
func batchName(latest time.Time, offset int64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, batchLen), timeKey(latest))
	return binary.BigEndian.AppendUint64(b, uint64(offset))
}

func expiryKey(partition int32, batch []byte) []byte {
	k := make([]byte, 0, 5+batchLen)
	k = append(k, 'e')
	k = binary.BigEndian.AppendUint32(k, uint32(partition))
	return append(k, batch...)
}

// changelogBatchKey is a batch's key in the changelog.
func changelogBatchKey(batch []byte) []byte {
	return append([]byte(outcomesKeyPrefix), batch...)
}

// yearZero is the earliest time a record carries (wire refuses earlier).
var yearZero = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

// timeKey is t in milliseconds since year 0, so that times sort as
// unsigned big-endian numbers (UnixNano overflows over years 0 to 9999).
func timeKey(t time.Time) uint64 {
	return uint64(max(t.Unix()-yearZero, 0))*1000 + uint64(t.Nanosecond()/1e6)
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

// outcomeRecords returns the Pebble keys and the wire.EncodeOutcome records
// of outcomes of a partition.
func outcomeRecords(partition int32, os []incident.Outcome) (keys []string, records [][]byte, err error) {
	var buf []byte
	for _, o := range os {
		start := len(buf)
		if buf, err = wire.AppendOutcome(buf, o); err != nil {
			return nil, nil, err
		}
		keys = append(keys, string(outcomeKey(partition, outcomeID(o.Tenant, o.Command))))
		records = append(records, buf[start:len(buf):len(buf)])
	}
	return keys, records, nil
}

// setOutcomes stages a batch of outcomes of one partition (their Pebble
// keys and records) and its expiry entry.
func (w *writeBatch) setOutcomes(partition int32, batch []byte, keys []string, records [][]byte) error {
	var ids []byte
	for i, k := range keys {
		if err := w.b.Set([]byte(k), records[i], nil); err != nil {
			return err
		}
		ids = binary.AppendUvarint(ids, uint64(len(k)-5))
		ids = append(ids, k[5:]...)
	}
	return w.b.Set(expiryKey(partition, batch), ids, nil)
}

// deleteOutcome stages the removal of an outcome.
func (w *writeBatch) deleteOutcome(partition int32, id []byte) error {
	return w.b.Delete(outcomeKey(partition, id), nil)
}

func (w *writeBatch) deleteExpiry(key []byte) error { return w.b.Delete(key, nil) }

// errBadOutcomes marks a changelog outcomes record a restore cannot use; it
// is skipped (the window forgets its commands) rather than stop the
// partition.
var errBadOutcomes = errors.New("processor: malformed outcomes record")

// restoreOutcomes stages a changelog outcomes batch during a restore; key
// is the record's key. A tombstone is the store's to apply (forgetBatch).
func (w *writeBatch) restoreOutcomes(partition int32, key, value []byte) error {
	batch := key[len(outcomesKeyPrefix):]
	if len(batch) != batchLen {
		return fmt.Errorf("%w %q: not a batch name", errBadOutcomes, key)
	}
	os, err := wire.DecodeOutcomes(value)
	if err != nil {
		return fmt.Errorf("%w %q: %v", errBadOutcomes, key, err)
	}
	keys, records, err := outcomeRecords(partition, os)
	if err != nil {
		return err
	}
	return w.setOutcomes(partition, batch, keys, records)
}

// forgetBatch stages, in w, what a batch's tombstone means: its outcomes
// go, but for those remembered anew by a later batch, and its expiry entry
// goes. The batch's entry is read from the store: w's own writes must be
// committed first.
func (s *Store) forgetBatch(w *writeBatch, partition int32, key []byte) error {
	batch := key[len(outcomesKeyPrefix):]
	if len(batch) != batchLen {
		return nil
	}
	ek := expiryKey(partition, batch)
	b, closer, err := s.db.Get(ek)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("processor: read expiry entry: %w", err)
	}
	ids, err := splitIDs(b)
	closer.Close()
	if err != nil {
		return fmt.Errorf("processor: expiry entry %q: %w", ek, err)
	}
	until := binary.BigEndian.Uint64(batch)
	for _, id := range ids {
		o, ok, err := s.outcome(outcomeKey(partition, id))
		if err != nil {
			return err
		}
		if ok && timeKey(o.At) <= until {
			if err := w.deleteOutcome(partition, id); err != nil {
				return err
			}
		}
	}
	return w.deleteExpiry(ek)
}

// splitIDs returns the length-prefixed ids of an expiry entry (copies).
func splitIDs(v []byte) ([][]byte, error) {
	var ids [][]byte
	for len(v) > 0 {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return nil, errors.New("malformed id list")
		}
		ids = append(ids, append([]byte(nil), v[n:n+int(l)]...))
		v = v[n+int(l):]
	}
	return ids, nil
}

// dueBatch is a batch of the expiry index out of the window: its Pebble
// key, and the ids in it whose outcomes are still out of the window.
type dueBatch struct {
	key []byte
	ids [][]byte
}

// expiring returns a partition's batches whose latest time is before the
// given time, oldest first, until they hold at least limit ids; with each,
// the ids whose outcome is still stored and older than that time. next is
// the time (timeKey) of the first batch it leaves (math.MaxUint64 if none).
func (s *Store) expiring(partition int32, before time.Time, limit int) (out []dueBatch, next uint64, err error) {
	lo := binary.BigEndian.AppendUint32([]byte{'e'}, uint32(partition))
	hi := binary.BigEndian.AppendUint32([]byte{'e'}, uint32(partition)+1)
	due := timeKey(before)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, 0, fmt.Errorf("processor: iterate expiry index: %w", err)
	}
	defer it.Close()
	next = math.MaxUint64
	n := 0
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 5+batchLen {
			return nil, 0, fmt.Errorf("processor: malformed expiry entry %q", k)
		}
		if at := binary.BigEndian.Uint64(k[5:13]); at >= due || n >= limit {
			next = at
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, 0, fmt.Errorf("processor: iterate expiry index: %w", err)
		}
		ids, err := splitIDs(v)
		if err != nil {
			return nil, 0, fmt.Errorf("processor: malformed expiry entry %q", k)
		}
		x := dueBatch{key: append([]byte(nil), k...)}
		for _, id := range ids {
			o, ok, err := s.outcome(outcomeKey(partition, id))
			if err != nil {
				return nil, 0, err
			}
			if ok && timeKey(o.At) < due {
				x.ids = append(x.ids, id)
				n++
			}
		}
		out = append(out, x)
	}
	if err := it.Error(); err != nil {
		return nil, 0, fmt.Errorf("processor: iterate expiry index: %w", err)
	}
	return out, next, nil
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
