package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/incidentd/incidentd/processor"
)

func processorService() service {
	return service{
		name: "processor",
		help: "apply commands per partition against local Pebble state and emit events",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			httpAddr := fs.String("processor.http-addr", "127.0.0.1:9091", "listen address of /healthz, /readyz and /metrics (/metrics only when run alone: under \"run\" ingress serves them)")
			group := fs.String("processor.group", processor.DefaultGroup, "consumer group of the processor instances")
			instance := fs.String("processor.instance-id", "", "this instance's static group member and transactional id (empty: kept in the data directory)")
			maxBatch := fs.Int("processor.max-batch", processor.DefaultMaxBatch, "most commands applied in one transaction")
			session := fs.Duration("processor.session-timeout", processor.DefaultSessionTimeout, "group session timeout")
			txn := fs.Duration("processor.transaction-timeout", processor.DefaultTransactionTimeout, "transaction timeout, below the session timeout")
			window := fs.Duration("processor.dedup-window", processor.DefaultDedupWindow, "how long after a command's time its id is remembered with its outcome (a retry is answered with it; at least 24h)")
			crash := fs.Int("processor.crash-after-commits", 0, "testing failpoint: exit at once after this many committed transactions, before writing Pebble (0: never)")
			return func(ctx context.Context, e *env) error {
				if len(e.Kafka.Brokers) == 0 {
					e.Kafka.Brokers = []string{"127.0.0.1:9092"}
				}
				if e.Name != "run" {
					if err := ensureTopics(ctx, e); err != nil {
						return err
					}
				}
				cfg := processor.Config{
					Kafka: e.Kafka, Policy: e.Policy, Dir: processorDir(e),
					Group: *group, InstanceID: *instance, MaxBatch: *maxBatch,
					SessionTimeout: *session, TransactionTimeout: *txn, DedupWindow: *window,
				}
				if n := *crash; n > 0 {
					cfg.AfterCommit = func(commits int) {
						if commits >= n {
							fmt.Fprintf(os.Stderr, "incidentd: processor failpoint: exiting after %d commits, before the Pebble write\n", commits)
							os.Exit(3)
						}
					}
				}
				p, err := processor.New(cfg, e.Logger, e.Registry)
				if err != nil {
					return err
				}
				return serveProcessor(ctx, e, p, *httpAddr)
			}
		},
	}
}

func processorDir(e *env) string { return filepath.Join(e.DataDir, "processor") }

// serveProcessor runs p with its health and readiness endpoints (and
// /metrics when it runs alone).
func serveProcessor(ctx context.Context, e *env, p *processor.Processor, addr string) error {
	ops := opsServer{part: "processor", ready: func() (bool, string) { return p.Ready(), "restoring" }}
	return ops.serve(ctx, e, addr, "; state in "+processorDir(e), p.Run)
}

// rebuildProcessor is "incidentd rebuild processor": replay the events
// topic into a fresh store and compare it with the live one.
func rebuildProcessor(ctx context.Context, e *env) error {
	if len(e.Kafka.Brokers) == 0 {
		e.Kafka.Brokers = []string{"127.0.0.1:9092"}
	}
	cfg := processor.Config{Kafka: e.Kafka, Policy: e.Policy, Dir: processorDir(e)}
	start := time.Now()
	rep, err := processor.Rebuild(ctx, cfg, e.Logger, func(done, total int64) {
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(done) / float64(total)
		}
		e.Announce("rebuild", "%d/%d records of the events topic (%.0f%%)", done, total, pct)
	})
	if err != nil {
		return err
	}
	e.Announce("rebuild", "%d events, %d incidents in %s: %d equal, %d behind, %d missing, %d mismatched; %d duplicate events, %d gaps, %d undecodable",
		rep.Events, rep.Incidents, time.Since(start).Round(time.Millisecond), rep.Equal, rep.Behind, rep.Missing, rep.Mismatched,
		rep.DuplicateEvents, rep.Gaps, rep.Undecodable)
	for _, pr := range rep.Problems {
		e.Announce("rebuild", "problem: %s", pr)
	}
	if !rep.OK() {
		return errors.New("rebuild: the live processor state disagrees with the events topic")
	}
	if !rep.Identical() {
		e.Announce("rebuild", "partitions this instance does not own (or has not caught up on) are behind the log; that is expected")
	}
	return nil
}
