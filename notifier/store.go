package notifier

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// The store's key space. Everything the notifier needs to resume lives in
// one Pebble database, written in synced batches:
//
//	r/<incident>  record: folded state, card reference, work still to send
//	p/<incident>  present while the incident has work to send
//	o/<partition> next offset of the events topic to consume
//	l/<event id>  ledger: what was sent for an event (method, channel, ts)
//	h/<partition> end of the history a fresh store skipped (SkipHistory)
const (
	prefixRecord  = "r/"
	prefixPending = "p/"
	prefixOffset  = "o/"
	prefixLedger  = "l/"
	prefixHistory = "h/"
)

// record is the notifier's view of one incident.
type record struct {
	State      incident.State
	Card       incident.SlackMessage // the card we posted (or the log recorded): Channel, TS
	CardShown  uint64                // state version the card shows
	CardWant   uint64                // version of the latest change the card shows something of
	CardCmd    bool                  // RecordSlackMessage still to produce
	Timeline   []timelineLine        // thread reply lines still to post, oldest first
	Ephemerals []ephemeral           // rejection replies still to send, oldest first

	// dirtySince is when the card first fell behind (not stored; for the
	// lag metric).
	dirtySince time.Time
	// unsure: the last chat.postMessage's answer was lost, so Slack may
	// have made it (not stored: a crash repeats calls in flight anyway,
	// see the package's delivery guarantee).
	unsure bool
}

type timelineLine struct {
	Event string `json:"event"`
	Text  string `json:"text"`
}

type ephemeral struct {
	Event string `json:"event"`
	User  string `json:"user"`
	Text  string `json:"text"`
}

// hasWork reports whether anything is left to send.
func (r *record) hasWork() bool {
	return r.State.Declared && (r.CardWant > r.CardShown || r.CardCmd || len(r.Timeline) > 0) || len(r.Ephemerals) > 0
}

// recordJSON is a record as stored. State is the wire record of the state
// as a base64 JSON string; records stored before wire version 2 hold the
// version 1 JSON object itself, which still decodes.
type recordJSON struct {
	State      json.RawMessage `json:"state"`
	CardChan   string          `json:"card_channel,omitempty"`
	CardTS     string          `json:"card_ts,omitempty"`
	CardShown  uint64          `json:"card_shown"`
	CardWant   uint64          `json:"card_want"`
	CardCmd    bool            `json:"card_cmd,omitempty"`
	Timeline   []timelineLine  `json:"timeline,omitempty"`
	Ephemerals []ephemeral     `json:"ephemerals,omitempty"`
}

func encodeRecord(r *record) ([]byte, error) {
	st, err := wire.EncodeState(r.State)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(st) // base64
	if err != nil {
		return nil, err
	}
	return json.Marshal(recordJSON{State: raw, CardChan: r.Card.Channel, CardTS: r.Card.TS, CardShown: r.CardShown,
		CardWant: r.CardWant, CardCmd: r.CardCmd, Timeline: r.Timeline, Ephemerals: r.Ephemerals})
}

func decodeRecord(b []byte) (*record, error) {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	raw := []byte(j.State)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(j.State, &raw); err != nil {
			return nil, fmt.Errorf("state: %w", err)
		}
	}
	st, err := wire.DecodeState(raw)
	if err != nil {
		return nil, err
	}
	return &record{State: st, Card: incident.SlackMessage{Channel: j.CardChan, TS: j.CardTS}, CardShown: j.CardShown,
		CardWant: j.CardWant, CardCmd: j.CardCmd, Timeline: j.Timeline, Ephemerals: j.Ephemerals}, nil
}

// ledgerEntry is what was sent for one event.
type ledgerEntry struct {
	Method  string    `json:"method"`
	Channel string    `json:"channel"`
	TS      string    `json:"ts,omitempty"`
	At      time.Time `json:"at"`
}

// store is the notifier's Pebble database.
type store struct {
	db *pebble.DB
}

func openStore(dir string, log *slog.Logger) (*store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log.With("part", "pebble")}})
	if err != nil {
		return nil, fmt.Errorf("notifier: open store %s: %w", dir, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) get(key string) ([]byte, bool, error) {
	v, c, err := s.db.Get([]byte(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	return append([]byte(nil), v...), true, nil
}

// record loads an incident's record; a missing one is a fresh record.
func (s *store) record(id string) (*record, error) {
	v, ok, err := s.get(prefixRecord + id)
	if err != nil {
		return nil, fmt.Errorf("notifier: load incident %s: %w", id, err)
	}
	if !ok {
		return &record{}, nil
	}
	r, err := decodeRecord(v)
	if err != nil {
		return nil, fmt.Errorf("notifier: decode incident %s: %w", id, err)
	}
	return r, nil
}

// sent reports whether the ledger has an entry for an event.
func (s *store) sent(eventID string) (bool, error) {
	_, ok, err := s.get(prefixLedger + eventID)
	return ok, err
}

// ledger returns the ledger entry of an event.
func (s *store) ledger(eventID string) (ledgerEntry, bool, error) {
	v, ok, err := s.get(prefixLedger + eventID)
	if err != nil || !ok {
		return ledgerEntry{}, ok, err
	}
	var e ledgerEntry
	return e, true, json.Unmarshal(v, &e)
}

// scan calls fn for every key with prefix.
func (s *store) scan(prefix string, fn func(k, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefix), UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}

func prefixEnd(p string) []byte {
	b := []byte(p)
	b[len(b)-1]++
	return b
}

// offsets returns the next offset to consume of every partition seen.
func (s *store) offsets() (map[int32]int64, error) { return s.partitionOffsets(prefixOffset) }

// history returns, per partition, the offset below which events are
// history a fresh store skipped (SkipHistory); empty if none was.
func (s *store) history() (map[int32]int64, error) { return s.partitionOffsets(prefixHistory) }

func (s *store) partitionOffsets(prefix string) (map[int32]int64, error) {
	out := map[int32]int64{}
	err := s.scan(prefix, func(k, v []byte) error {
		if len(k) != len(prefix)+4 || len(v) != 8 {
			return fmt.Errorf("malformed offset key %q", k)
		}
		out[int32(binary.BigEndian.Uint32(k[len(prefix):]))] = int64(binary.BigEndian.Uint64(v))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: load offsets: %w", err)
	}
	return out, nil
}

// pending returns the incidents that have work left.
func (s *store) pending() ([]string, error) {
	var ids []string
	err := s.scan(prefixPending, func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefixPending):]))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: load pending: %w", err)
	}
	return ids, nil
}

// batch collects writes that commit together.
type batch struct {
	b *pebble.Batch
}

func (s *store) batch() *batch { return &batch{b: s.db.NewBatch()} }

func (b *batch) putRecord(id string, r *record) error {
	v, err := encodeRecord(r)
	if err != nil {
		return fmt.Errorf("notifier: encode incident %s: %w", id, err)
	}
	if err := b.b.Set([]byte(prefixRecord+id), v, nil); err != nil {
		return err
	}
	if r.hasWork() {
		return b.b.Set([]byte(prefixPending+id), nil, nil)
	}
	if isNotice(id) {
		// A notice's record is its reply, now sent: the ledger keeps it.
		if err := b.b.Delete([]byte(prefixRecord+id), nil); err != nil {
			return err
		}
	}
	return b.b.Delete([]byte(prefixPending+id), nil)
}

func (b *batch) putOffset(p int32, next int64) error { return b.putPartition(prefixOffset, p, next) }

func (b *batch) putHistory(p int32, end int64) error { return b.putPartition(prefixHistory, p, end) }

func (b *batch) putPartition(prefix string, p int32, o int64) error {
	k := binary.BigEndian.AppendUint32([]byte(prefix), uint32(p))
	return b.b.Set(k, binary.BigEndian.AppendUint64(nil, uint64(o)), nil)
}

func (b *batch) putLedger(eventID string, e ledgerEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return b.b.Set([]byte(prefixLedger+eventID), v, nil)
}

// commit writes the batch durably (fsync) and releases it.
func (b *batch) commit() error {
	defer b.b.Close()
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("notifier: commit store: %w", err)
	}
	return nil
}

func (b *batch) discard() { b.b.Close() }

// pebbleLogger sends Pebble's log to slog: its info level (WAL replay,
// compactions) at debug.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) { p.l.Debug(fmt.Sprintf(format, args...)) }

func (p pebbleLogger) Errorf(format string, args ...any) { p.l.Error(fmt.Sprintf(format, args...)) }

// Fatalf is Pebble reporting corruption it cannot continue from; Pebble
// expects it not to return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic("notifier: pebble: " + msg)
}

// pruneLedger deletes ledger entries written before cutoff and returns how
// many it deleted. It runs beside the consumer and the lanes: the keys it
// deletes are old, and new entries are never older than cutoff.
func (s *store) pruneLedger(cutoff time.Time) (int, error) {
	b := s.db.NewBatch()
	n := 0
	err := s.scan(prefixLedger, func(k, v []byte) error {
		var e ledgerEntry
		if json.Unmarshal(v, &e) == nil && !e.At.Before(cutoff) {
			return nil
		}
		n++
		return b.Delete(append([]byte(nil), k...), nil)
	})
	if err != nil {
		b.Close()
		return 0, fmt.Errorf("notifier: prune ledger: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		b.Close()
		return 0, fmt.Errorf("notifier: prune ledger: %w", err)
	}
	b.Close()
	return n, nil
}
