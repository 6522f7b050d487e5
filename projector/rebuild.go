package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/readmodel"
)

// RebuildConfig is what a rebuild reads and writes.
type RebuildConfig struct {
	Kafka        kafka.Config
	Database     string
	MaxBatchRows int // default DefaultRebuildBatchRows
	// Progress, if set, is called about every ProgressInterval (default
	// 1s) and once at each phase's end.
	Progress         func(Progress)
	ProgressInterval time.Duration
}

// DefaultRebuildBatchRows is a rebuild's insert size: large, since
// ClickHouse prefers few big inserts and nobody waits on a single event.
const DefaultRebuildBatchRows = 100000

// Progress is how far a rebuild is.
type Progress struct {
	Phase   string // "replay", "swap", "catch-up", "done"
	Records int64  // offsets read past in this phase (transaction markers and aborted records included)
	Total   int64  // records to read in this phase
	Events  int64  // event rows stored so far
	States  int64  // incident state rows stored so far
	Dead    int64  // records that could not be projected (already dead-lettered by the live projector)
	Elapsed time.Duration
}

// Rebuild replays the events topic from its start into fresh tables
// (events_rebuild, incidents_rebuild) while the live tables keep serving,
// and once it has caught up with the end of the topic, swaps them in with
// RENAME TABLE. Records produced while it swapped are then replayed into
// the new live tables too (a live projector may have written them to the
// old ones), and the old tables are dropped.
//
// Records that cannot be projected are counted in Progress.Dead and
// logged, not dead-lettered again: the live projector did that.
func Rebuild(ctx context.Context, cfg RebuildConfig, conn driver.Conn, logger *slog.Logger) (Progress, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.check(); err != nil {
		return Progress{}, err
	}
	if err := Migrate(ctx, conn, cfg.Database); err != nil {
		return Progress{}, err
	}
	live := readmodel.LiveTables(cfg.Database)
	fresh, retired := live.With(RebuildSuffix), live.With(RetiredSuffix)
	if err := dropTables(ctx, conn, fresh); err != nil {
		return Progress{}, err
	}
	if err := readmodel.CreateTables(ctx, conn, fresh); err != nil {
		return Progress{}, fmt.Errorf("projector: rebuild: create fresh tables: %w", err)
	}
	r, err := newRebuilder(ctx, cfg, conn, fresh, logger)
	if err != nil {
		return Progress{}, err
	}
	defer r.cl.Close()

	if err := r.replayTo(ctx, "replay"); err != nil {
		return r.progress, err
	}
	r.report("swap", true)
	if err := dropTables(ctx, conn, retired); err != nil {
		return r.progress, err
	}
	if err := swap(ctx, conn, live, fresh, retired); err != nil {
		return r.progress, err
	}
	r.sink.setTables(live)
	if err := r.replayTo(ctx, "catch-up"); err != nil {
		return r.progress, err
	}
	if err := dropTables(ctx, conn, retired); err != nil {
		return r.progress, err
	}
	r.report("done", true)
	return r.progress, nil
}

// check fills in cfg's defaults and reports what is wrong with it.
func (cfg *RebuildConfig) check() error {
	cfg.Kafka.Defaults()
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if cfg.MaxBatchRows == 0 {
		cfg.MaxBatchRows = DefaultRebuildBatchRows
	}
	if cfg.ProgressInterval == 0 {
		cfg.ProgressInterval = time.Second
	}
	if err := cfg.Kafka.Validate(); err != nil {
		return fmt.Errorf("projector: rebuild: %w", err)
	}
	if cfg.MaxBatchRows < 1 {
		return fmt.Errorf("projector: rebuild: max batch rows %d, want at least 1", cfg.MaxBatchRows)
	}
	return nil
}

// dropTables drops the tables of t that are there.
func dropTables(ctx context.Context, conn driver.Conn, t readmodel.Tables) error {
	for _, name := range []string{t.Events, t.Incidents} {
		if err := conn.Exec(ctx, SQLDropTable(t.Database, name)); err != nil {
			return fmt.Errorf("projector: rebuild: drop %s: %w", name, err)
		}
	}
	return nil
}

// newRebuilder returns a rebuilder that writes into fresh, positioned at
// the start of every partition of the events topic. The caller closes its
// client.
func newRebuilder(ctx context.Context, cfg RebuildConfig, conn driver.Conn, fresh readmodel.Tables, logger *slog.Logger) (*rebuilder, error) {
	topic := cfg.Kafka.Topics().Events
	cl, err := kafka.NewClient(cfg.Kafka, logger,
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(16<<20),
	)
	if err != nil {
		return nil, fmt.Errorf("projector: rebuild: %w", err)
	}
	adm := kadm.NewClient(cl)
	m, _ := newMetrics(nil)
	sink := &ClickHouseSink{conn: conn, tables: fresh}
	r := &rebuilder{
		cfg: cfg, cl: cl, adm: adm, topic: topic, log: logger, start: time.Now(), sink: sink,
		pl: &pipeline{
			sink: sink, folder: newFolder(sink, 1<<22, true), m: m, log: logger,
			minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff,
			status: &statusReporter{m: m},
		},
		pos: map[int32]int64{},
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("projector: rebuild: list start offsets: %w", err)
	}
	starts.Each(func(o kadm.ListedOffset) { r.pos[o.Partition] = o.Offset })
	return r, nil
}

// swap renames the fresh tables in and the live ones out. Merges of all
// four are stopped around it, since the rename waits for them; whatever
// happens, they are started again (under the names the tables end with).
func swap(ctx context.Context, conn driver.Conn, live, fresh, retired readmodel.Tables) (err error) {
	db := live.Database
	restart := []string{live.Events, live.Incidents, fresh.Events, fresh.Incidents}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, t := range restart {
			if e := conn.Exec(ctx, SQLMerges(true, db, t)); e != nil {
				err = errors.Join(err, fmt.Errorf("projector: rebuild: start merges of %s: %w", t, e))
			}
		}
	}()
	for _, t := range restart {
		if err := conn.Exec(ctx, SQLMerges(false, db, t)); err != nil {
			return fmt.Errorf("projector: rebuild: stop merges of %s: %w", t, err)
		}
	}
	if err := conn.Exec(ctx, SQLSwap(live, fresh, retired)); err != nil {
		return fmt.Errorf("projector: rebuild: swap tables: %w", err)
	}
	restart = []string{live.Events, live.Incidents, retired.Events, retired.Incidents}
	return nil
}

type rebuilder struct {
	cfg          RebuildConfig
	cl           *kgo.Client
	adm          *kadm.Client
	topic        string
	log          *slog.Logger
	pl           *pipeline
	start        time.Time
	sink         *ClickHouseSink
	ins          *inserter       // of the current phase
	stored       int64           // event rows stored by earlier phases
	storedStates int64           // state rows stored by earlier phases
	pos          map[int32]int64 // next offset to read, per partition
	from         map[int32]int64 // pos when the phase started
	progress     Progress
	lastShow     time.Time
}

// replayTo reads and stores every record up to the topic's current end.
func (r *rebuilder) replayTo(ctx context.Context, phase string) error {
	ends, err := r.adm.ListEndOffsets(ctx, r.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("projector: rebuild: list end offsets: %w", err)
	}
	target := map[int32]int64{}
	r.from = map[int32]int64{}
	for p, o := range r.pos {
		r.from[p] = o
	}
	r.progress.Total, r.progress.Records = 0, 0
	ends.Each(func(o kadm.ListedOffset) {
		target[o.Partition] = o.Offset
		if d := o.Offset - r.pos[o.Partition]; d > 0 {
			r.progress.Total += d
		}
	})
	caught := func() bool {
		for p, end := range target {
			if r.pos[p] < end {
				return false
			}
		}
		return true
	}
	r.ins = startInserter(ctx, r.pl, r.sink)
	defer func() {
		r.stored += r.ins.events.Load()
		r.storedStates += r.ins.states.Load()
		_ = r.ins.close() // its error, if any, was returned by wait
		r.ins = nil
	}()
	var batch []*kgo.Record
	for !caught() {
		fs := r.cl.PollRecords(ctx, r.cfg.MaxBatchRows-len(batch))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = errors.Join(ferr, fmt.Errorf("fetch %s/%d: %w", t, p, err)) })
		if ferr != nil {
			r.log.Warn("rebuild fetch", "err", ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			r.pos[rec.Partition] = rec.Offset + 1
			if !rec.Attrs.IsControl() {
				batch = append(batch, rec)
			}
		})
		if len(batch) >= r.cfg.MaxBatchRows || (len(batch) > 0 && caught()) {
			if err := r.store(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
		r.report(phase, false)
	}
	if len(batch) > 0 {
		if err := r.store(ctx, batch); err != nil {
			return err
		}
	}
	if err := r.ins.wait(); err != nil {
		return err
	}
	r.report(phase, true)
	return nil
}

// store folds a batch and hands it to the inserter, so the next batch is
// read, decoded and folded while this one is inserted. A batch's states go
// into the cache at once: the inserter stores batches in order, and a fold
// never reads the tables back while the cache is complete (fresh). Once the
// cache has had to evict, store waits for the inserter before it folds, so
// what it reads back is stored.
func (r *rebuilder) store(ctx context.Context, batch []*kgo.Record) error {
	if !r.pl.folder.fresh {
		if err := r.ins.wait(); err != nil {
			return err
		}
	}
	pr, err := r.pl.prepare(ctx, batch)
	if err != nil {
		return fmt.Errorf("projector: rebuild: %w", err)
	}
	r.pl.folder.commit(pr.res, nil)
	for _, d := range pr.dead {
		r.progress.Dead++
		r.log.Warn("rebuild: record not projected", "partition", d.rec.Partition, "offset", d.rec.Offset,
			"reason", d.reason, "err", d.err)
	}
	return r.ins.submit(ctx, pr)
}

// inserter stores prepared batches in order on its own goroutine.
type inserter struct {
	pl     *pipeline
	sink   *ClickHouseSink
	work   chan prepared
	done   chan struct{}
	events atomic.Int64 // event rows stored
	states atomic.Int64 // state rows stored

	inflight sync.WaitGroup
	mu       sync.Mutex
	err      error
}

func startInserter(ctx context.Context, pl *pipeline, sink *ClickHouseSink) *inserter {
	in := &inserter{pl: pl, sink: sink, work: make(chan prepared, 1), done: make(chan struct{})}
	go func() {
		defer close(in.done)
		for pr := range in.work {
			if in.failed() == nil {
				in.setErr(in.insert(ctx, pr))
			}
			in.inflight.Done()
		}
	}()
	return in
}

// insert stores one batch, retrying while ClickHouse is unreachable. Rows
// it refuses fail the rebuild: the fresh tables would differ from the log,
// and the live ones keep serving.
func (in *inserter) insert(ctx context.Context, pr prepared) error {
	states := pr.res.stored()
	err := in.pl.retry(ctx, "rebuild insert", func() error {
		return in.sink.insertParallel(ctx, pr.events, states, 2)
	})
	if err != nil {
		return fmt.Errorf("projector: rebuild: %w", err)
	}
	in.events.Add(int64(len(pr.events)))
	in.states.Add(int64(len(states)))
	return nil
}

func (in *inserter) failed() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

func (in *inserter) setErr(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.err == nil {
		in.err = err
	}
}

func (in *inserter) submit(ctx context.Context, pr prepared) error {
	if err := in.failed(); err != nil {
		return err
	}
	in.inflight.Add(1)
	select {
	case in.work <- pr:
		return nil
	case <-ctx.Done():
		in.inflight.Done()
		return ctx.Err()
	}
}

// wait returns once every submitted batch is stored (or one failed).
func (in *inserter) wait() error {
	in.inflight.Wait()
	return in.failed()
}

// close waits for the inserter and stops it.
func (in *inserter) close() error {
	err := in.wait()
	close(in.work)
	<-in.done
	return err
}

func (r *rebuilder) report(phase string, force bool) {
	now := time.Now()
	if !force && now.Sub(r.lastShow) < r.cfg.ProgressInterval {
		return
	}
	r.lastShow = now
	r.progress.Records = 0
	for p, o := range r.pos {
		r.progress.Records += o - r.from[p]
	}
	r.progress.Events, r.progress.States = r.stored, r.storedStates
	if r.ins != nil {
		r.progress.Events += r.ins.events.Load()
		r.progress.States += r.ins.states.Load()
	}
	r.progress.Phase = phase
	r.progress.Elapsed = now.Sub(r.start)
	if r.cfg.Progress != nil {
		r.cfg.Progress(r.progress)
	}
}
