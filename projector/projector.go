package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/retry"
)

// Projector consumes the events topic into the ClickHouse tables.
type Projector struct {
	cfg    Config
	conn   driver.Conn
	sink   Sink
	log    *slog.Logger
	m      *metrics
	status *statusReporter

	// dropCache is set by the rebalance callbacks (another goroutine) and
	// read by the loop before it folds the next batch.
	dropCache atomic.Bool
	// migrated is set once Run has applied the schema.
	migrated atomic.Bool
}

// Ready reports whether the projector is doing its job: the schema is
// applied and ClickHouse answered its last call. It is what the
// projector's /readyz answers.
func (p *Projector) Ready() bool {
	return p.migrated.Load() && !p.status.isDownNow()
}

// New returns a projector writing through conn. It registers its metrics
// on reg (nil: not registered). It does not connect to anything: Run does.
func New(cfg Config, conn driver.Conn, logger *slog.Logger, reg prometheus.Registerer) (*Projector, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, errors.New("projector: no clickhouse connection")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	sink := cfg.Sink
	if sink == nil {
		sink = NewClickHouseSink(conn, cfg.Database)
	}
	return &Projector{
		cfg: cfg, conn: conn, sink: sink, log: logger, m: m,
		status: &statusReporter{notify: cfg.Status, what: "ClickHouse", m: m},
	}, nil
}

// Run projects events until ctx is done or a fatal error (bad
// configuration of the topics). ClickHouse being unreachable is not fatal:
// Run retries with backoff, keeps its offsets and reports the lag.
func (p *Projector) Run(ctx context.Context) error {
	if err := p.migrate(ctx); err != nil {
		return err
	}
	p.migrated.Store(true)
	topics := p.cfg.Kafka.Topics()
	cl, err := kafka.NewClient(p.cfg.Kafka, p.log,
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(topics.Events),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(p.adjustOffsets),
		kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) { p.dropCache.Store(true) }),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { p.dropCache.Store(true) }),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	// Leaving the group needs a rebalance, which BlockRebalanceOnPoll
	// would hold back forever.
	defer cl.CloseAllowingRebalance()
	adm := kadm.NewClient(cl)
	if err := p.ensureTopics(ctx, adm); err != nil {
		return err
	}

	var wg sync.WaitGroup
	lagCtx, stopLag := context.WithCancel(ctx)
	wg.Add(1)
	go func() { defer wg.Done(); p.reportLag(lagCtx, adm) }()
	defer func() { stopLag(); wg.Wait() }()

	pl := &pipeline{
		sink: p.sink, folder: newFolder(p.sink, p.cfg.CacheSize, false), m: p.m,
		log: p.log, minBackoff: p.cfg.MinBackoff, maxBackoff: p.cfg.MaxBackoff, status: p.status,
		healer: &healer{kafka: p.cfg.Kafka, topic: topics.Events, log: p.log},
	}
	return p.consume(ctx, cl, pl, topics.DeadLetters)
}

// migrate applies the schema, retrying while ClickHouse is unreachable.
func (p *Projector) migrate(ctx context.Context) error {
	pl := &pipeline{m: p.m, log: p.log, minBackoff: p.cfg.MinBackoff, maxBackoff: p.cfg.MaxBackoff, status: p.status}
	return pl.retry(ctx, "migrate", func() error { return Migrate(ctx, p.conn, p.cfg.Database) })
}

// ensureTopics creates or checks the topics, retrying while Kafka is
// unreachable (a broker restarting as the projector starts); a wrong topic
// is fatal.
func (p *Projector) ensureTopics(ctx context.Context, adm *kadm.Client) error {
	return retry.Do(ctx, p.backoff(), func() error {
		tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := kafka.EnsureTopics(tctx, adm, p.cfg.Kafka)
		if err != nil && !unreachable(err) {
			return retry.Permanent(fmt.Errorf("projector: %w", err))
		}
		return err
	}, func(err error, wait time.Duration) {
		p.log.Warn("kafka unreachable, retrying", "op", "ensure topics", "backoff", wait, "err", err)
	})
}

// backoff is how the projector waits between tries.
func (p *Projector) backoff() retry.Policy {
	return retry.Policy{Min: p.cfg.MinBackoff, Max: p.cfg.MaxBackoff}
}

// unreachable reports whether err is Kafka not answering (worth waiting
// for) rather than an answer to act on.
func unreachable(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || kerr.IsRetriable(err)
}

// consume is the loop: poll, gather a batch bounded by rows and time,
// store it, dead-letter what cannot be stored, commit its offsets.
// Rebalances happen only between batches, when nothing is pending.
func (p *Projector) consume(ctx context.Context, cl *kgo.Client, pl *pipeline, dlq string) error {
	var pending []*kgo.Record
	var deadline time.Time
	for {
		if len(pending) == 0 {
			cl.AllowRebalance()
			if p.dropCache.Swap(false) {
				pl.folder.reset()
			}
		}
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if len(pending) > 0 {
			pollCtx, cancel = context.WithDeadline(ctx, deadline)
		}
		fs := cl.PollRecords(pollCtx, p.cfg.MaxBatchRows-len(pending))
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fs.IsClientClosed() {
			return errors.New("projector: kafka client closed")
		}
		fs.EachError(func(topic string, part int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				p.log.Warn("fetch", "topic", topic, "partition", part, "err", err)
			}
		})
		recs := fs.Records()
		if len(pending) == 0 && len(recs) > 0 {
			deadline = time.Now().Add(p.cfg.FlushInterval)
		}
		pending = append(pending, recs...)
		if len(pending) == 0 || (len(pending) < p.cfg.MaxBatchRows && time.Now().Before(deadline)) {
			continue
		}
		if err := p.flush(ctx, cl, pl, dlq, pending); err != nil {
			return err
		}
		pending = pending[:0]
	}
}

// flush stores one batch, then dead-letters, then records its offsets in
// the tables' database and commits them to the group. Only ctx ending
// stops it; the batch is then neither committed nor cached.
func (p *Projector) flush(ctx context.Context, cl *kgo.Client, pl *pipeline, dlq string, batch []*kgo.Record) error {
	if p.dropCache.Swap(false) {
		pl.folder.reset()
	}
	res, err := pl.apply(ctx, batch)
	if err != nil {
		return err
	}
	if len(res.dead) > 0 {
		if err := p.deadLetter(ctx, cl, dlq, res.dead); err != nil {
			return err
		}
	}
	// The tables' position first (the projector resumes from it), then the
	// group's offsets (lag monitoring, tools).
	if err := pl.retry(ctx, "store offsets", func() error {
		return storeOffsets(ctx, p.conn, p.cfg.Database, p.cfg.Group, batch)
	}); err != nil {
		return err
	}
	if err := cl.CommitRecords(ctx, batch...); err != nil {
		// The rows are stored: the records come again after a restart or
		// rebalance and change nothing.
		p.log.Warn("commit offsets", "err", err)
	}
	return nil
}

// reportLag measures the group's lag per partition every LagInterval.
func (p *Projector) reportLag(ctx context.Context, adm *kadm.Client) {
	t := time.NewTicker(p.cfg.LagInterval)
	defer t.Stop()
	for {
		lags, err := adm.Lag(ctx, p.cfg.Group)
		if err == nil {
			if l, ok := lags[p.cfg.Group]; ok && l.Error() == nil {
				for _, ps := range l.Lag {
					for part, gl := range ps {
						if gl.Lag >= 0 {
							p.m.lag.WithLabelValues(partitionLabel(part)).Set(float64(gl.Lag))
						}
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
