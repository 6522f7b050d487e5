package projector_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/processor"
	"github.com/incidentd/incidentd/projector"
)

// runProcessor runs a processor on h's topics until the test ends or the
// returned stop is called.
func (h *harness) runProcessor(t testing.TB) (stop func()) {
	t.Helper()
	p, err := processor.New(processor.Config{
		Kafka: h.kcfg, Dir: t.TempDir(), SessionTimeout: 6 * time.Second, TransactionTimeout: 5 * time.Second,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Go(t, "processor Run", p.Run)
}

// sendCommands issues n more commands of w to the commands topic, in
// produce calls of up to 1,000 records.
func (h *harness) sendCommands(w *world, n int) error {
	from := len(w.cmds)
	for len(w.cmds)-from < n {
		w.step()
	}
	cmds := w.cmds[from:]
	for len(cmds) > 0 {
		chunk := cmds[:min(len(cmds), 1000)]
		cmds = cmds[len(chunk):]
		recs := make([]*kgo.Record, len(chunk))
		for i, c := range chunk {
			v, err := wire.EncodeCommand(c)
			if err != nil {
				return err
			}
			recs[i] = &kgo.Record{Topic: h.kcfg.Topics().Commands, Key: []byte(c.Incident), Value: v}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := h.prod.ProduceSync(ctx, recs...).FirstErr()
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// eventRows counts the rows of database's events table (0 while it does
// not exist).
func (h *harness) eventRows(database string) uint64 {
	var n uint64
	_ = h.conn.QueryRow(context.Background(), "SELECT count() FROM "+database+".events").Scan(&n)
	return n
}

// TestCatchUpWhileProcessorEmits: a projector starts on an empty
// database and catches up from offset 0 while the processor is still
// turning commands into events (transactions of up to 10,000), five times
// over a growing log. During each catch-up a second projector joins its
// group and leaves (partitions move twice), ClickHouse is killed and
// started again (inserts fail), a second processor joins and leaves
// (processor transactions are fenced and aborted), or all of it; last, the
// catch-up starts over into a fresh database under the same group (a first
// attempt's tables dropped: resuming at the group's offsets would skip
// every event the first attempt committed). After each run verify finds
// no difference: the events table holds every event of the log (versions
// 1..N per incident, under its tenant) and every incidents row is the
// fold of the log.
func TestCatchUpWhileProcessorEmits(t *testing.T) {
	if testing.Short() {
		t.Skip("20 to 55 s: run by make test, left out of make check (go test -short)")
	}
	t.Parallel() // owns its broker and ClickHouse server
	h := newHarness(t)
	h.runProcessor(t)
	w := newWorld(12, "acme", "globex", "initech")
	if err := h.sendCommands(w, 20000); err != nil {
		t.Fatal(err)
	}
	const (
		secondProjector = 1 << iota
		killClickHouse
		secondProcessor
		tablesLost // the first attempt's database dropped, its group kept
	)
	for run, faults := range []int{secondProjector, killClickHouse, secondProjector | secondProcessor,
		secondProjector | killClickHouse | secondProcessor, tablesLost} {
		db := fmt.Sprintf("catchup_%d", run)
		var wg sync.WaitGroup
		var sendErr error
		wg.Add(1)
		go func() { defer wg.Done(); sendErr = h.sendCommands(w, 5000) }()
		edit := func(c *projector.Config) { c.Database, c.Group, c.MaxBatchRows = db, db, 2000 }
		stop := h.run(t, edit)
		// A fault lands in the catch-up: it starts once rows are stored and
		// lasts until 2,000 more are, or the catch-up is over.
		progressed := func(what string, n uint64) {
			t.Helper()
			testenv.Eventually(t, 30*time.Second, what, func() error {
				if got := h.eventRows(db); got < n && h.verify(db) != nil {
					return fmt.Errorf("%d rows, want %d or the log's end", got, n)
				}
				return nil
			})
		}
		testenv.Eventually(t, 30*time.Second, "first rows stored", func() error {
			if h.eventRows(db) == 0 {
				return fmt.Errorf("no rows yet")
			}
			return nil
		})
		if faults&secondProcessor != 0 {
			stopProc := h.runProcessor(t)
			progressed("rows stored while a second processor joins", h.eventRows(db)+2000)
			stopProc()
		}
		if faults&secondProjector != 0 {
			stop2 := h.run(t, edit)
			progressed("rows stored while a second projector joins", h.eventRows(db)+2000)
			stop2()
		}
		if faults&tablesLost != 0 {
			h.waitGroupCommitted(t, db, 1)
			stop()
			if err := h.conn.Exec(context.Background(), "DROP DATABASE "+db); err != nil {
				t.Fatal(err)
			}
			stop = h.run(t, edit)
		}
		if faults&killClickHouse != 0 {
			h.ch.Kill(t)
			h.ch.Start(t)
		}
		wg.Wait()
		if sendErr != nil {
			t.Fatal(sendErr)
		}
		h.waitVerified(t, db, 60*time.Second)
		stop()
	}
}
