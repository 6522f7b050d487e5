package ingress

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// What submit knows when the broker did not ack a command. Every answer
// built on them is true: errNotInLog only when the command can never be
// applied, errOutcomeUnknown whenever it may still be.
var (
	// errNotInLog: the command is not in the log and never will be. The
	// client failed it before sending it to a broker (its context ended,
	// its delivery timeout or retries ran out while it was buffered), or
	// it was never encoded.
	errNotInLog = errors.New("ingress: command not in the log")
	// errOutcomeUnknown: a request carrying the command may have reached
	// the broker and no ack came back in time. The producer keeps the
	// record and may still deliver it; only a retry with the same command
	// id (the same Idempotency-Key) settles it.
	errOutcomeUnknown = errors.New("ingress: command sent, outcome unknown")
)

// produceSettle bounds how long submit waits, after ProduceTimeout, for the
// client to settle a record whose context ended.
const produceSettle = 500 * time.Millisecond

// submit produces one command to the commands topic, keyed by incident id,
// and returns nil once the broker acked it. Otherwise it returns an error
// wrapping errNotInLog or errOutcomeUnknown, after at most ProduceTimeout
// plus a short settle (min(ProduceTimeout, produceSettle)).
//
// The producer is idempotent, and franz-go fails an idempotent record only
// while no request carrying it is unanswered (kgo.Client.Produce): a record
// failed with its context's error, a delivery timeout or too many retries
// was never written, nor was one failed with any error before a produce
// request was written since it was buffered (the ledger). A record the client still holds when the settle ends
// is known not to be in the log only in one case (sendLedger): no produce
// request was written since it was buffered, and nothing held from before
// a write was ahead of it in its partition. Then every record ahead of it
// in its partition is unsent and older, its context done, and the client
// checks the oldest one's context before writing any of them, failing them
// all. In every other case a request carrying it may be on the broker. The
// ledger sees a write once it is done: a write begun before the deadline
// and still blocked when the settle ends (a broker that stopped reading
// with its socket buffer full) is the one case it misses.
func (s *Server) submit(ctx context.Context, source string, c incident.Command) error {
	val, err := wire.EncodeCommand(c)
	if err != nil {
		return fmt.Errorf("%w: encode command: %w", errNotInLog, err)
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	rec := &kgo.Record{Topic: s.topics.Commands, Key: []byte(c.Incident), Value: val}
	done := make(chan error, 1)
	start := time.Now()
	held, behindSent := s.sends.buffered(rec.Key)
	s.producer.Produce(pctx, rec, func(r *kgo.Record, err error) {
		s.sends.settled(held)
		if err == nil && int(r.Partition) != held.partition && s.sends.partitionsDiffer.CompareAndSwap(false, true) {
			s.log.Error("the commands topic's partitions are not the configured count; answers during an outage are outcome_unknown more often",
				"partition", r.Partition, "expected", held.partition, "partitions", s.sends.partitions)
		}
		done <- err
	})
	select {
	case err = <-done:
		err = s.failed(err, held)
	case <-pctx.Done():
		settle := time.NewTimer(min(s.cfg.ProduceTimeout, produceSettle))
		select {
		case err = <-done:
			err = s.failed(err, held)
		case <-settle.C:
			if !behindSent && !s.sends.writtenSince(held) {
				err = fmt.Errorf("%w: no produce request written within %v", errNotInLog, s.cfg.ProduceTimeout)
			} else {
				err = fmt.Errorf("%w: no ack within %v", errOutcomeUnknown, s.cfg.ProduceTimeout)
			}
		}
		settle.Stop()
	}
	if err != nil {
		result := "not_in_log"
		if errors.Is(err, errOutcomeUnknown) {
			result = "unknown"
		}
		s.metrics.produce.WithLabelValues(result).Observe(time.Since(start).Seconds())
		s.log.Warn("produce command", "incident_id", c.Incident, "command_id", c.ID, "result", result, "err", err)
		return err
	}
	s.metrics.produce.WithLabelValues("ok").Observe(time.Since(start).Seconds())
	s.metrics.commands.WithLabelValues(source, string(c.Kind)).Inc()
	s.log.Debug("command in log", "incident_id", c.Incident, "command_id", c.ID, "kind", c.Kind)
	return nil
}

// sendLedger tells, for a record the producer holds, whether a request
// carrying it may have been written. It counts the produce requests written
// (or partly written) to any broker, as a kgo.HookBrokerWrite, and keeps
// the count at which each record still held was buffered, by partition. A
// record held from before a write may be on a broker, unanswered: the
// client resends it, and may send the records behind it in its partition
// without checking their contexts, so a record buffered behind one such
// is never "known not sent".
type sendLedger struct {
	writes     atomic.Uint64
	partitions int
	part       kgo.TopicPartitioner // the producer's partitioner, deterministic for keyed records
	// partitionsDiffer is set once an acked record landed in another
	// partition than the ledger computed (the topic does not have the
	// configured partition count): from then on every held record counts
	// as ahead of every other.
	partitionsDiffer atomic.Bool

	mu   sync.Mutex
	held map[heldKey]int // records held
}

type heldKey struct {
	partition int
	mark      uint64 // the write count when it was buffered
}

// ledgerPartitioner is the producer's partitioner; the ledger asks it
// where a keyed record goes.
func ledgerPartitioner() kgo.Partitioner { return kgo.StickyKeyPartitioner(nil) }

// newSendLedger returns a ledger for topic, of n partitions.
func newSendLedger(topic string, n int) *sendLedger {
	return &sendLedger{partitions: n, part: ledgerPartitioner().ForTopic(topic), held: map[heldKey]int{}}
}

// buffered records a keyed record about to be produced. It returns its
// place in the ledger and whether a record held in its partition from
// before a write exists.
func (l *sendLedger) buffered(key []byte) (at heldKey, behindSent bool) {
	l.mu.Lock()
	p := l.part.Partition(&kgo.Record{Key: key}, l.partitions)
	defer l.mu.Unlock()
	at = heldKey{p, l.writes.Load()}
	anyPartition := l.partitionsDiffer.Load()
	for k := range l.held {
		if (anyPartition || k.partition == p) && k.mark < at.mark {
			behindSent = true
			break
		}
	}
	l.held[at]++
	return at, behindSent
}

// settled records that the client finished the record held at at.
func (l *sendLedger) settled(at heldKey) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[at]--; l.held[at] <= 0 {
		delete(l.held, at)
	}
}

// writtenSince reports whether a produce request was written after mark.
func (l *sendLedger) writtenSince(at heldKey) bool { return l.writes.Load() != at.mark }

// OnBrokerWrite implements kgo.HookBrokerWrite.
func (l *sendLedger) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, bytes int, _, _ time.Duration, err error) {
	if key == produceKey && (err == nil || bytes > 0) {
		l.writes.Add(1)
	}
}

var produceKey = (&kmsg.ProduceRequest{}).Key()

// failed turns the error of a record the client finished into submit's
// answer. A record the client failed is never sent afterwards, so if no
// produce request was written since it was buffered (the ledger), it is
// known not to be in the log whatever the error (a dial error, given once
// its context is done, says nothing of the kind); otherwise classifyProduce
// decides.
func (s *Server) failed(err error, held heldKey) error {
	if err != nil && !s.sends.writtenSince(held) {
		return fmt.Errorf("%w: failed before any produce request was written: %w", errNotInLog, err)
	}
	return classifyProduce(err)
}

// classifyProduce turns a produce promise's error into submit's answer.
// The failures that franz-go gives an idempotent record only before it is
// sent mean "not in the log"; any other failure (the client closing with
// requests in flight, a broker error after a send) is not known to be
// safe, so it is "unknown".
func classifyProduce(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, kgo.ErrRecordRetries),
		errors.Is(err, kgo.ErrMaxBuffered):
		return fmt.Errorf("%w: %w", errNotInLog, err)
	default:
		return fmt.Errorf("%w: %w", errOutcomeUnknown, err)
	}
}
