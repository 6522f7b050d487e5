package main

import (
	"context"
	"flag"
	"time"

	"github.com/incidentd/incidentd/projector"
)

// projectorFlags are the projector's flags; "rebuild clickhouse" reads
// them too.
type projectorFlags struct {
	addr     *string
	database *string
	group    *string
	batch    *int
	flush    *time.Duration
}

func newProjectorFlags(fs *flag.FlagSet) *projectorFlags {
	return &projectorFlags{
		addr:     fs.String("projector.clickhouse-addr", "127.0.0.1:9000", "ClickHouse native-protocol address, host:port"),
		database: fs.String("projector.database", projector.DefaultDatabase, "ClickHouse database of the projected tables"),
		group:    fs.String("projector.group", projector.DefaultGroup, "consumer group of the projector"),
		batch:    fs.Int("projector.batch-rows", projector.DefaultMaxBatchRows, "most events in one ClickHouse insert"),
		flush:    fs.Duration("projector.flush-interval", projector.DefaultFlushInterval, "longest an event waits for its batch to fill"),
	}
}

func projectorService() service {
	return service{
		name: "projector",
		help: "write events to ClickHouse for listing, search and analytics",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			f := newProjectorFlags(fs)
			httpAddr := fs.String("projector.http-addr", "127.0.0.1:9093", "listen address of /healthz, /readyz and /metrics when the projector runs alone")
			return func(ctx context.Context, e *env) error { return runProjector(ctx, e, f, *httpAddr) }
		},
	}
}

// runProjector runs the projector; alone, with its health, readiness and
// metrics on httpAddr (under "run", ingress serves the process's).
func runProjector(ctx context.Context, e *env, f *projectorFlags, httpAddr string) error {
	e.Announce("projector", "events -> ClickHouse at %s, database %s (retries with backoff while it is not reachable)", *f.addr, *f.database)
	if len(e.Kafka.Brokers) == 0 {
		e.Kafka.Brokers = []string{"127.0.0.1:9092"}
	}
	conn, err := projector.OpenClickHouse(*f.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	p, err := projector.New(projector.Config{
		Kafka: e.Kafka, Database: *f.database, Group: *f.group,
		MaxBatchRows: *f.batch, FlushInterval: *f.flush,
		Status: func(msg string) { e.Announce("projector", "%s", msg) },
	}, conn, e.Logger, e.Registry)
	if err != nil {
		return err
	}
	if e.Name == "run" {
		return p.Run(ctx)
	}
	ops := opsServer{part: "projector", ready: func() (bool, string) {
		return p.Ready(), "ClickHouse is not reachable or the schema is not applied yet"
	}}
	return ops.serve(ctx, e, httpAddr, "", p.Run)
}

// rebuildClickHouse is "incidentd rebuild clickhouse", with the
// projector's flags.
func rebuildClickHouse(ctx context.Context, e *env, f *projectorFlags) error {
	if len(e.Kafka.Brokers) == 0 {
		e.Kafka.Brokers = []string{"127.0.0.1:9092"}
	}
	conn, err := projector.OpenClickHouse(*f.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	e.Announce("rebuild", "replaying %s into fresh tables of %s at %s", e.Kafka.Topics().Events, *f.database, *f.addr)
	p, err := projector.Rebuild(ctx, projector.RebuildConfig{
		Kafka: e.Kafka, Database: *f.database, MaxBatchRows: projector.DefaultRebuildBatchRows,
		Progress: func(p projector.Progress) {
			pct := 100.0
			if p.Total > 0 {
				pct = 100 * float64(p.Records) / float64(p.Total)
			}
			e.Announce("rebuild", "%s: %d/%d records (%.1f%%), %d events stored, %d not projectable, %s",
				p.Phase, p.Records, p.Total, pct, p.Events, p.Dead, p.Elapsed.Round(time.Millisecond))
		},
	}, conn, e.Logger)
	if err != nil {
		return err
	}
	e.Announce("rebuild", "done: %d events in %s; the rebuilt tables are live", p.Events, p.Elapsed.Round(time.Millisecond))
	return nil
}
