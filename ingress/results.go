package ingress

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// Outcome is what became of one command, as the results tracker saw it on
// the events topic: the versions of its events, or its rejection.
type Outcome struct {
	Incident  string
	From, To  uint64
	Rejection *incident.Rejection // nil when applied
}

// tracked is an incident as the tracker folded it. Complete is false when
// the tracker did not see the incident's history from version 1 without a
// gap, so State is not to be shown.
type tracked struct {
	State    incident.State
	Complete bool
}

// tracker consumes the events topic (read committed, no consumer group,
// from the start) and remembers, bounded, each command's outcome and each
// incident's latest folded state, and wakes the writers waiting for them.
type tracker struct {
	log *slog.Logger
	m   *metrics

	mu        sync.Mutex
	outcomes  *lru[string, Outcome]
	incidents *lru[string, tracked]
	// cards maps an incident card's message ("channel/ts") to its
	// incident: the card of an incident declared without a thread (slash
	// command, form) starts the thread people mention the app in.
	cards   *lru[string, string]
	waiters map[string][]chan struct{}
}

func newTracker(log *slog.Logger, m *metrics, commands, incidents int) *tracker {
	return &tracker{
		log: log, m: m,
		outcomes:  newLRU[string, Outcome](commands),
		incidents: newLRU[string, tracked](incidents),
		cards:     newLRU[string, string](incidents),
		waiters:   map[string][]chan struct{}{},
	}
}

// run consumes until ctx is done. cl is a client configured to consume the
// events topic; run owns it for the duration.
func (t *tracker) run(ctx context.Context, cl *kgo.Client) error {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(fs.Err0(), kgo.ErrClientClosed) {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.log.Warn("results tracker: fetch", "topic", topic, "partition", p, "err", err)
		})
		var events []incident.Event
		fs.EachRecord(func(r *kgo.Record) {
			e, err := wire.DecodeEvent(r.Value)
			if err != nil {
				t.log.Warn("results tracker: undecodable event", "partition", r.Partition, "offset", r.Offset, "err", err)
				return
			}
			events = append(events, e)
		})
		t.apply(events)
	}
}

// apply folds a batch of events and wakes the waiters of every command
// they touched. Waiters are woken per batch: a command's events are
// written in one transaction and arrive together.
func (t *tracker) apply(events []incident.Event) {
	if len(events) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	touched := map[string]bool{}
	for _, e := range events {
		t.m.trackerRecs.Inc()
		ts, ok := t.incidents.get(e.Incident)
		switch incident.Sequence(ts.State.Version, e) {
		case incident.Seen:
			continue // re-delivered; its outcome is already recorded
		case incident.Gap:
			// First seen mid-history (evicted, or the topic's start is
			// gone), or events are missing: versions and outcomes stay
			// right, the folded state is not shown.
			if ok && ts.Complete {
				t.log.Warn("results tracker: version gap", "incident_id", e.Incident, "have", ts.State.Version, "got", e.Version)
			}
			ts.Complete = false
		case incident.InOrder:
			if e.Version == 1 {
				ts.Complete = true
			}
		}
		ts.State = incident.Evolve(ts.State, e)
		if e.Kind == incident.SlackMessageRecorded {
			t.cards.put(cardKey(e.Message.Channel, e.Message.TS), e.Incident)
		}
		ts.State.Recent = nil // the tracker keeps outcomes itself
		t.incidents.put(e.Incident, ts)

		o, seen := t.outcomes.get(e.Command)
		if !seen || o.Incident != e.Incident || e.Version != o.To+1 {
			o = Outcome{Incident: e.Incident, From: e.Version}
		}
		o.To = e.Version
		o.Rejection = e.Rejection
		t.outcomes.put(e.Command, o)
		touched[e.Command] = true
	}
	t.m.tracked.Set(float64(t.outcomes.len()))
	for c := range touched {
		for _, ch := range t.waiters[c] {
			close(ch)
		}
		delete(t.waiters, c)
	}
}

// outcome returns a command's outcome if the tracker has seen it.
func (t *tracker) outcome(commandID string) (Outcome, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.outcomes.get(commandID)
}

// incident returns what the tracker knows of an incident.
func (t *tracker) incident(id string) (tracked, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.incidents.get(id)
}

// cardIncident returns the incident whose card is the message ts in
// channel, if the tracker has seen it.
func (t *tracker) cardIncident(channel, ts string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cards.get(cardKey(channel, ts))
}

func cardKey(channel, ts string) string { return channel + "/" + ts }

// wait blocks until the command's outcome is known or ctx is done.
func (t *tracker) wait(ctx context.Context, commandID string) (Outcome, bool) {
	t.mu.Lock()
	if o, ok := t.outcomes.get(commandID); ok {
		t.mu.Unlock()
		return o, true
	}
	ch := make(chan struct{})
	t.waiters[commandID] = append(t.waiters[commandID], ch)
	t.mu.Unlock()

	select {
	case <-ch:
		return t.outcome(commandID)
	case <-ctx.Done():
		t.mu.Lock()
		ws := t.waiters[commandID]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(t.waiters, commandID)
		} else {
			t.waiters[commandID] = ws
		}
		t.mu.Unlock()
		return Outcome{}, false
	}
}
