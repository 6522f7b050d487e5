package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/retry"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/readmodel"
)

// pipeline turns a batch of event records into stored rows: decode, fold,
// insert (retrying while ClickHouse is unreachable), and says which
// records could not be stored and why. The live projector and rebuild both
// use it; what they do with offsets and dead letters differs.
type pipeline struct {
	sink       Sink
	folder     *folder
	m          *metrics
	log        *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
	status     *statusReporter
	// healer, if set, re-reads the versions a gap misses from the log
	// (the live projector; a rebuild reads the whole log anyway).
	healer *healer
}

// deadLetter is a record that cannot be projected, with the reason.
type deadLetter struct {
	rec    *kgo.Record
	reason string // metric label: reasonUndecodable or reasonRefused
	err    error
}

// decoded is one record and its event.
type decoded struct {
	rec *kgo.Record
	ev  incident.Event
}

// decodeParallelMin is the batch size from which decoding is spread over
// the CPUs (rebuild batches are large; live ones mostly small).
const decodeParallelMin = 2048

// decode decodes records in order; undecodable ones become dead letters.
func decode(recs []*kgo.Record) ([]decoded, []deadLetter) {
	evs := make([]incident.Event, len(recs))
	errs := make([]error, len(recs))
	work := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			evs[i], errs[i] = wire.DecodeEvent(recs[i].Value)
			if errs[i] == nil && string(recs[i].Key) != evs[i].Incident {
				errs[i] = fmt.Errorf("record key %q is not the event's incident %q", recs[i].Key, evs[i].Incident)
			}
		}
	}
	if n := runtime.GOMAXPROCS(0); len(recs) >= decodeParallelMin && n > 1 {
		var wg sync.WaitGroup
		step := (len(recs) + n - 1) / n
		for lo := 0; lo < len(recs); lo += step {
			wg.Add(1)
			go func(lo, hi int) { defer wg.Done(); work(lo, hi) }(lo, min(lo+step, len(recs)))
		}
		wg.Wait()
	} else {
		work(0, len(recs))
	}
	out := make([]decoded, 0, len(recs))
	var dead []deadLetter
	for i, r := range recs {
		if errs[i] != nil {
			dead = append(dead, deadLetter{rec: r, reason: reasonUndecodable, err: errs[i]})
			continue
		}
		if evs[i].Notice() {
			continue // a rejection in no incident's history: nothing to project
		}
		out = append(out, decoded{rec: r, ev: evs[i]})
	}
	return out, dead
}

// applied is what became of a batch.
type applied struct {
	events int // event rows stored
	dead   []deadLetter
}

// apply stores a batch. It returns only when the rows are stored (or
// dead-lettered) or ctx is done, in which case it returns ctx's error and
// nothing of the batch may be treated as stored.
func (p *pipeline) apply(ctx context.Context, recs []*kgo.Record) (applied, error) {
	pr, err := p.prepare(ctx, recs)
	if err != nil {
		return applied{}, err
	}
	decs, dead, events, res := pr.decs, pr.dead, pr.events, pr.res
	states := res.stored()
	err = p.insert(ctx, events, states)
	if err == nil {
		p.folder.commit(res, nil)
		return applied{events: len(events), dead: dead}, nil
	}
	if !Refused(err) {
		return applied{}, err
	}
	// ClickHouse refused the batch: find the incidents whose rows it
	// refuses, one incident at a time.
	refused, stored, err := p.insertEach(ctx, decs, res)
	if err != nil {
		return applied{}, err
	}
	skip := make(map[string]bool, len(refused))
	for id := range refused {
		skip[id] = true
	}
	p.folder.commit(res, skip)
	for _, d := range decs {
		if d.rec == nil {
			continue // read from the log to heal a gap: its record is not ours to dead-letter
		}
		if err, ok := refused[d.ev.Incident]; ok {
			dead = append(dead, deadLetter{rec: d.rec, reason: reasonRefused, err: err})
		}
	}
	return applied{events: stored, dead: dead}, nil
}

// prepared is a decoded and folded batch, ready to store.
type prepared struct {
	decs   []decoded
	dead   []deadLetter
	events []incident.Event
	res    folded
}

// gapRechecks is how often a batch re-reads the states it found a version
// gap against before it reports the gap.
const gapRechecks = 3

// errStaleStates is prepare's signal to read the states again.
var errStaleStates = errors.New("version gap against states read back")

// prepare decodes and folds a batch; the cache is not changed.
func (p *pipeline) prepare(ctx context.Context, recs []*kgo.Record) (prepared, error) {
	decs, dead := decode(recs)
	events := make([]incident.Event, len(decs))
	for i, d := range decs {
		events[i] = d.ev
	}
	var res folded
	load := func() error {
		return p.retry(ctx, "load states", func() error {
			var err error
			res, err = p.folder.fold(ctx, events)
			return err
		})
	}
	// A gap against a state read back from the tables may only mean the
	// tables are a moment behind (a rebuild's catch-up after its swap):
	// read those states again a few times before healing it.
	var stale, attempt int
	rechecks := retry.Policy{Min: p.minBackoff, Max: p.minBackoff << gapRechecks, Tries: gapRechecks + 1}
	err := retry.Do(ctx, rechecks, func() error {
		if err := load(); err != nil {
			return retry.Permanent(err)
		}
		if stale = len(p.folder.recheck(res)); stale > 0 {
			return errStaleStates
		}
		return nil
	}, func(error, time.Duration) {
		attempt++
		p.log.Warn("version gap, reading the states again", "incidents", stale, "attempt", attempt)
	})
	if err != nil && !errors.Is(err, errStaleStates) {
		return prepared{}, err
	}
	if res.gaps > 0 && p.healer != nil {
		// The view misses versions the log has (lost rows, a batch that
		// never arrived): fold them in from the log, before the batch.
		healed, err := p.heal(ctx, decs, res)
		if err != nil {
			return prepared{}, err
		}
		if len(healed) > 0 {
			before := gapIncidents(res)
			decs = append(healed, decs...)
			evs := make([]incident.Event, 0, len(healed)+len(events))
			for _, d := range healed {
				evs = append(evs, d.ev)
			}
			events = append(evs, events...)
			if err := load(); err != nil {
				return prepared{}, err
			}
			after := gapIncidents(res)
			var n int
			var example string
			for id := range before {
				if !after[id] {
					n++
					example = id
				}
			}
			p.m.gapsHealed.Add(float64(n))
			p.log.Warn("version gaps healed from the log", "incidents", n, "events_read", len(healed),
				"still_gapped", len(after), "example_incident", example)
		}
	}
	p.folder.confirmGaps(res)
	if res.gaps > 0 {
		p.m.gaps.Add(float64(res.gaps))
		for _, e := range res.gapEvents {
			p.log.Error("version gap: event not folded, projected state stays behind",
				"incident_id", e.Incident, "version", e.Version, "kind", string(e.Kind))
		}
	}
	p.m.duplicates.Add(float64(res.dups))
	p.m.batchRows.Observe(float64(len(events)))
	return prepared{decs: decs, dead: dead, events: events, res: res}, nil
}

// insert writes a batch, retrying (with backoff) until it is stored, ctx
// is done, or ClickHouse refuses it.
func (p *pipeline) insert(ctx context.Context, events []incident.Event, states []incident.State) error {
	return p.retry(ctx, "insert", func() error {
		start := time.Now()
		err := p.sink.Insert(ctx, events, states)
		if err != nil {
			return err
		}
		p.m.insertSeconds.Observe(time.Since(start).Seconds())
		p.m.rowsInserted.WithLabelValues(readmodel.EventsTable).Add(float64(len(events)))
		p.m.rowsInserted.WithLabelValues(readmodel.IncidentsTable).Add(float64(len(states)))
		return nil
	})
}

// retry runs op until it succeeds, ctx is done, or it fails with an error
// ClickHouse raised about the data (Refused), backing off in between.
func (p *pipeline) retry(ctx context.Context, what string, op func() error) error {
	err := retry.Do(ctx, p.backoff(), func() error {
		err := op()
		if err != nil && Refused(err) && ctx.Err() == nil {
			p.m.insertErrors.WithLabelValues("refused").Inc()
			p.status.up()
			return retry.Permanent(err)
		}
		return err
	}, func(err error, wait time.Duration) {
		p.m.insertErrors.WithLabelValues("retried").Inc()
		p.status.down(err)
		p.log.Warn("clickhouse unavailable, retrying", "op", what, "backoff", wait, "err", err)
	})
	if err == nil {
		p.status.up()
	}
	return err
}

// backoff is how the pipeline waits between tries.
func (p *pipeline) backoff() retry.Policy {
	return retry.Policy{Min: p.minBackoff, Max: p.maxBackoff}
}

// errAllRefused is insertEach's signal to try the whole batch again.
var errAllRefused = errors.New("clickhouse refuses every incident of the batch")

// insertEach stores a refused batch incident by incident (bisecting) and
// returns the incidents ClickHouse refused (with its reasons) and the event
// rows stored. If it refuses every incident of a batch of several, the fault is
// not in the rows (a broken table, say): it backs off and tries the whole
// batch again rather than dead-letter the stream.
func (p *pipeline) insertEach(ctx context.Context, decs []decoded, res folded) (map[string]error, int, error) {
	var order []string
	byID := map[string][]incident.Event{}
	for _, d := range decs {
		if _, ok := byID[d.ev.Incident]; !ok {
			order = append(order, d.ev.Incident)
		}
		byID[d.ev.Incident] = append(byID[d.ev.Incident], d.ev)
	}
	changed := map[string]bool{}
	for _, id := range res.order {
		changed[id] = true
	}
	var refused map[string]error
	var stored int
	err := retry.Do(ctx, p.backoff(), func() error {
		refused = map[string]error{}
		var err error
		stored, err = p.bisect(ctx, order, byID, changed, res, refused)
		switch {
		case err != nil:
			return retry.Permanent(err)
		case len(order) >= 2 && len(refused) == len(order):
			return errAllRefused
		}
		return nil
	}, func(_ error, wait time.Duration) {
		p.log.Error("clickhouse refuses every incident of the batch; retrying it whole", "backoff", wait)
	})
	if err != nil {
		return nil, 0, err
	}
	return refused, stored, nil
}

// bisect stores the rows of a group of incidents, halving the group while
// ClickHouse refuses it, down to single incidents, which it records in
// refused. A few bad incidents cost a few inserts each, not one insert per
// incident of the batch.
func (p *pipeline) bisect(ctx context.Context, ids []string, byID map[string][]incident.Event, changed map[string]bool,
	res folded, refused map[string]error) (int, error) {
	var events []incident.Event
	var states []incident.State
	for _, id := range ids {
		events = append(events, byID[id]...)
		if changed[id] {
			states = append(states, *res.states[id])
		}
	}
	err := p.insert(ctx, events, states)
	switch {
	case err == nil:
		return len(events), nil
	case !Refused(err):
		return 0, err
	case len(ids) == 1:
		refused[ids[0]] = err
		return 0, nil
	}
	half := len(ids) / 2
	a, err := p.bisect(ctx, ids[:half], byID, changed, res, refused)
	if err != nil {
		return 0, err
	}
	b, err := p.bisect(ctx, ids[half:], byID, changed, res, refused)
	return a + b, err
}

// statusReporter tells people (through Config.Status) when ClickHouse
// becomes unreachable and when it is back, once per change.
type statusReporter struct {
	mu     sync.Mutex
	notify func(string)
	what   string // "ClickHouse at 127.0.0.1:9000"
	isDown bool
	m      *metrics
}

// isDownNow reports whether the last call to ClickHouse failed.
func (s *statusReporter) isDownNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isDown
}

func (s *statusReporter) down(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.clickhouseUp.Set(0)
	if s.isDown {
		return
	}
	s.isDown = true
	if s.notify != nil {
		s.notify(fmt.Sprintf("%s is not reachable (%v); retrying with backoff, nothing is lost meanwhile", s.what, err))
	}
}

func (s *statusReporter) up() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.clickhouseUp.Set(1)
	if !s.isDown {
		return
	}
	s.isDown = false
	if s.notify != nil {
		s.notify(s.what + " is reachable again; catching up")
	}
}
