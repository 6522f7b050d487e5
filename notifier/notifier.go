package notifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/eventlog"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/retry"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/slackapp"
)

// Notifier keeps Slack (or the outbox) in step with the events topic.
type Notifier struct {
	cfg      Config
	log      *slog.Logger
	m        *metrics
	topics   kafka.Topics
	byTeam   map[string]slackapp.Workspace
	byTenant map[string]slackapp.Workspace

	// mu guards everything below and the records it holds; store writes
	// happen under it, so a record is never written older than it is.
	mu    sync.Mutex
	st    *store
	recs  map[string]*record   // incidents loaded: those with work, and the current fetch's
	lanes map[string]*lane     // by channel key, while they have work
	holds map[string]time.Time // channel key -> when an idle channel may get its next message
	// history: per partition, the offset below which events are history
	// to fold without sending (SkipHistory on a fresh store).
	history map[int32]int64

	// consuming is set while Run reads the events topic.
	consuming atomic.Bool
}

// Ready reports whether Run has opened its store, found the events topic
// and is consuming it. It is what the notifier's /readyz answers.
func (n *Notifier) Ready() bool { return n.consuming.Load() }

// New checks cfg and registers the metrics. Run does the work.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Notifier, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("notifier: register metrics: %w", err)
	}
	n := &Notifier{
		cfg: cfg, log: logger, m: m, topics: cfg.Kafka.Topics(),
		byTeam: map[string]slackapp.Workspace{}, byTenant: map[string]slackapp.Workspace{},
		recs: map[string]*record{}, lanes: map[string]*lane{}, holds: map[string]time.Time{},
	}
	for _, w := range cfg.Workspaces {
		n.byTeam[w.TeamID] = w
		n.byTenant[w.Tenant] = w
	}
	return n, nil
}

// Run consumes the events topic and sends until ctx is done, then stops
// its senders and returns ctx's error. It returns early only if it cannot
// start (store, broker, topics) or the store fails.
func (n *Notifier) Run(ctx context.Context) error {
	if err := os.MkdirAll(n.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("notifier: data dir: %w", err)
	}
	st, err := openStore(filepath.Join(n.cfg.Dir, "store"), n.log)
	if err != nil {
		return err
	}
	defer st.close()

	sender, closeSender, err := n.sender()
	if err != nil {
		return err
	}
	defer closeSender()

	cl, err := kafka.NewClient(n.cfg.Kafka, n.log,
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	defer cl.Close()
	parts, err := n.partitions(ctx, cl)
	if err != nil {
		return err
	}

	start, pending, err := n.resume(ctx, cl, st, parts)
	if err != nil {
		return err
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{n.topics.Events: start})

	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	d := &dispatcher{n: n, cl: cl, sender: sender, sem: make(chan struct{}, n.cfg.Concurrency),
		queued: map[string]bool{}, stop: stopPolling}
	dctx, stopLanes := context.WithCancel(pollCtx)
	defer func() {
		stopLanes()
		d.wg.Wait()
	}()
	n.mu.Lock()
	for _, id := range pending {
		rec, err := n.load(id)
		if err != nil {
			n.mu.Unlock()
			return err
		}
		d.kick(dctx, id, rec)
	}
	n.mu.Unlock()
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		n.pruneLoop(dctx, st)
	}()
	n.consuming.Store(true)
	defer n.consuming.Store(false)
	n.log.Info("notifier consuming", "topic", n.topics.Events, "partitions", len(parts), "resumed_incidents", len(pending), "outbox", n.cfg.OutboxMode())

	for {
		fetches := cl.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			stopLanes()
			d.wg.Wait()
			if d.err != nil {
				return d.err
			}
			return ctx.Err()
		}
		fetches.EachError(func(topic string, p int32, err error) {
			n.log.Warn("fetch", "topic", topic, "partition", p, "err", err)
		})
		if err := n.consume(ctx, d, dctx, fetches); err != nil {
			return err
		}
	}
}

// sender is where the notifier's messages go: cfg.Sender, the outbox
// file in outbox mode, or the Slack Web API. The returned function closes
// it.
func (n *Notifier) sender() (Sender, func(), error) {
	switch {
	case n.cfg.Sender != nil:
		return n.cfg.Sender, func() {}, nil
	case n.cfg.OutboxMode():
		ob, err := OpenOutbox(filepath.Join(n.cfg.Dir, OutboxFile), n.cfg.Now)
		if err != nil {
			return nil, nil, err
		}
		return ob, func() { ob.Close() }, nil
	default:
		return NewSlackSender(n.cfg.SlackAPIURL, n.cfg.CallTimeout), func() {}, nil
	}
}

// resume loads what st remembers (each partition's next offset, where its
// history ends, the incidents with messages still to send), marks the
// history of a fresh store when cfg.SkipHistory asks to, and returns the
// offset to consume each of parts from and the pending incidents.
func (n *Notifier) resume(ctx context.Context, cl *kgo.Client, st *store, parts map[int32]bool) (map[int32]kgo.Offset, []string, error) {
	n.mu.Lock()
	n.st = st
	offsets, err := st.offsets()
	if err != nil {
		n.mu.Unlock()
		return nil, nil, err
	}
	n.history, err = st.history()
	if err != nil {
		n.mu.Unlock()
		return nil, nil, err
	}
	pending, err := st.pending()
	n.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if n.cfg.SkipHistory && len(offsets) == 0 && len(n.history) == 0 {
		if err := n.markHistory(ctx, cl, st); err != nil {
			return nil, nil, err
		}
	}
	start := map[int32]kgo.Offset{}
	for p := range parts {
		start[p] = kgo.NewOffset().AtStart()
		if next, ok := offsets[p]; ok {
			start[p] = kgo.NewOffset().At(next)
		}
	}
	return start, pending, nil
}

// markHistory stores, for a fresh store, where each partition's history
// ends (its last stable offset): consume folds the events before it
// without sending. It is stored, so a crash during the catch-up does not
// turn the rest of the history into messages.
func (n *Notifier) markHistory(ctx context.Context, cl *kgo.Client, st *store) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, n.topics.Events)
	if err != nil {
		return fmt.Errorf("notifier: list end offsets of %s: %w", n.topics.Events, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("notifier: list end offsets of %s: %w", n.topics.Events, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	b := st.batch()
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		n.history[o.Partition] = o.Offset
		total += o.Offset
		if err == nil {
			err = b.putHistory(o.Partition, o.Offset)
		}
	})
	if err != nil {
		b.discard()
		return err
	}
	if err := b.commit(); err != nil {
		return err
	}
	n.log.Info("fresh store: skipping the events topic's history", "offsets", total)
	return nil
}

// pruneLoop prunes the ledger at start and hourly until ctx is done.
func (n *Notifier) pruneLoop(ctx context.Context, st *store) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		pruned, err := st.pruneLedger(n.cfg.Now().Add(-n.cfg.LedgerRetention))
		if err != nil {
			n.log.Error("prune ledger", "err", err)
		} else if pruned > 0 {
			n.log.Info("pruned ledger", "entries", pruned)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// partitions returns the events topic's partitions.
func (n *Notifier) partitions(ctx context.Context, cl *kgo.Client) (map[int32]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	td, err := kadm.NewClient(cl).ListTopics(ctx, n.topics.Events)
	if err != nil {
		return nil, fmt.Errorf("notifier: list topic %s: %w", n.topics.Events, err)
	}
	t, ok := td[n.topics.Events]
	if !ok || t.Err != nil {
		return nil, fmt.Errorf("notifier: events topic %s: not found (%v); create the topics first (incidentd topics)", n.topics.Events, t.Err)
	}
	parts := map[int32]bool{}
	for p := range t.Partitions {
		parts[p] = true
	}
	return parts, nil
}

// load returns an incident's record, from memory or the store. n.mu held.
func (n *Notifier) load(id string) (*record, error) {
	if r, ok := n.recs[id]; ok {
		return r, nil
	}
	r, err := n.st.record(id)
	if err != nil {
		return nil, err
	}
	n.recs[id] = r
	return r, nil
}

// consume folds one poll's events into the records and stores them, with
// the offsets, in one synced batch; then it hands the incidents with work
// to their channel lanes. Dead letters for events it cannot handle are
// produced before the batch commits, so a crash repeats them rather than
// losing them.
func (n *Notifier) consume(ctx context.Context, d *dispatcher, dctx context.Context, fetches kgo.Fetches) error {
	if fetches.NumRecords() == 0 {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	touched := map[string]*record{}
	next := map[int32]int64{}
	var dead []DeadLetter
	var err error
	fetches.EachRecord(func(r *kgo.Record) {
		if err != nil {
			return
		}
		next[r.Partition] = r.Offset + 1
		e, derr := wire.DecodeEvent(r.Value)
		if derr != nil || e.Incident == "" {
			if derr == nil {
				derr = errors.New("event without an incident id")
			}
			n.m.events.WithLabelValues("malformed").Inc()
			n.log.Error("malformed event", "partition", r.Partition, "offset", r.Offset, "err", derr)
			dead = append(dead, DeadLetter{IncidentID: string(r.Key), Error: "malformed_event",
				Reason: fmt.Sprintf("event at partition %d offset %d: %v", r.Partition, r.Offset, derr), Record: r.Value})
			return
		}
		log := n.log.With("incident_id", e.Incident, "partition", r.Partition, "offset", r.Offset)
		history := r.Offset < n.history[r.Partition]
		if e.Notice() {
			var rec *record
			if rec, err = n.notice(log, e, history); err == nil && rec != nil {
				touched[rec.State.Incident] = rec
			}
			return
		}
		var rec *record
		if rec, err = n.load(e.Incident); err != nil {
			return
		}
		if incident.Sequence(rec.State.Version, e) == incident.Gap {
			// Fold the versions the store missed from the log first.
			for _, m := range n.missing(ctx, log, rec, e, r) {
				var dl []DeadLetter
				if dl, err = n.apply(log, rec, m, history); err != nil {
					return
				}
				dead = append(dead, dl...)
			}
		}
		var dl []DeadLetter
		if dl, err = n.apply(log, rec, e, history); err != nil {
			return
		}
		dead = append(dead, dl...)
		touched[e.Incident] = rec
	})
	if err != nil {
		return err
	}
	for _, dl := range dead {
		if err := d.deadLetter(ctx, dl); err != nil {
			return err
		}
	}
	b := n.st.batch()
	for id, rec := range touched {
		if err := b.putRecord(id, rec); err != nil {
			b.discard()
			return err
		}
	}
	for p, o := range next {
		if err := b.putOffset(p, o); err != nil {
			b.discard()
			return err
		}
	}
	if err := b.commit(); err != nil {
		return err
	}
	for id, rec := range touched {
		if rec.hasWork() {
			d.kick(dctx, id, rec)
		} else if !d.queued[id] {
			delete(n.recs, id)
		}
	}
	return nil
}

// missingReads bounds the attempts to read a gap's missing versions
// while Kafka does not answer; after them the gap is folded over and
// reported, as a gap the log cannot fill is.
const missingReads = 3

// missing returns the events of rec's incident between its version and
// e's, read from e's partition (r) up to e: what heals the gap e opens.
// It reads under n.mu, which holds the lanes back meanwhile; gaps only
// follow a fault, so that is rare. n.mu held.
func (n *Notifier) missing(ctx context.Context, log *slog.Logger, rec *record, e incident.Event, r *kgo.Record) []incident.Event {
	gap := eventlog.Gap{Incident: e.Incident, Have: rec.State.Version, Got: e.Version, Partition: r.Partition, Offset: r.Offset}
	var evs []incident.Event
	var readErr error
	err := retry.Do(ctx, retry.Policy{Min: n.cfg.MinBackoff, Max: n.cfg.MaxBackoff, Tries: missingReads}, func() error {
		evs, readErr = eventlog.Missing(ctx, n.cfg.Kafka, n.log, n.topics.Events, []eventlog.Gap{gap})
		return readErr
	}, nil)
	if err != nil {
		log.Error("version gap: reading the missing versions from the log failed", "have", gap.Have, "got", gap.Got, "err", readErr)
		return nil
	}
	if len(evs) > 0 {
		n.m.gapsHealed.Inc()
		log.Warn("version gap healed from the log", "have", gap.Have, "got", gap.Got, "events_read", len(evs))
	}
	return evs
}

// noticePrefix starts the key of a notice's record: a notice is in no
// incident, so its reply to the requester is work of its own.
const noticePrefix = "notice/"

// isNotice reports whether a record key is a notice's.
func isNotice(id string) bool { return strings.HasPrefix(id, noticePrefix) }

// notice returns the record of a notice's reply: an ephemeral message to
// the requester in the Slack channel (and thread) the command came from,
// with the requester's workspace, or in the outbox as the requester's
// tenant's. Never in the incident's channel, which may be another
// tenant's. It returns nil when there is nobody in Slack to tell, the
// reply was sent, or the command's team is not a workspace of its tenant
// (logged). n.mu held.
func (n *Notifier) notice(log *slog.Logger, e incident.Event, history bool) (*record, error) {
	n.m.events.WithLabelValues("notice").Inc()
	src := e.Source
	if history || src.Kind != incident.FromSlack || src.Channel == "" || !slackapp.IsUserID(e.Actor) || e.CommandKind == incident.RecordSlackMessage {
		return nil, nil
	}
	key := noticePrefix + e.Tenant + "/" + e.Command + "/" + strconv.FormatInt(e.At.UnixNano(), 36)
	if sent, err := n.st.sent(key); err != nil || sent {
		return nil, err
	}
	rec, err := n.load(key)
	if err != nil || len(rec.Ephemerals) > 0 {
		return rec, err // a notice delivered again while its reply waits
	}
	rec.State = incident.State{Incident: key, Tenant: e.Tenant, Source: src}
	if _, err := n.route(rec.State); err != nil {
		delete(n.recs, key)
		log.Warn("notice not told: no workspace of its tenant for its Slack team", "team", src.Team, "tenant", e.Tenant, "err", err)
		return nil, nil
	}
	rec.Ephemerals = []ephemeral{{Event: key, User: e.Actor, Text: RejectionText(e)}}
	return rec, nil
}

// apply folds one event into its record and notes what it asks to send;
// an event of the skipped history asks for nothing. It returns dead
// letters for work that cannot be routed. n.mu held.
func (n *Notifier) apply(log *slog.Logger, rec *record, e incident.Event, history bool) ([]DeadLetter, error) {
	if e.Notice() {
		// A rejection in no incident's history (another tenant's, or an
		// undeclared incident): nothing goes to the incident's channel.
		n.m.events.WithLabelValues("notice").Inc()
		return nil, nil
	}
	switch seq := incident.Sequence(rec.State.Version, e); {
	case seq == incident.Seen:
		n.m.events.WithLabelValues("duplicate").Inc()
		return nil, nil
	case history:
		n.m.events.WithLabelValues("history").Inc()
		rec.State = incident.Evolve(rec.State, e)
		if e.Kind == incident.SlackMessageRecorded {
			rec.Card = incident.SlackMessage{Channel: e.Message.Channel, TS: e.Message.TS}
		}
		rec.CardWant, rec.CardShown = e.Version, e.Version
		return nil, nil
	case seq == incident.Gap:
		// Views never fold over a gap silently: report it. The notifier
		// still shows the newer state, since a card stuck on an old
		// state is worse than one that skipped a version.
		n.m.events.WithLabelValues("gap").Inc()
		log.Warn("version gap in events", "have", rec.State.Version, "got", e.Version)
	default:
		n.m.events.WithLabelValues("applied").Inc()
	}
	rec.State = incident.Evolve(rec.State, e)
	id := e.ID()

	switch e.Kind {
	case incident.Rejected:
		src := rec.State.Source
		if src.Kind != incident.FromSlack || src.Channel == "" || !slackapp.IsUserID(e.Actor) || e.CommandKind == incident.RecordSlackMessage {
			return nil, nil // nobody in Slack to tell
		}
		if sent, err := n.st.sent(id); err != nil || sent {
			return nil, err
		}
		rec.Ephemerals = append(rec.Ephemerals, ephemeral{Event: id, User: e.Actor, Text: RejectionText(e)})
	case incident.SlackMessageRecorded:
		m := incident.SlackMessage{Channel: e.Message.Channel, TS: e.Message.TS}
		if rec.Card != m {
			if rec.Card.TS != "" {
				log.Warn("card recorded in the log differs from ours; following the log",
					"ours", rec.Card.Channel+"/"+rec.Card.TS, "log", m.Channel+"/"+m.TS)
			}
			rec.Card = m
			rec.CardShown = 0 // show the latest state on the recorded card
			rec.CardWant = rec.State.Version
		}
		rec.CardCmd = false
	case incident.Declared, incident.SeverityChanged, incident.TitleChanged, incident.Assigned,
		incident.Acknowledged, incident.Mitigated, incident.Resolved, incident.Reopened,
		incident.NoteAdded, incident.MessagePinned, incident.ImpactStartedSet:
		if !rec.State.Declared {
			return nil, nil
		}
		if rec.CardWant <= rec.CardShown {
			rec.dirtySince = n.cfg.Now()
		}
		rec.CardWant = e.Version
		if line, ok := TimelineLine(e); ok {
			sent, err := n.st.sent(id)
			if err != nil {
				return nil, err
			}
			if !sent {
				rec.Timeline = append(rec.Timeline, timelineLine{Event: id, Text: line})
			}
		}
	}
	if !rec.hasWork() {
		return nil, nil
	}
	if _, err := n.route(rec.State); err != nil {
		// Nothing can be sent for this incident: say so once per event
		// and drop the work, so the incident does not stay pending.
		rec.CardShown = rec.CardWant
		rec.CardCmd, rec.Timeline, rec.Ephemerals = false, nil, nil
		return []DeadLetter{{IncidentID: e.Incident, EventID: id, Team: rec.State.Source.Team,
			Error: "no_workspace", Reason: err.Error()}}, nil
	}
	return nil, nil
}

// target is where an incident's messages go.
type target struct {
	ws      slackapp.Workspace
	channel string // the channel of the card and the thread
	thread  string // the thread the card goes in ("" for a top-level card)
}

// key names the channel lane: its rate limit is the channel's. Channel
// ids are unique across workspaces (a channel shared between workspaces
// keeps its id and its one limit), so the channel alone is the key.
func (t target) key() string { return t.channel }

// route says where an incident's messages go: the Slack thread it was
// declared in, with its team's bot token, or its tenant's incidents channel.
func (n *Notifier) route(s incident.State) (target, error) {
	if s.Source.Kind == incident.FromSlack {
		if s.Source.Channel == "" {
			return target{}, fmt.Errorf("notifier: incident %s: declared in Slack without a channel", s.Incident)
		}
		t := target{channel: s.Source.Channel, thread: s.Source.ThreadTS}
		if n.cfg.OutboxMode() {
			return t, nil
		}
		w, ok := n.byTeam[s.Source.Team]
		if !ok {
			return target{}, fmt.Errorf("notifier: incident %s: no workspace configured for Slack team %q", s.Incident, s.Source.Team)
		}
		if w.Tenant != s.Tenant {
			// Never with another tenant's bot token.
			return target{}, fmt.Errorf("notifier: incident %s: Slack team %q is not a workspace of tenant %q", s.Incident, s.Source.Team, s.Tenant)
		}
		t.ws = w
		return t, nil
	}
	if n.cfg.OutboxMode() {
		return target{channel: OutboxChannel}, nil
	}
	w, ok := n.byTenant[s.Tenant]
	if !ok {
		return target{}, fmt.Errorf("notifier: incident %s: no workspace configured for tenant %q", s.Incident, s.Tenant)
	}
	return target{ws: w, channel: w.IncidentsChannel}, nil
}
