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
// the events topic: the versions of its events (0 for a notice), or its
// rejection, and the request fingerprint it was decided for.
type Outcome struct {
	Incident    string
	Fingerprint string
	From, To    uint64
	Rejection   *incident.Rejection // nil when applied
}

// answers reports whether o is the outcome of the request c: the same
// incident and, where both have one, the same fingerprint. An outcome of
// another request under c's id means the idempotency key was reused.
func (o Outcome) answers(c incident.Command) bool {
	return o.Incident == c.Incident && (o.Fingerprint == "" || c.Fingerprint == "" || o.Fingerprint == c.Fingerprint)
}

// reusedKey is where the tracker keeps the refusal of a reused command id
// for the request with fingerprint fp, apart from the id's own outcome.
func reusedKey(commandID, fp string) string { return commandID + "\x00" + fp }

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
		if e.Notice() {
			// In no incident's history: only the outcome is recorded. A
			// refused reuse of a command id is kept apart, so the id's
			// first outcome still answers its own retries.
			o := Outcome{Incident: e.Incident, Fingerprint: e.Fingerprint, Rejection: e.Rejection}
			if e.Rejection != nil && e.Rejection.Code == incident.CodeKeyReused {
				t.outcomes.put(reusedKey(e.Command, e.Fingerprint), o)
			} else {
				t.outcomes.put(e.Command, o)
			}
			touched[e.Command] = true
			continue
		}
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
		t.incidents.put(e.Incident, ts)

		o, seen := t.outcomes.get(e.Command)
		if !seen || o.Incident != e.Incident || e.Version != o.To+1 {
			o = Outcome{Incident: e.Incident, Fingerprint: e.Fingerprint, From: e.Version}
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

// resultLocked returns the outcome of the request c if the tracker knows it:
// the outcome of c's id, or, when the id was decided for another request, a
// refusal as a reused key (CodeKeyReused). t.mu is held.
func (t *tracker) resultLocked(c incident.Command) (Outcome, bool) {
	if o, ok := t.outcomes.get(c.ID); ok {
		if o.answers(c) {
			return o, true
		}
		return Outcome{Incident: c.Incident, Fingerprint: c.Fingerprint, Rejection: keyReused()}, true
	}
	return t.outcomes.get(reusedKey(c.ID, c.Fingerprint))
}

// keyReused is the refusal of a command whose id came before with another
// request.
func keyReused() *incident.Rejection {
	return &incident.Rejection{Code: incident.CodeKeyReused,
		Reason: "this Idempotency-Key was used before for a different request; use a new key"}
}

// wait blocks until the outcome of the request c is known (see result) or
// ctx is done.
func (t *tracker) wait(ctx context.Context, c incident.Command) (Outcome, bool) {
	for {
		t.mu.Lock()
		if o, ok := t.resultLocked(c); ok {
			t.mu.Unlock()
			return o, true
		}
		ch := make(chan struct{})
		t.waiters[c.ID] = append(t.waiters[c.ID], ch)
		t.mu.Unlock()

		select {
		case <-ch:
			// An event of c's id: look again.
		case <-ctx.Done():
			t.mu.Lock()
			ws := t.waiters[c.ID]
			for i, w := range ws {
				if w == ch {
					ws = append(ws[:i], ws[i+1:]...)
					break
				}
			}
			if len(ws) == 0 {
				delete(t.waiters, c.ID)
			} else {
				t.waiters[c.ID] = ws
			}
			t.mu.Unlock()
			return Outcome{}, false
		}
	}
}
