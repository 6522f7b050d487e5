package processor

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// endTimeout bounds ending a transaction, also at shutdown: End must not
// be cancelled half-way (that leaves the client in an unknown state).
const endTimeout = 30 * time.Second

// staged is one incident's state as the step in progress left it.
type staged struct {
	partition int32
	state     incident.State
	changed   bool   // events were folded into it
	encoded   []byte // the final state's bytes, once encoded
}

// stagedOutcome is one remembered outcome as the step in progress left it:
// set, or deleted (expired).
type stagedOutcome struct {
	partition int32
	id        []byte // outcomeID
	outcome   incident.Outcome
	offset    int64 // of the command it is the outcome of
	deleted   bool
}

// outcomeBatch is outcomes a step remembered in one partition: one
// changelog record and one expiry entry.
type outcomeBatch struct {
	partition int32
	name      []byte
	latest    time.Time
	offset    int64    // of its last command
	keys      []string // the outcomes' Pebble keys
	records   [][]byte // the outcomes' records
}

// stepRun is one atomic step: the commands of one poll, applied in log
// order per partition, their events, dead letters and final states
// produced in one transaction, and the states written to Pebble once it
// commits.
type stepRun struct {
	p      *Processor
	sess   *kgo.GroupTransactSession
	store  *Store
	logger *slog.Logger

	states map[string]*staged // the staging overlay over Pebble
	order  []string           // incidents in first-touched order

	found        map[string]incident.Outcome // outcomes of the step's commands in Pebble, by key
	outcomes     map[string]*stagedOutcome   // the dedup window's overlay, by Pebble key
	outcomeOrder []string                    // outcome keys in first-touched order
	horizon      map[int32]time.Time         // latest time of a command decided, per partition
	expiryDone   [][]byte                    // expiry entries of due batches, to delete
	floors       []floor                     // expiry floors the step's scans found
	batches      []outcomeBatch              // the step's outcomes, per partition

	// produced holds the step's produce results: its Err waits for every
	// record and gives the first failure, and that failure aborts the
	// records still buffered (the step will not commit them).
	produced  *kgo.FirstErrPromise
	mu        sync.Mutex      // guards changelog, written by produce callbacks
	changelog map[int32]int64 // highest changelog offset produced, per partition

	commands, duplicates, events, deadLetters, expired int
	rejections                                         map[incident.Code]int
}

// step applies records (one poll's worth) in one transaction.
func (p *Processor) step(ctx context.Context, sess *kgo.GroupTransactSession, store *Store, records []*kgo.Record, logger *slog.Logger) error {
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("processor: begin transaction: %w", err)
	}
	start := time.Now()
	s := &stepRun{
		p: p, sess: sess, store: store, logger: logger,
		states: map[string]*staged{}, changelog: map[int32]int64{}, rejections: map[incident.Code]int{},
		produced: kgo.AbortingFirstErrPromise(sess.Client()),
		outcomes: map[string]*stagedOutcome{}, horizon: map[int32]time.Time{},
	}
	cmds := make([]command, len(records))
	for i, r := range records {
		cmds[i] = decode(r)
	}
	if err := s.prefetch(cmds); err != nil {
		s.abort(ctx)
		return err
	}
	commit := true
	for i := range cmds {
		// A revoked or lost partition stops the step at once; the
		// session would abort it anyway.
		if p.stopped() || p.isPending(cmds[i].r.Partition) {
			commit = false
			break
		}
		if err := s.apply(ctx, &cmds[i]); err != nil {
			s.abort(ctx)
			return err
		}
	}
	if commit {
		if err := s.expire(); err != nil {
			s.abort(ctx)
			return err
		}
		for _, id := range s.order {
			st := s.states[id]
			if !st.changed {
				continue
			}
			b, err := wire.EncodeState(st.state)
			if err != nil {
				s.abort(ctx)
				return fatal(fmt.Errorf("processor: encode state of %s: %w", id, err))
			}
			st.encoded = b
			s.produce(ctx, &kgo.Record{Topic: p.topics.Changelog, Partition: st.partition, Key: []byte(id), Value: b})
		}
		if err := s.batch(); err != nil {
			s.abort(ctx)
			return fatal(err)
		}
		for _, b := range s.batches {
			s.produce(ctx, &kgo.Record{Topic: p.topics.Changelog, Partition: b.partition, Key: changelogBatchKey(b.name), Value: wire.JoinOutcomes(b.records)})
		}
		for _, k := range s.expiryDone {
			// A due batch's record gets a tombstone (no value).
			part := int32(binary.BigEndian.Uint32(k[1:5]))
			s.produce(ctx, &kgo.Record{Topic: p.topics.Changelog, Partition: part, Key: changelogBatchKey(k[5:])})
		}
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	if commit {
		// Flush and look at every produce result before ending, so a
		// failed produce aborts rather than commits a partial step.
		if err := sess.Client().Flush(ectx); err != nil {
			return fmt.Errorf("processor: flush: %w", err)
		}
		if err := s.produced.Err(); err != nil {
			logger.Warn("produce failed; aborting the step", "err", err)
			commit = false
		}
	}
	committed, err := sess.End(ectx, kgo.TransactionEndTry(commit))
	result := "aborted"
	if committed {
		result = "committed"
	}
	p.metrics.txnSeconds.WithLabelValues(result).Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("processor: end transaction: %w", err)
	}
	if !committed {
		// The session rewound to the committed offsets: the commands are
		// fetched again, by us or by the partition's new owner.
		logger.Info("step aborted", "commands", len(records))
		return nil
	}
	_ = s.produced.Err() // every record is acknowledged: the transaction committed
	p.commits++
	if p.cfg.AfterCommit != nil {
		p.cfg.AfterCommit(p.commits)
	}
	if err := s.write(); err != nil {
		return fatal(err)
	}
	s.count(len(records))
	return nil
}

// command is one command record of a step, decoded.
type command struct {
	r   *kgo.Record
	c   incident.Command
	err error  // why it cannot be applied: it goes to the dead-letter topic
	key string // its outcome's Pebble key, if it has an id
}

func decode(r *kgo.Record) command {
	c, err := wire.DecodeCommand(r.Value)
	switch {
	case err != nil:
	case c.Incident == "":
		err = errors.New("command has no incident id")
	case c.Incident != string(r.Key):
		err = fmt.Errorf("record key %q is not the command's incident id %q", r.Key, c.Incident)
	case c.Incident[0] == 0:
		// Keys starting with a zero byte are the changelog's outcome
		// records.
		err = errors.New("incident id starts with a zero byte")
	}
	cmd := command{r: r, c: c, err: err}
	if err == nil && c.ID != "" {
		cmd.key = string(outcomeKey(r.Partition, outcomeID(c.Tenant, c.ID)))
	}
	return cmd
}

// prefetch reads the remembered outcomes of the step's commands from
// Pebble in one sorted pass (one iterator for the step rather than a
// lookup per command, most of which find nothing).
func (s *stepRun) prefetch(cmds []command) error {
	keys := make([]string, 0, len(cmds))
	for i := range cmds {
		if cmds[i].key != "" {
			keys = append(keys, cmds[i].key)
		}
	}
	found, err := s.store.outcomes(keys)
	if err != nil {
		return fatal(err)
	}
	s.found = found
	return nil
}

// apply decides one command against the overlay and produces its events,
// or its dead letter.
func (s *stepRun) apply(ctx context.Context, cmd *command) error {
	p := s.p
	r, c := cmd.r, cmd.c
	if cmd.err != nil {
		s.deadLetter(ctx, r, cmd.err)
		return nil
	}
	// Building a logger per command cost a tenth of the step; the debug
	// lines below get their attributes only when they are written.
	debug := func(msg string, args ...any) {
		if s.logger.Enabled(ctx, slog.LevelDebug) {
			s.logger.Debug(msg, append([]any{"partition", r.Partition, "offset", r.Offset,
				"incident_id", c.Incident, "command_id", c.ID}, args...)...)
		}
	}
	st, err := s.state(r.Partition, c.Incident)
	if err != nil {
		return err
	}
	s.commands++
	d := incident.Decide(p.cfg.Policy, st.state, c, s.seen(cmd))
	if d.Duplicate != nil {
		s.duplicates++
		debug("duplicate command; its outcome is already in the events topic",
			"from_version", d.Duplicate.From, "to_version", d.Duplicate.To)
		return nil
	}
	if rej := d.Rejection(); rej != nil {
		s.rejections[rej.Code]++
		debug("command rejected", "code", rej.Code, "reason", rej.Reason)
	}
	if o, ok := d.Remember(); ok {
		s.remember(r.Partition, cmd.key, o, r.Offset)
	}
	if h, ok := s.horizon[r.Partition]; !ok || c.At.After(h) {
		s.horizon[r.Partition] = c.At
	}
	for _, e := range d.Events {
		b, err := wire.EncodeEvent(e)
		if err != nil {
			return fatal(fmt.Errorf("processor: encode event %s: %w", e.ID(), err))
		}
		s.produce(ctx, &kgo.Record{Topic: p.topics.Events, Partition: r.Partition, Key: r.Key, Value: b})
		s.events++
		if e.Notice() {
			continue // in no history: the state is untouched
		}
		st.state = incident.Evolve(st.state, e)
		st.changed = true
	}
	return nil
}

// seen returns the remembered outcome of the command's tenant and id
// (staged in this step, or prefetched from Pebble) if it is within the
// dedup window of the command's time, else nil.
func (s *stepRun) seen(cmd *command) *incident.Outcome {
	if cmd.key == "" {
		return nil
	}
	var o incident.Outcome
	if so, ok := s.outcomes[cmd.key]; ok {
		if so.deleted {
			return nil
		}
		o = so.outcome
	} else if o, ok = s.found[cmd.key]; !ok {
		return nil
	}
	if cmd.c.At.Sub(o.At) >= s.p.cfg.DedupWindow {
		return nil
	}
	return &o
}

// remember stages the outcome of the command at offset (its Pebble key is
// key) in the dedup window.
func (s *stepRun) remember(part int32, key string, o incident.Outcome, offset int64) {
	so, ok := s.outcomes[key]
	if !ok {
		so = &stagedOutcome{partition: part, id: []byte(key[5:])}
		s.outcomes[key] = so
		s.outcomeOrder = append(s.outcomeOrder, key)
	}
	so.outcome, so.offset, so.deleted = o, offset, false
}

// floor is an expiry floor of a partition (Processor.expiryFloor).
type floor struct {
	partition int32
	at        uint64 // timeKey
}

// updateFloors records, once the step is written, what its expiry scans
// found and what its batches added.
func (s *stepRun) updateFloors() {
	fl := s.p.expiryFloor
	for _, f := range s.floors {
		fl[f.partition] = f.at
	}
	for _, b := range s.batches {
		if at, ok := fl[b.partition]; ok && timeKey(b.latest) < at {
			fl[b.partition] = timeKey(b.latest)
		}
	}
}

// maxBatchBytes bounds an outcomes record, well below the broker's and
// the producer's default limit of a record (1 MB).
const maxBatchBytes = 256 << 10

// batch groups the outcomes the step remembered by partition, encoded, in
// records of at most maxBatchBytes; each is named by its latest command
// time and the offset of its last command.
func (s *stepRun) batch() error {
	at := map[int32]int{} // partition -> its open batch in s.batches
	size := map[int32]int{}
	var buf []byte
	for _, k := range s.outcomeOrder {
		so := s.outcomes[k]
		if so.deleted {
			continue
		}
		i, ok := at[so.partition]
		if !ok || size[so.partition] >= maxBatchBytes {
			i = len(s.batches)
			at[so.partition], size[so.partition] = i, 0
			s.batches = append(s.batches, outcomeBatch{partition: so.partition, latest: so.outcome.At})
		}
		b := &s.batches[i]
		start := len(buf)
		var err error
		if buf, err = wire.AppendOutcome(buf, so.outcome); err != nil {
			return fmt.Errorf("processor: encode outcome of %s: %w", so.outcome.Command, err)
		}
		b.keys = append(b.keys, k)
		b.records = append(b.records, buf[start:len(buf):len(buf)])
		size[so.partition] += len(buf) - start
		if so.outcome.At.After(b.latest) {
			b.latest = so.outcome.At
		}
		// Outcomes are of distinct commands: the latest offset of a
		// batch's is in no other batch.
		b.offset = max(b.offset, so.offset)
		b.name = batchName(b.latest, b.offset)
	}
	return nil
}

// expire stages the removal of the outcomes that fell out of the dedup
// window of each partition's latest command time, some maxExpiredPerStep
// of them at most.
func (s *stepRun) expire() error {
	left := maxExpiredPerStep
	for part, h := range s.horizon {
		if left <= 0 {
			break
		}
		start := h.Add(-s.p.cfg.DedupWindow)
		if fl, ok := s.p.expiryFloor[part]; ok && timeKey(start) <= fl {
			continue
		}
		xs, next, err := s.store.expiring(part, start, left)
		if err != nil {
			return fatal(err)
		}
		// The store holds no entry before next once the step is written.
		s.floors = append(s.floors, floor{part, next})
		for _, x := range xs {
			s.expiryDone = append(s.expiryDone, x.key) // and its changelog record gets a tombstone
			for _, id := range x.ids {
				key := string(outcomeKey(part, id))
				if _, ok := s.outcomes[key]; ok {
					continue // remembered anew in this step
				}
				s.outcomes[key] = &stagedOutcome{partition: part, id: id, deleted: true}
				s.outcomeOrder = append(s.outcomeOrder, key)
				s.expired++
				left--
			}
		}
	}
	return nil
}

// state returns the staged state of an incident, loading it from Pebble on
// first use in this step.
func (s *stepRun) state(part int32, id string) (*staged, error) {
	if st, ok := s.states[id]; ok {
		return st, nil
	}
	state, ok := s.p.cache.get(id)
	if !ok {
		var err error
		if state, err = s.store.State(part, id); err != nil {
			return nil, fatal(err)
		}
	}
	st := &staged{partition: part, state: state}
	s.states[id] = st
	s.order = append(s.order, id)
	return st, nil
}

// Dead-letter headers.
const (
	HeaderReason    = "incidentd-reason"
	HeaderTopic     = "incidentd-topic"
	HeaderPartition = "incidentd-partition"
	HeaderOffset    = "incidentd-offset"
)

// deadLetter sends a record that cannot be applied to the dead-letter
// topic, in the step's transaction, with why and where it came from.
func (s *stepRun) deadLetter(ctx context.Context, r *kgo.Record, reason error) {
	s.deadLetters++
	s.logger.Warn("command record sent to the dead-letter topic",
		"partition", r.Partition, "offset", r.Offset, "err", reason)
	s.produce(ctx, &kgo.Record{
		Topic: s.p.topics.DeadLetters, Partition: r.Partition, Key: r.Key, Value: r.Value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderReason, Value: []byte(reason.Error())},
			{Key: HeaderTopic, Value: []byte(r.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		},
	})
}

func (s *stepRun) produce(ctx context.Context, r *kgo.Record) {
	done := s.produced.Promise()
	s.sess.Produce(ctx, r, func(r *kgo.Record, err error) {
		if err == nil && r.Topic == s.p.topics.Changelog {
			s.mu.Lock()
			if prev, ok := s.changelog[r.Partition]; !ok || r.Offset > prev {
				s.changelog[r.Partition] = r.Offset
			}
			s.mu.Unlock()
		} else if err != nil {
			err = fmt.Errorf("produce to %s/%d: %w", r.Topic, r.Partition, err)
		}
		done(r, err)
	})
}

// abort ends the transaction without committing, for a step that cannot
// go on; errors are the caller's to report.
func (s *stepRun) abort(ctx context.Context) {
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	if _, err := s.sess.End(ectx, kgo.TryAbort); err != nil {
		s.logger.Warn("abort transaction", "err", err)
	}
	_ = s.produced.Err() // wait for every produce callback; the step is aborted anyway
}

// write stores the committed states and, per partition, the changelog
// offset they reflect, in one Pebble batch.
func (s *stepRun) write() error {
	start := time.Now()
	w := s.store.newBatch()
	for _, id := range s.order {
		st := s.states[id]
		if !st.changed {
			continue
		}
		if err := w.setState(st.partition, id, st.encoded); err != nil {
			w.discard()
			return fmt.Errorf("processor: stage state of %s: %w", id, err)
		}
	}
	for _, k := range s.outcomeOrder {
		if so := s.outcomes[k]; so.deleted {
			if err := w.deleteOutcome(so.partition, so.id); err != nil {
				w.discard()
				return fmt.Errorf("processor: stage expired outcome: %w", err)
			}
		}
	}
	for _, b := range s.batches {
		if err := w.setOutcomes(b.partition, b.name, b.keys, b.records); err != nil {
			w.discard()
			return fmt.Errorf("processor: stage outcomes: %w", err)
		}
	}
	for _, k := range s.expiryDone {
		if err := w.deleteExpiry(k); err != nil {
			w.discard()
			return fmt.Errorf("processor: stage expiry: %w", err)
		}
	}
	for part, off := range s.changelog {
		if err := w.setCheckpoint(part, off); err != nil {
			w.discard()
			return fmt.Errorf("processor: stage checkpoint of partition %d: %w", part, err)
		}
	}
	if err := w.commit(); err != nil {
		return err
	}
	for _, id := range s.order {
		if st := s.states[id]; st.changed {
			s.p.cache.put(id, st.state)
		}
	}
	s.updateFloors()
	s.p.metrics.storeSeconds.Observe(time.Since(start).Seconds())
	return nil
}

func (s *stepRun) count(records int) {
	m := s.p.metrics
	m.batchSize.Observe(float64(records))
	m.commands.Add(float64(s.commands))
	m.duplicates.Add(float64(s.duplicates))
	m.events.Add(float64(s.events))
	m.deadLetters.Add(float64(s.deadLetters))
	m.expired.Add(float64(s.expired))
	for code, n := range s.rejections {
		m.rejections.WithLabelValues(string(code)).Add(float64(n))
	}
}
