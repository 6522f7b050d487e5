package processor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/eventlog"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// RebuildReport is what a rebuild found.
type RebuildReport struct {
	Events    int // events folded
	Incidents int // incidents in the rebuilt store

	// Problems in the events topic: an event whose version the incident
	// already had (a duplicate) or one that skips versions (a gap). Gaps
	// are reported, never folded over.
	DuplicateEvents, Gaps, Undecodable int

	// The live store compared with the rebuilt one, incident by incident.
	Equal      int // same bytes
	Behind     int // live state is an older version (a partition this instance no longer owns, or not yet caught up)
	Missing    int // in the rebuilt store, not in the live one, in a partition the live store has a checkpoint for
	Mismatched int // live state differs at the same version, is newer than the log, or is not in the log at all

	// The dedup window (remembered command outcomes), rebuilt from the
	// events and compared the same way. A live outcome the rebuilt window
	// has expired is not compared: the live processor expires as commands
	// arrive, a little behind. A live outcome that differs, or that the log
	// does not explain, counts in Mismatched.
	Outcomes        int // outcomes in the rebuilt window
	OutcomesEqual   int // same bytes in the live store
	OutcomesMissing int // not in the live store, in a partition it has a checkpoint for

	Problems []string // the first few problems, for people
}

// OK reports whether the log is sound and the live store agrees with it
// wherever it is up to date.
func (r RebuildReport) OK() bool {
	return r.DuplicateEvents == 0 && r.Gaps == 0 && r.Undecodable == 0 && r.Mismatched == 0
}

// Identical reports whether the live store holds exactly the rebuilt state.
func (r RebuildReport) Identical() bool {
	return r.OK() && r.Behind == 0 && r.Missing == 0 && r.OutcomesMissing == 0
}

const maxProblems = 20

func (r *RebuildReport) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Rebuild replays the events topic (read committed, up to its current
// stable end) into a fresh Pebble store in cfg.Dir/rebuild, folding with
// incident.Evolve, and compares it with the live store in cfg.Dir/pebble,
// which must not be open (stop the processor first). progress, if not
// nil, is called about once a second and at the end with the events
// folded and the events to fold.
func Rebuild(ctx context.Context, cfg Config, logger *slog.Logger, progress func(done, total int64)) (RebuildReport, error) {
	var rep RebuildReport
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := filepath.Join(cfg.Dir, "rebuild")
	if err := os.RemoveAll(dir); err != nil {
		return rep, fmt.Errorf("processor: rebuild: clear %s: %w", dir, err)
	}
	fresh, err := OpenStore(dir, logger)
	if err != nil {
		return rep, err
	}
	defer fresh.Close()
	horizon, err := replay(ctx, cfg, logger, fresh, &rep, progress)
	if err != nil {
		return rep, err
	}
	live := filepath.Join(cfg.Dir, "pebble")
	if _, err := os.Stat(live); errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("processor: rebuild: no live store in %s", live)
	}
	ls, err := OpenStore(live, logger)
	if err != nil {
		return rep, fmt.Errorf("processor: rebuild: %w (is the processor still running?)", err)
	}
	defer ls.Close()
	if err := compare(ls, fresh, &rep); err != nil {
		return rep, err
	}
	return rep, compareOutcomes(ls, fresh, horizon, cfg.DedupWindow, &rep)
}

// replay folds the events topic into store, and remembers each command's
// outcome in its dedup window, expired as of each partition's latest event
// (its horizon, returned).
func replay(ctx context.Context, cfg Config, logger *slog.Logger, store *Store, rep *RebuildReport, progress func(done, total int64)) (map[int32]time.Time, error) {
	topic := cfg.Kafka.Topics().Events
	cl, err := kafka.NewClient(cfg.Kafka, logger,
		kgo.ClientID("incidentd-rebuild"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return nil, fmt.Errorf("processor: rebuild: new client: %w", err)
	}
	defer cl.Close()
	target, total, err := stableEnds(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	if len(target) == 0 {
		if progress != nil {
			progress(0, 0)
		}
		return nil, nil
	}
	from := map[int32]kgo.Offset{}
	for p := range target {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: from})

	r := &replayer{store: store, rep: rep, overlay: map[string]*staged{}, outcomes: map[string]*stagedOutcome{},
		horizon: map[int32]time.Time{}}
	var done int64
	last := time.Now()
	for len(target) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fs.EachError(func(t string, part int32, err error) {
			logger.Warn("rebuild fetch error", "topic", t, "partition", part, "err", err)
		})
		var ferr error
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := target[rec.Partition]
			if !ok || ferr != nil {
				return
			}
			done++
			if rec.Offset >= end-1 {
				delete(target, rec.Partition)
			}
			if !rec.Attrs.IsControl() {
				ferr = r.apply(rec)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		if r.pending+len(r.outcomes) >= replayFlushEvery {
			if err := r.flush(); err != nil {
				return nil, err
			}
		}
		if progress != nil && time.Since(last) >= time.Second {
			progress(min(done, total), total)
			last = time.Now()
		}
	}
	if err := r.flush(); err != nil {
		return nil, err
	}
	if err := expireAll(store, r.horizon, cfg.DedupWindow); err != nil {
		return nil, err
	}
	if progress != nil {
		progress(total, total)
	}
	return r.horizon, nil
}

// stableEnds returns the last stable offset of each non-empty partition of
// topic, and their sum.
func stableEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, int64, error) {
	ends, err := eventlog.StableEnds(ctx, cl, topic)
	if err != nil {
		return nil, 0, fmt.Errorf("processor: rebuild: %w", err)
	}
	var total int64
	for p, end := range ends {
		if end <= 0 {
			delete(ends, p)
		}
		total += max(end, 0)
	}
	return ends, total, nil
}

// replayFlushEvery bounds the replay's overlay: states and outcomes are
// written to Pebble every replayFlushEvery events, so memory does not grow
// with the incident count.
const replayFlushEvery = 20000

// replayer folds events into a store through a bounded overlay of states
// and outcomes, and tracks each partition's horizon (its latest event's
// time).
type replayer struct {
	store    *Store
	rep      *RebuildReport
	overlay  map[string]*staged
	outcomes map[string]*stagedOutcome
	horizon  map[int32]time.Time
	flushes  int64
	pending  int // events folded into overlay since the last flush
}

// apply folds one event record: an undecodable record, a duplicate or a
// gap is reported in rep and skipped.
func (r *replayer) apply(rec *kgo.Record) error {
	rep := r.rep
	e, err := wire.DecodeEvent(rec.Value)
	if err != nil {
		rep.Undecodable++
		rep.problem("partition %d offset %d: undecodable event: %v", rec.Partition, rec.Offset, err)
		return nil
	}
	if h, ok := r.horizon[rec.Partition]; !ok || e.At.After(h) {
		r.horizon[rec.Partition] = e.At
	}
	if err := rememberEvent(r.store, r.outcomes, rec.Partition, e); err != nil {
		return err
	}
	if e.Notice() {
		return nil // in no history
	}
	st, ok := r.overlay[e.Incident]
	if !ok {
		s, err := r.store.State(rec.Partition, e.Incident)
		if err != nil {
			return err
		}
		st = &staged{partition: rec.Partition, state: s}
		r.overlay[e.Incident] = st
	}
	switch incident.Sequence(st.state.Version, e) {
	case incident.Seen:
		rep.DuplicateEvents++
		rep.problem("event %s is a duplicate (incident at version %d)", e.ID(), st.state.Version)
		return nil
	case incident.Gap:
		rep.Gaps++
		rep.problem("event %s follows version %d: gap", e.ID(), st.state.Version)
		return nil
	case incident.InOrder:
	}
	st.state = incident.Evolve(st.state, e)
	rep.Events++
	r.pending++
	return nil
}

// flush writes the overlay's states and outcomes to the store in one batch
// and empties the overlay.
func (r *replayer) flush() error {
	w := r.store.newBatch()
	defer w.discard()
	for id, st := range r.overlay {
		b, err := wire.EncodeState(st.state)
		if err != nil {
			return fmt.Errorf("processor: rebuild: encode state of %s: %w", id, err)
		}
		if err := w.setState(st.partition, id, b); err != nil {
			return fmt.Errorf("processor: rebuild: %w", err)
		}
	}
	clear(r.overlay)
	// The expiry index of a rebuilt store is dropped at the end
	// (expireAll): one batch per partition and flush, named by the
	// flush, will do.
	r.flushes++
	batches := map[int32][]incident.Outcome{}
	for _, so := range r.outcomes {
		batches[so.partition] = append(batches[so.partition], so.outcome)
	}
	for part, os := range batches {
		keys, records, err := outcomeRecords(part, os)
		if err == nil {
			err = w.setOutcomes(part, batchName(time.Time{}, r.flushes), keys, records)
		}
		if err != nil {
			return fmt.Errorf("processor: rebuild: %w", err)
		}
	}
	clear(r.outcomes)
	r.pending = 0
	return w.commit()
}

// rememberEvent records e in the rebuilt dedup window: the start of its
// command's outcome, or the next event of it, if it is one the processor
// remembers (incident.Remembered).
func rememberEvent(store *Store, outcomes map[string]*stagedOutcome, part int32, e incident.Event) error {
	if !incident.Remembered(e) {
		return nil
	}
	id := outcomeID(e.Tenant, e.Command)
	key := outcomeKey(part, id)
	so, ok := outcomes[string(key)]
	if !ok {
		o, found, err := store.outcome(key)
		if err != nil {
			return err
		}
		so = &stagedOutcome{partition: part, id: id, outcome: o}
		if !found {
			so.outcome = incident.Outcome{}
		}
		outcomes[string(key)] = so
	}
	if so.outcome.Extends(e) {
		so.outcome.To = e.Version
	} else {
		so.outcome = incident.OutcomeOf([]incident.Event{e})
	}
	return nil
}

// expireAll deletes every outcome older than its partition's horizon less
// the window, and the expiry index: a rebuilt store is compared, not run,
// so a full pass over the outcomes is exact and cheap enough.
func expireAll(store *Store, horizon map[int32]time.Time, window time.Duration) error {
	w := store.newBatch()
	defer func() { w.discard() }()
	err := store.EachOutcome(func(part int32, o incident.Outcome, _ []byte) error {
		if h, ok := horizon[part]; ok && timeKey(o.At) < timeKey(h.Add(-window)) {
			if err := w.deleteOutcome(part, outcomeID(o.Tenant, o.Command)); err != nil {
				return err
			}
		}
		if w.len() < restoreBatch {
			return nil
		}
		err := w.commit()
		w = store.newBatch()
		return err
	})
	if err == nil {
		err = w.b.DeleteRange([]byte{'e'}, []byte{'f'}, nil)
	}
	if err != nil {
		return fmt.Errorf("processor: rebuild: expire: %w", err)
	}
	return w.commit()
}

// compare checks the live store against the rebuilt one.
func compare(live, fresh *Store, rep *RebuildReport) error {
	checkpoints, err := live.Checkpoints()
	if err != nil {
		return err
	}
	// Every rebuilt incident against the live store.
	err = fresh.Each(func(part int32, id string, want []byte) error {
		rep.Incidents++
		got, err := live.raw(part, id)
		if err != nil {
			return err
		}
		if got == nil {
			if _, ok := checkpoints[part]; ok {
				rep.Missing++
			}
			return nil
		}
		if bytes.Equal(got, want) {
			rep.Equal++
			return nil
		}
		g, gerr := wire.DecodeState(got)
		w, werr := wire.DecodeState(want)
		switch {
		case gerr != nil || werr != nil:
			rep.Mismatched++
			rep.problem("incident %s: undecodable state: live %v, rebuilt %v", id, gerr, werr)
		case g.Version < w.Version:
			rep.Behind++
		default:
			rep.Mismatched++
			rep.problem("incident %s: live state at version %d differs from the log's at version %d", id, g.Version, w.Version)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Live incidents the log does not have at all.
	return live.Each(func(part int32, id string, _ []byte) error {
		b, err := fresh.raw(part, id)
		if err != nil {
			return err
		}
		if b == nil {
			rep.Mismatched++
			rep.problem("incident %s: in the live store, not in the events topic", id)
		}
		return nil
	})
}

// compareOutcomes checks the live dedup window against the rebuilt one.
func compareOutcomes(live, fresh *Store, horizon map[int32]time.Time, window time.Duration, rep *RebuildReport) error {
	checkpoints, err := live.Checkpoints()
	if err != nil {
		return err
	}
	// The live store expires outcomes in batches, as commands come; one
	// out of the window may or may not be there yet.
	expired := func(part int32, o incident.Outcome) bool {
		h, ok := horizon[part]
		return ok && timeKey(o.At) < timeKey(h.Add(-window))
	}
	err = fresh.EachOutcome(func(part int32, o incident.Outcome, want []byte) error {
		rep.Outcomes++
		got, err := live.rawOutcome(part, o)
		switch {
		case err != nil:
			return err
		case bytes.Equal(got, want):
			rep.OutcomesEqual++
		case got == nil:
			if _, ok := checkpoints[part]; ok && !expired(part, o) {
				rep.OutcomesMissing++
			}
		default:
			rep.Mismatched++
			rep.problem("outcome of command %s (tenant %s) differs from the log's", o.Command, o.Tenant)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return live.EachOutcome(func(part int32, o incident.Outcome, _ []byte) error {
		if expired(part, o) {
			return nil // expired in the rebuilt window, not yet in the live one
		}
		b, err := fresh.rawOutcome(part, o)
		if err != nil {
			return err
		}
		if b == nil {
			rep.Mismatched++
			rep.problem("outcome of command %s (tenant %s): in the live store, not explained by the events topic", o.Command, o.Tenant)
		}
		return nil
	})
}
