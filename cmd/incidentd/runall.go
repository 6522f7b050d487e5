package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"golang.org/x/sync/errgroup"

	"github.com/incidentd/incidentd/internal/broker"
	"github.com/incidentd/incidentd/internal/kafka"
)

// setupRunAll is "incidentd run": the embedded broker (unless brokers are
// given), the topics, then every service, in one process.
func setupRunAll(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	brokerAddr := fs.String("broker.addr", "127.0.0.1:9092", "listen address of the embedded broker (when -kafka.brokers is empty)")
	var runs []func(ctx context.Context, e *env) error
	svcs := services()
	for _, s := range svcs {
		runs = append(runs, s.setup(fs))
	}
	return func(ctx context.Context, e *env) error {
		// The broker outlives ctx: Ctrl-C stops the services first (they
		// leave their groups, finish their transactions, close their
		// clients), then the broker they talk to.
		var brokerDone chan error
		bctx, cancelBroker := context.WithCancel(context.WithoutCancel(ctx))
		defer cancelBroker()
		if len(e.Kafka.Brokers) == 0 {
			addr, done, err := startBroker(bctx, e, *brokerAddr)
			if err != nil {
				return err
			}
			brokerDone = done
			e.Kafka.Brokers = []string{addr}
		}
		if err := ensureTopics(ctx, e); err != nil {
			return err
		}
		// Ingress listens before any service starts: the notifier's
		// card links are derived from the address it got.
		if f := fs.Lookup("ingress.addr"); f != nil {
			ln, err := net.Listen("tcp", f.Value.String())
			if err != nil {
				return fmt.Errorf("ingress: listen: %w", err)
			}
			defer ln.Close() // ingress closes it when it serves; this covers a failed start
			e.IngressListener = ln
			if err := f.Value.Set(ln.Addr().String()); err != nil {
				return err
			}
		}

		// One part failing stops the others (the group's context); the
		// broker stops only after every service has returned.
		g, svcCtx := errgroup.WithContext(ctx)
		errs := make([]error, len(svcs)) // every part's, not only the first
		for i, s := range svcs {
			g.Go(func() error {
				se := *e
				se.Name = "run"
				se.Logger = e.Logger.With("service", s.name)
				se.Kafka.Service = s.name
				if err := runs[i](svcCtx, &se); err != nil && !errors.Is(err, context.Canceled) {
					errs[i] = fmt.Errorf("%s: %w", s.name, err)
				}
				return errs[i]
			})
		}
		e.Announce("run", "all parts started; Ctrl-C stops them")
		_ = g.Wait() // its error is the first of errs
		cancelBroker()
		if brokerDone != nil {
			if err := <-brokerDone; err != nil && !errors.Is(err, context.Canceled) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// startBroker starts the embedded broker and waits until it listens.
func startBroker(ctx context.Context, e *env, addr string) (string, chan error, error) {
	ready := make(chan string, 1)
	done := make(chan error, 1)
	cfg := broker.Config{Addr: addr, DataDir: filepath.Join(e.DataDir, "broker"), Partitions: e.Kafka.Partitions}
	go func() { done <- broker.Run(ctx, cfg, e.Logger.With("part", "broker"), func(a string) { ready <- a }) }()
	select {
	case a := <-ready:
		e.Announce("broker", "embedded Kafka-protocol broker on %s (data in %s)", a, cfg.DataDir)
		return a, done, nil
	case err := <-done:
		return "", nil, fmt.Errorf("broker: %w", err)
	case <-time.After(30 * time.Second):
		return "", nil, errors.New("broker: not listening after 30s")
	}
}

// ensureTopics creates the topics or checks them, as every service's start.
func ensureTopics(ctx context.Context, e *env) error {
	cl, err := kafka.NewClient(e.Kafka, e.Logger)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return kafka.EnsureTopics(ctx, kadm.NewClient(cl), e.Kafka)
}

func setupBroker(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	addr := fs.String("broker.addr", "127.0.0.1:9092", "listen address")
	return func(ctx context.Context, e *env) error {
		_, done, err := startBroker(ctx, e, *addr)
		if err != nil {
			return err
		}
		return <-done
	}
}

func setupTopics(*flag.FlagSet) func(ctx context.Context, e *env) error {
	return func(ctx context.Context, e *env) error {
		if len(e.Kafka.Brokers) == 0 {
			e.Kafka.Brokers = []string{"127.0.0.1:9092"}
		}
		if err := ensureTopics(ctx, e); err != nil {
			return err
		}
		t := kafka.NewTopics(e.Kafka.TopicPrefix)
		e.Announce("topics", "%s, %s, %s, %s ready with %d partitions", t.Commands, t.Events, t.Changelog, t.DeadLetters, e.Kafka.Partitions)
		return nil
	}
}

func setupRebuild(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
	pf := newProjectorFlags(fs)
	return func(ctx context.Context, e *env) error {
		if len(e.Args) != 1 {
			return errors.New("rebuild: say what to rebuild: 'rebuild processor' or 'rebuild clickhouse'")
		}
		switch e.Args[0] {
		case "processor":
			return rebuildProcessor(ctx, e)
		case "clickhouse":
			return rebuildClickHouse(ctx, e, pf)
		}
		return fmt.Errorf("rebuild: unknown view %q: 'processor' or 'clickhouse'", e.Args[0])
	}
}
