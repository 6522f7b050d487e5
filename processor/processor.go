package processor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
)

// Processor applies commands to incidents, partition by partition. Create
// it with New and start it with Run.
type Processor struct {
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	topics  kafka.Topics

	mu       sync.Mutex
	joined   bool             // an assignment (possibly empty) was received
	owned    map[int32]bool   // partitions assigned to this instance
	pending  map[int32]uint64 // owned, not yet restored -> assignment sequence
	assigned uint64           // sequence of assignments, for pending
	wake     func()           // interrupts the current poll, if any
	stop     bool             // a revoke or loss since the step's poll began

	commits int         // committed steps; only Run's goroutine uses it
	cache   *stateCache // only Run's goroutine uses it
	// expiryFloor is, per partition, a time (timeKey) before which the
	// store holds no expiry entry, so a step whose window starts before
	// it has nothing to expire and skips the scan. Absent: unknown, scan.
	// Only Run's goroutine uses it.
	expiryFloor map[int32]uint64
}

// New checks cfg and returns a processor that logs to logger and
// registers its metrics with reg (either may be nil).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Processor, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Processor{
		cfg: cfg, logger: logger, metrics: m, topics: cfg.Kafka.Topics(),
		owned: map[int32]bool{}, pending: map[int32]uint64{}, cache: newStateCache(), expiryFloor: map[int32]uint64{},
	}, nil
}

// Ready reports whether the processor has joined its group and every
// partition it owns is restored: it applies commands without delay.
func (p *Processor) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.joined && len(p.pending) == 0
}

// Owned returns the partitions this instance owns now, in no order.
func (p *Processor) Owned() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, 0, len(p.owned))
	for part := range p.owned {
		out = append(out, part)
	}
	return out
}

// Run consumes and applies commands until ctx is done, then finishes the
// step in progress and returns nil. It returns an error only when it
// cannot go on: the store cannot be opened or written, or the Kafka
// session failed and could not be re-created.
func (p *Processor) Run(ctx context.Context) error {
	if err := os.MkdirAll(p.cfg.Dir, 0o750); err != nil {
		return fmt.Errorf("processor: create directory: %w", err)
	}
	id := p.cfg.InstanceID
	if id == "" {
		var err error
		if id, err = instanceID(p.cfg.Dir); err != nil {
			return err
		}
	}
	store, err := OpenStore(filepath.Join(p.cfg.Dir, "pebble"), p.logger)
	if err != nil {
		return err
	}
	defer store.Close()
	logger := p.logger.With("instance", id)
	logger.Info("processor starting", "group", p.cfg.Group, "commands", p.topics.Commands)

	for {
		err := p.runSession(ctx, store, id, logger)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *fatalError
		if errors.As(err, &fatal) {
			return fatal.err
		}
		// A failed transactional session (an error End cannot recover
		// from, a fenced producer): start a fresh one, which restores
		// every partition it is given from its checkpoint.
		logger.Error("kafka session failed; starting a new one", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// fatalError marks an error Run must return rather than retry.
type fatalError struct{ err error }

func (e *fatalError) Error() string { return e.err.Error() }
func (e *fatalError) Unwrap() error { return e.err }

func fatal(err error) error { return &fatalError{err} }

// runSession runs one transactional group session until ctx is done or it
// fails.
func (p *Processor) runSession(ctx context.Context, store *Store, id string, logger *slog.Logger) error {
	p.mu.Lock()
	p.joined, p.owned, p.pending = false, map[int32]bool{}, map[int32]uint64{}
	p.mu.Unlock()
	p.cache.reset()
	clear(p.expiryFloor)
	p.metrics.owned.Set(0)
	p.metrics.ready.Set(0)

	// The client runs on a context of its own, not ctx: the step in
	// progress at shutdown still ends its transaction. It is cancelled
	// when closing overruns closeTimeout.
	cctx, cancelClient := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelClient()
	sess, err := kgo.NewGroupTransactSession(append(p.clientOpts(id, logger), kgo.WithContext(cctx))...)
	if err != nil {
		return fatal(fmt.Errorf("processor: new kafka session: %w", err))
	}
	defer closeSession(sess, cancelClient, logger)

	// Initialise the producer id now: with our transactional id this
	// fences a previous incarnation of this instance and aborts its open
	// transaction, which would otherwise hold back the changelog's
	// stable offset and the group's committed offsets until it times out.
	pidCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, _, err = sess.Client().ProducerID(pidCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("processor: init producer id: %w", err)
	}

	r := &restorer{p: p, store: store, cl: sess.Client(), logger: logger}
	for ctx.Err() == nil {
		if err := r.restorePending(ctx); err != nil {
			return err
		}
		// A revoke from here on stops the step that applies this poll.
		p.beginStep()
		fs := p.poll(ctx, sess)
		if fs.IsClientClosed() {
			return errors.New("processor: kafka client closed")
		}
		fs.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.Canceled) {
				logger.Warn("fetch error", "topic", topic, "partition", part, "err", err)
			}
		})
		if fs.NumRecords() == 0 {
			continue
		}
		p.observeLag(fs)
		// Partitions assigned since the poll began are restored before
		// any of their commands is applied.
		if err := r.restorePending(ctx); err != nil {
			return err
		}
		if err := p.step(ctx, sess, store, fs.Records(), logger); err != nil {
			return err
		}
	}
	return nil
}

// closeTimeout bounds closing a session. Close leaves the group, and
// franz-go lets a group join or sync in flight finish first; the broker
// may hold a join for the group's whole rebalance timeout (a minute by
// default), waiting for a member that went away without leaving, as a
// static member does. Past the bound the client's context is cancelled
// and Close goes on in the background until the broker answers or the
// request's own deadline passes; the group sees this instance go at its
// session timeout at the latest, as after a crash.
const closeTimeout = 5 * time.Second

// closeSession closes sess, waiting at most closeTimeout; then it
// cancels its client's context (cancel) and returns.
func closeSession(sess *kgo.GroupTransactSession, cancel context.CancelFunc, logger *slog.Logger) {
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		sess.Close()
	}()
	select {
	case <-closed:
	case <-time.After(closeTimeout):
		logger.Warn("leaving the group takes too long; closing the kafka client in the background", "timeout", closeTimeout)
		cancel()
	}
}

func (p *Processor) clientOpts(id string, logger *slog.Logger) []kgo.Opt {
	return append(kafka.ClientOpts(p.cfg.Kafka, logger),
		kgo.ClientID("incidentd-processor"),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(p.topics.Commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.InstanceID(id),
		kgo.TransactionalID("incidentd-processor-"+id),
		kgo.TransactionTimeout(p.cfg.TransactionTimeout),
		kgo.SessionTimeout(p.cfg.SessionTimeout),
		kgo.HeartbeatInterval(p.cfg.SessionTimeout/6),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		// A step produces up to an event, an outcome and a state per
		// command, and a tombstone per expired outcome: buffering them all
		// keeps Produce from blocking half-way through a step on the
		// broker's round trips (franz-go's default bound is 10,000).
		kgo.MaxBufferedRecords(3*p.cfg.MaxBatch+maxExpiredPerStep),
		kgo.FetchMaxWait(time.Second),
		kgo.FetchMaxBytes(8<<20),
		kgo.OnPartitionsAssigned(p.onAssigned),
		kgo.OnPartitionsRevoked(p.onRevoked),
		kgo.OnPartitionsLost(p.onRevoked),
	)
}

// poll waits for commands. An assignment interrupts it, so new partitions
// are restored (and the instance becomes ready) without waiting for a
// command to arrive.
func (p *Processor) poll(ctx context.Context, sess *kgo.GroupTransactSession) kgo.Fetches {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.mu.Lock()
	if len(p.pending) > 0 {
		p.mu.Unlock()
		return nil
	}
	p.wake = cancel
	p.mu.Unlock()
	fs := sess.PollRecords(pctx, p.cfg.MaxBatch)
	p.mu.Lock()
	p.wake = nil
	p.mu.Unlock()
	return fs
}

func (p *Processor) onAssigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.joined = true
	for _, part := range assigned[p.topics.Commands] {
		p.assigned++
		p.owned[part] = true
		p.pending[part] = p.assigned
		p.logger.Info("partition assigned", "partition", part)
	}
	p.metrics.owned.Set(float64(len(p.owned)))
	p.metrics.ready.Set(0)
	if p.wake != nil && len(p.pending) > 0 {
		p.wake()
	}
}

// onRevoked handles revoked and lost partitions: the step in progress
// stops at once (the session aborts its transaction), and the partitions'
// files are kept for a quick return.
func (p *Processor) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	parts := revoked[p.topics.Commands]
	if len(parts) > 0 {
		p.stop = true
	}
	for _, part := range parts {
		delete(p.owned, part)
		delete(p.pending, part)
		p.metrics.lag.DeleteLabelValues(strconv.Itoa(int(part)))
		p.metrics.restoreLeft.DeleteLabelValues(strconv.Itoa(int(part)))
		p.logger.Info("partition revoked", "partition", part)
	}
	p.metrics.owned.Set(float64(len(p.owned)))
	if p.joined && len(p.pending) == 0 {
		p.metrics.ready.Set(1)
	}
}

// isPending reports whether part is owned but not yet restored.
func (p *Processor) isPending(part int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pending[part]
	return ok
}

// stopped reports whether a revoke or loss happened since beginStep,
// called before the poll whose records the step applies.
func (p *Processor) stopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stop
}

func (p *Processor) beginStep() {
	p.mu.Lock()
	p.stop = false
	p.mu.Unlock()
}

func (p *Processor) observeLag(fs kgo.Fetches) {
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		if n := len(fp.Records); n > 0 {
			lag := fp.HighWatermark - fp.Records[n-1].Offset - 1
			p.metrics.lag.WithLabelValues(strconv.Itoa(int(fp.Partition))).Set(float64(max(lag, 0)))
		}
	})
}

// instanceID reads this instance's id from dir, creating a random one on
// first start.
func instanceID(dir string) (string, error) {
	path := filepath.Join(dir, "instance-id")
	b, err := os.ReadFile(path)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id == "" {
			return "", fmt.Errorf("processor: instance id file %s is empty", path)
		}
		return id, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("processor: read instance id: %w", err)
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("processor: instance id: %w", err)
	}
	id := hex.EncodeToString(r[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("processor: write instance id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("processor: write instance id: %w", err)
	}
	return id, nil
}
