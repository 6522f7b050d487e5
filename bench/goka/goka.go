package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"

	"github.com/incidentd/incidentd/internal/kafka"
)

// runGoka is goka with its own defaults (sarama, LevelDB group table, its
// own producer batching); only the storage directory and topic replication
// are set, as a single-broker cluster needs.
func runGoka(ctx context.Context, cfg kafka.Config, dir string, ready chan<- struct{}) error {
	topics := cfg.Topics()
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	var failed error
	g := goka.DefineGroup(goka.Group("goka-"+filepath.Base(dir)),
		goka.Input(goka.Stream(topics.Commands), new(codec.Bytes), func(gctx goka.Context, msg any) {
			var prev []byte
			if v := gctx.Value(); v != nil {
				prev = v.([]byte)
			}
			events, state, err := decide(prev, msg.([]byte))
			if err != nil {
				gctx.Fail(err)
			}
			for _, e := range events {
				gctx.Emit(goka.Stream(topics.Events), gctx.Key(), e)
			}
			gctx.SetValue(state)
		}),
		goka.Output(goka.Stream(topics.Events), new(codec.Bytes)),
		goka.Persist(new(codec.Bytes)),
	)
	p, err := goka.NewProcessor(cfg.Brokers, g,
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(tmc)),
		goka.WithStorageBuilder(storage.DefaultBuilder(filepath.Join(dir, "goka"))),
		goka.WithLogger(log.New(io.Discard, "", 0)),
	)
	if err != nil {
		return fmt.Errorf("goka: %w", err)
	}
	go func() {
		if err := p.WaitForReadyContext(ctx); err == nil {
			close(ready)
		}
	}()
	err = p.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return errors.Join(err, failed)
}
