package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/incidentd/incidentd/internal/verify"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/projector"
)

// verifyShown bounds the differences verify prints (all are counted).
const verifyShown = 100

func setupVerify(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	pf := newProjectorFlags(fs)
	wait := fs.Duration("verify.wait", 0, "keep comparing until no difference is left or this long has passed (0: compare once); for a view still catching up")
	return func(ctx context.Context, e *env) error {
		if len(e.Args) != 1 {
			return errors.New("verify: say what to verify: 'verify clickhouse' or 'verify notifier'")
		}
		if len(e.Kafka.Brokers) == 0 {
			e.Kafka.Brokers = []string{"127.0.0.1:9092"}
		}
		// Each compare reads the view first, then the log (see verify.ClickHouse).
		var compare func(ctx context.Context) (*verify.Log, []verify.Difference, error)
		switch e.Args[0] {
		case "clickhouse":
			conn, err := projector.OpenClickHouse(*pf.addr)
			if err != nil {
				return err
			}
			defer conn.Close()
			compare = func(ctx context.Context) (*verify.Log, []verify.Difference, error) {
				return verify.ClickHouse(ctx, conn, *pf.database, e.Kafka, e.Logger)
			}
		case "notifier":
			dir := filepath.Join(e.DataDir, "notifier")
			compare = func(ctx context.Context) (*verify.Log, []verify.Difference, error) {
				stored, err := notifier.StoredStates(dir)
				if err != nil {
					return nil, nil, fmt.Errorf("%w (verify notifier reads the store of a stopped notifier)", err)
				}
				l, err := verify.ReadLog(ctx, e.Kafka, e.Logger)
				if err != nil {
					return nil, nil, err
				}
				return l, verify.Notifier(stored, l), nil
			}
		default:
			return fmt.Errorf("verify: unknown view %q: 'clickhouse' or 'notifier'", e.Args[0])
		}
		deadline := time.Now().Add(*wait)
		for {
			l, diffs, err := compare(ctx)
			if err != nil {
				return err
			}
			diffs = append(l.LogProblems(), diffs...)
			if len(diffs) == 0 {
				fmt.Fprintf(e.Stdout, "verify %s: no difference: %d incidents, %d records of %s (%d undecodable)\n",
					e.Args[0], len(l.Incidents), l.Records, e.Kafka.Topics().Events, l.Undecodable)
				return nil
			}
			if time.Now().Before(deadline) {
				t := time.NewTimer(time.Second)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
				continue
			}
			for i, d := range diffs {
				if i == verifyShown {
					fmt.Fprintf(e.Stdout, "... and %d more\n", len(diffs)-verifyShown)
					break
				}
				fmt.Fprintln(e.Stdout, d)
			}
			return fmt.Errorf("verify %s: %d differences over %d incidents of the log", e.Args[0], len(diffs), len(l.Incidents))
		}
	}
}
