package processor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// Store is the processor's local state: one Pebble database holding every
// incident's state (wire.EncodeState bytes, the same bytes as the
// changelog record) and, per partition, the changelog offset that state
// reflects. It is a cache of the log: deleting it loses nothing.
//
// Keys:
//
//	"s" + partition (4 bytes, big endian) + incident id  -> encoded state
//	"o" + partition (4 bytes, big endian)                -> changelog offset (8 bytes, big endian)
//
// The offset is written in the same Pebble batch as the states it covers,
// so a crash never leaves states and checkpoint out of step.
type Store struct {
	db *pebble.DB
}

// OpenStore opens (creating if needed) the Pebble store in dir. A store in
// use by another process is an error (Pebble locks its directory).
func OpenStore(dir string, logger *slog.Logger) (*Store, error) {
	opts := &pebble.Options{Logger: pebbleLogger{logger}}
	// Bloom filters on every level: most commands look up an outcome the
	// dedup window does not hold, and without a filter each such miss
	// reads a data block of every table whose key range covers it.
	opts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	// Outcome keys are command ids, spread over the whole key range, so
	// every compaction of L0 into the level below rewrites all of that
	// level's outcomes. Letting 16 sublevels gather in L0 (Pebble compacts
	// at 4) makes those compactions a quarter as many, each carrying more
	// new keys; the extra sublevels cost a lookup little, its bloom filter
	// being checked first. Writes stop at 64, never reached in practice.
	opts.L0CompactionThreshold = 16
	opts.L0StopWritesThreshold = 64
	// A block cache that holds the filter and index blocks those lookups
	// read: some 2.5 bytes per key (10 filter bits, an index entry per
	// 4 KiB block), so 16 MiB keeps them for some 6 million keys, a day of
	// outcomes at 70 commands/s. Data blocks of states read at random fill
	// the rest and are evicted first; a larger cache mostly holds those,
	// in resident memory.
	opts.Cache = pebble.NewCache(16 << 20)
	defer opts.Cache.Unref()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("processor: open store %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("processor: close store: %w", err)
	}
	return nil
}

func stateKey(partition int32, incidentID string) []byte {
	k := make([]byte, 0, 5+len(incidentID))
	k = append(k, 's')
	k = binary.BigEndian.AppendUint32(k, uint32(partition))
	return append(k, incidentID...)
}

func offsetKey(partition int32) []byte {
	return binary.BigEndian.AppendUint32([]byte{'o'}, uint32(partition))
}

// State returns an incident's state in a partition; the zero State if the
// store has none.
func (s *Store) State(partition int32, incidentID string) (incident.State, error) {
	b, closer, err := s.db.Get(stateKey(partition, incidentID))
	if errors.Is(err, pebble.ErrNotFound) {
		return incident.State{}, nil
	}
	if err != nil {
		return incident.State{}, fmt.Errorf("processor: read state of %s: %w", incidentID, err)
	}
	defer closer.Close()
	st, err := wire.DecodeState(b)
	if err != nil {
		return incident.State{}, fmt.Errorf("processor: decode stored state of %s: %w", incidentID, err)
	}
	return st, nil
}

// Checkpoint returns the changelog offset of partition's last restored or
// written state record, and false if the store has none.
func (s *Store) Checkpoint(partition int32) (int64, bool, error) {
	b, closer, err := s.db.Get(offsetKey(partition))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("processor: read checkpoint of partition %d: %w", partition, err)
	}
	defer closer.Close()
	if len(b) != 8 {
		return 0, false, fmt.Errorf("processor: checkpoint of partition %d is %d bytes, want 8", partition, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), true, nil
}

// writeBatch stages encoded states, outcomes and checkpoints for one Pebble
// commit.
type writeBatch struct {
	b *pebble.Batch // nil once committed or discarded
}

func (s *Store) newBatch() *writeBatch { return &writeBatch{b: s.db.NewBatch()} }

func (w *writeBatch) setState(partition int32, incidentID string, encoded []byte) error {
	return w.b.Set(stateKey(partition, incidentID), encoded, nil)
}

func (w *writeBatch) setCheckpoint(partition int32, offset int64) error {
	return w.b.Set(offsetKey(partition), binary.BigEndian.AppendUint64(nil, uint64(offset)), nil)
}

func (w *writeBatch) len() int { return int(w.b.Count()) }

// commit writes the batch and releases it.
func (w *writeBatch) commit() error {
	defer w.discard()
	// NoSync: the store is a cache of the log. A power loss drops a WAL
	// suffix, states and checkpoint together, and restore replays it.
	if err := w.b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("processor: write store: %w", err)
	}
	return nil
}

func (w *writeBatch) discard() {
	if w.b != nil {
		w.b.Close()
		w.b = nil
	}
}

// Each calls fn for every stored state, in key order (partition, then
// incident id), with the encoded bytes (valid only during the call). It
// stops at fn's first error.
func (s *Store) Each(fn func(partition int32, incidentID string, encoded []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'s'}, UpperBound: []byte{'t'}})
	if err != nil {
		return fmt.Errorf("processor: iterate store: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) < 5 {
			return fmt.Errorf("processor: iterate store: malformed key %q", k)
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("processor: iterate store: %w", err)
		}
		if err := fn(int32(binary.BigEndian.Uint32(k[1:5])), string(k[5:]), v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("processor: iterate store: %w", err)
	}
	return nil
}

// Checkpoints returns every partition's checkpoint.
func (s *Store) Checkpoints() (map[int32]int64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'o'}, UpperBound: []byte{'p'}})
	if err != nil {
		return nil, fmt.Errorf("processor: iterate checkpoints: %w", err)
	}
	defer it.Close()
	out := map[int32]int64{}
	for it.First(); it.Valid(); it.Next() {
		k, v := it.Key(), it.Value()
		if len(k) != 5 || len(v) != 8 {
			return nil, fmt.Errorf("processor: malformed checkpoint %q", k)
		}
		out[int32(binary.BigEndian.Uint32(k[1:]))] = int64(binary.BigEndian.Uint64(v))
	}
	return out, it.Error()
}

// pebbleLogger passes Pebble's errors to slog; its info level narrates
// every flush and compaction.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(string, ...any) {}

func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error("pebble: " + fmt.Sprintf(format, args...))
	}
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	// Pebble expects Fatalf not to return.
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// raw returns an incident's encoded state (a copy), or nil if the store
// has none.
func (s *Store) raw(partition int32, incidentID string) ([]byte, error) {
	b, closer, err := s.db.Get(stateKey(partition, incidentID))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("processor: read state of %s: %w", incidentID, err)
	}
	defer closer.Close()
	return append([]byte(nil), b...), nil
}
