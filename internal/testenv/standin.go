package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// StandInProcessor stands in for incidentd's processor where a test needs
// events from commands but not the processor's guarantees (transactions,
// state on disk, partition ownership): one goroutine decides every command
// of the commands topic with the real model (incident.Memory.Decide, the
// default policy) and produces the events in order, outside transactions.
// It is safe for concurrent use.
type StandInProcessor struct {
	mu     sync.Mutex
	seen   incident.Memory
	states map[string]incident.State
	events map[string][]incident.Event
	err    error
}

// StartStandInProcessor runs a stand-in processor on cfg's topics until the
// test ends. onEvents, if not nil, is called with each batch of events once
// the broker acked them, from the processor's goroutine, in log order.
func StartStandInProcessor(t testing.TB, cfg kafka.Config, onEvents func([]incident.Event)) *StandInProcessor {
	t.Helper()
	p := &StandInProcessor{seen: incident.Memory{}, states: map[string]incident.State{}, events: map[string][]incident.Event{}}
	cl := NewClient(t, cfg, kgo.ConsumeTopics(cfg.Topics().Commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			out, evs := p.decide(cfg.Topics().Events, cl.PollFetches(ctx))
			if len(out) == 0 {
				continue
			}
			if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
				if ctx.Err() == nil {
					p.fail(err)
				}
				continue
			}
			if onEvents != nil {
				onEvents(evs)
			}
		}
	}()
	return p
}

// decide applies the fetched commands and returns the records and events
// they produce.
func (p *StandInProcessor) decide(topic string, fs kgo.Fetches) ([]*kgo.Record, []incident.Event) {
	policy := incident.DefaultPolicy()
	var out []*kgo.Record
	var evs []incident.Event
	fs.EachRecord(func(rec *kgo.Record) {
		c, err := wire.DecodeCommand(rec.Value)
		if err != nil {
			p.fail(err)
			return
		}
		p.mu.Lock()
		d := p.seen.Decide(policy, p.states[c.Incident], c)
		if len(d.Events) > 0 && !d.Events[0].Notice() {
			p.states[c.Incident] = incident.Fold(p.states[c.Incident], d.Events...)
			p.events[c.Incident] = append(p.events[c.Incident], d.Events...)
		}
		p.mu.Unlock()
		for _, e := range d.Events {
			v, err := wire.EncodeEvent(e)
			if err != nil {
				p.fail(err)
				return
			}
			out = append(out, &kgo.Record{Topic: topic, Key: []byte(e.Incident), Value: v})
			evs = append(evs, e)
		}
	})
	return out, evs
}

func (p *StandInProcessor) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Decided reports whether c has an outcome.
func (p *StandInProcessor) Decided(c incident.Command) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.seen.Outcome(c.Tenant, c.ID)
	return ok
}

// Snapshot returns a copy of every incident's state and history (notices
// left out) and the first error the processor met (an undecodable command,
// a failed produce).
func (p *StandInProcessor) Snapshot() (map[string]incident.State, map[string][]incident.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := make(map[string]incident.State, len(p.states))
	ev := make(map[string][]incident.Event, len(p.events))
	for k, v := range p.states {
		st[k] = v
	}
	for k, v := range p.events {
		ev[k] = append([]incident.Event(nil), v...)
	}
	return st, ev, p.err
}
