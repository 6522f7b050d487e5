package notifier

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// lane is one channel's queue of incidents with work. One goroutine runs a
// lane while it has work; it makes one call at a time, so the channel's
// pace is kept without coordination.
type lane struct {
	key      string
	queue    []string // incident ids, each at most once
	nextAt   time.Time
	failures int // consecutive retryable failures
}

// dispatcher runs the lanes. Its state lives under Notifier.mu.
type dispatcher struct {
	n      *Notifier
	cl     *kgo.Client
	sender Sender
	sem    chan struct{} // bounds calls in flight
	wg     sync.WaitGroup
	queued map[string]bool // incidents waiting in some lane

	// fail stops Run when a lane cannot go on (the store failed).
	failOnce sync.Once
	err      error
	stop     context.CancelFunc
}

// fail records the first fatal error and stops Run.
func (d *dispatcher) fail(err error) {
	d.failOnce.Do(func() {
		d.err = err
		d.stop()
	})
}

// kick queues an incident on its channel's lane, starting the lane if it
// is idle. n.mu held.
func (d *dispatcher) kick(ctx context.Context, id string, rec *record) {
	t, err := d.n.route(rec.State)
	if err != nil {
		return // apply has dead-lettered it and dropped the work
	}
	l, ok := d.n.lanes[t.key()]
	if !ok {
		// A channel's pace outlives its lane.
		l = &lane{key: t.key(), nextAt: d.n.holds[t.key()]}
		delete(d.n.holds, t.key())
		d.n.lanes[l.key] = l
		d.wg.Add(1)
		go d.run(ctx, l)
	}
	if !d.queued[id] {
		d.queued[id] = true
		l.queue = append(l.queue, id)
		d.n.m.pending.Inc()
	}
}

// run serves a lane until it is empty or ctx is done. Each turn takes the
// incident at the head, makes its next call, and puts it back at the tail
// if it has more: incidents sharing a channel take turns.
func (d *dispatcher) run(ctx context.Context, l *lane) {
	defer d.wg.Done()
	n := d.n
	for {
		n.mu.Lock()
		if len(l.queue) == 0 || ctx.Err() != nil {
			delete(n.lanes, l.key)
			now := time.Now()
			for k, t := range n.holds {
				if !t.After(now) {
					delete(n.holds, k)
				}
			}
			if l.nextAt.After(now) {
				n.holds[l.key] = l.nextAt
			}
			n.mu.Unlock()
			return
		}
		id := l.queue[0]
		n.mu.Unlock()

		more, err := d.step(ctx, l, id)

		n.mu.Lock()
		l.queue = l.queue[1:]
		if !more && err == nil {
			// Work that arrived during the call found the incident
			// still queued; look again before letting it go.
			if rec, ok := n.recs[id]; ok {
				_, more = d.next(rec)
			}
		}
		if more && err == nil && ctx.Err() == nil {
			l.queue = append(l.queue, id)
		} else {
			delete(d.queued, id)
			n.m.pending.Dec()
			if rec, ok := n.recs[id]; ok && !rec.hasWork() {
				delete(n.recs, id)
			}
		}
		n.mu.Unlock()
		if err != nil {
			n.log.Error("notifier stopping: store failed", "incident_id", id, "err", err)
			d.fail(err)
		}
	}
}

// wait sleeps until t or ctx is done.
func wait(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// work is the next thing to do for an incident.
type work struct {
	call    Call
	kind    string // "ephemeral", "card", "record", "update", "timeline"
	version uint64 // the state version a card call shows
	events  []string
}

// next decides an incident's next work from its record. n.mu held.
func (d *dispatcher) next(rec *record) (work, bool) {
	n := d.n
	t, err := n.route(rec.State)
	if err != nil {
		return work{}, false
	}
	s := rec.State
	base := Call{Workspace: t.ws, Channel: t.channel, IncidentID: s.Incident}
	if isNotice(s.Incident) {
		base.IncidentID, base.Tenant = "", s.Tenant // the requester's, in no incident
	}
	switch {
	case len(rec.Ephemerals) > 0:
		e := rec.Ephemerals[0]
		c := base
		c.Method, c.User, c.Text, c.ThreadTS = MethodPostEphemeral, e.User, e.Text, t.thread
		return work{call: c, kind: "ephemeral", events: []string{e.Event}}, true
	case !s.Declared:
		return work{}, false
	case rec.Card.TS == "" && rec.CardWant > rec.CardShown:
		c := base
		c.Method, c.ThreadTS = MethodPostMessage, t.thread
		c.Text, c.Blocks = RenderCard(s, n.cfg.Policy, n.cfg.DashboardURL)
		c.Post = Post{Kind: PostCard}
		return work{call: c, kind: "card", version: s.Version, events: []string{incident.EventID(s.Incident, s.Version)}}, true
	case rec.CardCmd:
		return work{kind: "record"}, true
	case rec.CardWant > rec.CardShown:
		c := base
		c.Method, c.Channel, c.TS = MethodUpdate, rec.Card.Channel, rec.Card.TS
		c.Text, c.Blocks = RenderCard(s, n.cfg.Policy, n.cfg.DashboardURL)
		return work{call: c, kind: "update", version: s.Version}, true
	case len(rec.Timeline) > 0:
		c := base
		c.Method = MethodPostMessage
		c.ThreadTS = t.thread
		if c.ThreadTS == "" {
			// Dashboard incidents, and Slack ones declared outside a
			// thread (a slash command): the card's thread.
			c.ThreadTS = rec.Card.TS
		}
		k := min(len(rec.Timeline), maxTimelineLines)
		w := work{call: c, kind: "timeline"}
		for i, l := range rec.Timeline[:k] {
			if i > 0 {
				w.call.Text += "\n"
			}
			w.call.Text += l.Text
			w.events = append(w.events, l.Event)
		}
		w.call.Post = Post{Kind: PostTimeline, Events: w.events}
		return w, true
	}
	return work{}, false
}

// step makes an incident's next call, waiting for the channel's turn, and
// records the outcome. It reports whether the incident has more work. An
// error means the store failed; ctx's end is reported as no more work.
func (d *dispatcher) step(ctx context.Context, l *lane, id string) (bool, error) {
	n := d.n
	n.mu.Lock()
	rec, err := n.load(id)
	if err != nil {
		n.mu.Unlock()
		return false, err
	}
	w, ok := d.next(rec)
	paced := ok && (w.kind == "card" || w.kind == "update" || w.kind == "timeline")
	nextAt := l.nextAt
	n.mu.Unlock()
	if !ok {
		return false, nil
	}
	if w.kind == "record" {
		return d.recordCard(ctx, id)
	}
	if paced {
		if wait(ctx, nextAt) != nil {
			return false, nil
		}
		// Coalesce: whatever arrived while waiting goes in this call.
		n.mu.Lock()
		w, ok = d.next(rec)
		n.mu.Unlock()
		if !ok || w.kind == "record" {
			return ok, nil
		}
	}

	// The slot is held until the outcome is stored: calls that Slack has
	// answered but the store does not know of yet (the window in which a
	// crash repeats a message) are at most Concurrency.
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return false, nil
	}
	defer func() { <-d.sem }()
	n.mu.Lock()
	unsure := rec.unsure
	n.mu.Unlock()
	// A call once started is not cut short by shutdown: a stop waits for
	// it (CallTimeout at most) and stores its outcome, so a graceful stop
	// never repeats a message.
	ctx2, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.cfg.CallTimeout)
	began := time.Now()
	ts, retryable, serr := d.send(ctx2, &w, unsure)
	cancel()
	n.m.callSeconds.WithLabelValues(w.call.Method).Observe(time.Since(began).Seconds())

	if serr != nil && ctx.Err() != nil {
		return false, nil // shutting down: the work stays stored for the next start
	}
	log := n.log.With("incident_id", id, "method", w.call.Method, "channel", w.call.Channel)
	n.mu.Lock()
	defer n.mu.Unlock()
	if (paced || serr != nil) && !n.cfg.OutboxMode() {
		l.nextAt = time.Now().Add(n.cfg.ChannelInterval)
	}
	var ra *RetryAfterError
	switch {
	case serr == nil:
		l.failures = 0
		rec.unsure = false
		n.m.calls.WithLabelValues(w.call.Method, "ok").Inc()
		return d.done(rec, id, w, ts)
	case errors.As(serr, &ra):
		n.m.calls.WithLabelValues(w.call.Method, "ratelimited").Inc()
		l.nextAt = time.Now().Add(ra.After)
		log.Debug("rate limited", "retry_after", ra.After)
		return true, nil
	case retryable:
		if w.call.Method == MethodPostMessage {
			// Slack may have made it (a timeout, a 5xx): look before
			// posting again.
			rec.unsure = true
		}
		n.m.calls.WithLabelValues(w.call.Method, "retry").Inc()
		l.failures++
		l.nextAt = time.Now().Add(max(d.backoff(l.failures), n.cfg.ChannelInterval))
		log.Warn("slack call failed; will retry", "err", serr, "failures", l.failures)
		return true, nil
	}
	n.m.calls.WithLabelValues(w.call.Method, "permanent").Inc()
	log.Error("slack call failed permanently; dead-lettering", "err", serr)
	dl := DeadLetter{IncidentID: id, Method: w.call.Method, Channel: w.call.Channel, Team: w.call.Workspace.TeamID,
		Error: slackCode(serr), Reason: serr.Error()}
	if len(w.events) > 0 {
		dl.EventID = w.events[len(w.events)-1]
	}
	// Produce with the lock released: the broker may be slow.
	n.mu.Unlock()
	err = d.deadLetter(ctx, dl)
	n.mu.Lock()
	if err != nil {
		return false, nil // ctx done; the work stays stored and is retried on start
	}
	rec.unsure = false
	return d.drop(rec, id, w, serr)
}

// send makes w's call. A post that may already have been made (unsure:
// an earlier attempt's answer was lost) is looked for first
// (Finder): found, it is adopted as this call's outcome, w's events
// becoming those it tells of, and a card's version unknown (0), so the
// next update shows the latest state. A lookup Slack refuses for good
// (the thread is gone) leaves the decision to the post.
func (d *dispatcher) send(ctx context.Context, w *work, unsure bool) (string, bool, error) {
	if f, ok := d.sender.(Finder); ok && unsure && w.call.Method == MethodPostMessage && w.call.Post.Kind != "" {
		ts, events, found, retryable, err := f.Find(ctx, w.call)
		switch {
		case err != nil && retryable:
			return "", true, err
		case err != nil:
			d.n.log.Warn("looking for a post whose answer was lost; posting it", "incident_id", w.call.IncidentID, "err", err)
		case found:
			d.n.m.calls.WithLabelValues(w.call.Method, "found").Inc()
			if w.kind == "card" {
				w.version = 0
			} else {
				w.events = events
			}
			return ts, false, nil
		}
	}
	return d.sender.Send(ctx, w.call)
}

// backoff is the wait after the nth consecutive retryable failure, with
// jitter.
func (d *dispatcher) backoff(failures int) time.Duration {
	b := d.n.cfg.MinBackoff << min(failures-1, 16)
	if b > d.n.cfg.MaxBackoff || b <= 0 {
		b = d.n.cfg.MaxBackoff
	}
	return b/2 + rand.N(b/2+1) //nolint:gosec // G404: the jitter of a retry, not a secret
}

// done records a successful call: the record loses the work, the ledger
// gains the events, both in one synced batch. n.mu held.
func (d *dispatcher) done(rec *record, id string, w work, ts string) (bool, error) {
	n := d.n
	now := n.cfg.Now()
	switch w.kind {
	case "ephemeral":
		rec.Ephemerals = removeFirst(rec.Ephemerals, func(e ephemeral) string { return e.Event }, w.events)
	case "card", "update":
		if w.kind == "card" {
			rec.Card = incident.SlackMessage{Channel: w.call.Channel, TS: ts}
			rec.CardCmd = true
		}
		if w.version > rec.CardShown {
			rec.CardShown = w.version
		}
		if rec.CardShown >= rec.CardWant && !rec.dirtySince.IsZero() {
			n.m.cardLag.Observe(now.Sub(rec.dirtySince).Seconds())
			rec.dirtySince = time.Time{}
		}
	case "timeline":
		rec.Timeline = removeFirst(rec.Timeline, func(l timelineLine) string { return l.Event }, w.events)
	}
	b := n.st.batch()
	if err := b.putRecord(id, rec); err != nil {
		b.discard()
		return false, err
	}
	for _, ev := range w.events {
		if err := b.putLedger(ev, ledgerEntry{Method: w.call.Method, Channel: w.call.Channel, TS: ts, At: now}); err != nil {
			b.discard()
			return false, err
		}
	}
	if err := b.commit(); err != nil {
		return false, err
	}
	return rec.hasWork(), nil
}

// drop gives up a call Slack refused for good, so processing goes on. A
// card that no longer exists is forgotten, so the next change posts a new
// one. n.mu held.
func (d *dispatcher) drop(rec *record, id string, w work, serr error) (bool, error) {
	switch w.kind {
	case "ephemeral":
		rec.Ephemerals = removeFirst(rec.Ephemerals, func(e ephemeral) string { return e.Event }, w.events)
	case "card":
		rec.CardShown = max(rec.CardShown, w.version)
	case "update":
		var se *SlackError
		if errors.As(serr, &se) && (se.Code == "message_not_found" || se.Code == "cant_update_message") {
			rec.Card = incident.SlackMessage{}
		}
		rec.CardShown = max(rec.CardShown, w.version)
	case "timeline":
		rec.Timeline = removeFirst(rec.Timeline, func(l timelineLine) string { return l.Event }, w.events)
	}
	rec.dirtySince = time.Time{}
	b := d.n.st.batch()
	if err := b.putRecord(id, rec); err != nil {
		b.discard()
		return false, err
	}
	if err := b.commit(); err != nil {
		return false, err
	}
	return rec.hasWork(), nil
}

// removeFirst drops the leading items whose ids are in ids (the ones a
// call covered; items appended meanwhile stay).
func removeFirst[T any](items []T, id func(T) string, ids []string) []T {
	i := 0
	for i < len(items) && slices.Contains(ids, id(items[i])) {
		i++
	}
	return slices.Clone(items[i:])
}

// recordCard produces the RecordSlackMessage command that puts the card's
// channel and ts into the incident, so every later update (from any
// notifier) edits that card. Its id is derived from the card, so a retry
// after a crash is a duplicate the processor answers with the original
// outcome.
func (d *dispatcher) recordCard(ctx context.Context, id string) (bool, error) {
	n := d.n
	n.mu.Lock()
	rec, err := n.load(id)
	if err != nil {
		n.mu.Unlock()
		return false, err
	}
	card, tenant := rec.Card, rec.State.Tenant
	n.mu.Unlock()
	cmd := incident.Command{
		ID:       incident.CommandIDFor("notifier-card", id, card.Channel, card.TS),
		Incident: id, Tenant: tenant, Actor: "incidentd-notifier", At: n.cfg.Now().UTC(),
		Kind: incident.RecordSlackMessage, Message: incident.SlackMessage{Channel: card.Channel, TS: card.TS},
	}
	v, err := wire.EncodeCommand(cmd)
	if err != nil {
		return false, err
	}
	if err := d.cl.ProduceSync(ctx, &kgo.Record{Topic: n.topics.Commands, Key: []byte(id), Value: v}).FirstErr(); err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		n.m.commands.WithLabelValues("error").Inc()
		n.log.Warn("produce card command; will retry", "incident_id", id, "command_id", cmd.ID, "err", err)
		return true, nil
	}
	n.m.commands.WithLabelValues("ok").Inc()
	n.mu.Lock()
	defer n.mu.Unlock()
	if rec.Card == card {
		rec.CardCmd = false
	}
	b := n.st.batch()
	if err := b.putRecord(id, rec); err != nil {
		b.discard()
		return false, err
	}
	if err := b.commit(); err != nil {
		return false, err
	}
	return rec.hasWork(), nil
}
