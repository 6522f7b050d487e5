package main

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
)

// runPassthrough is the ceiling: a group transact session that copies each
// command to the output topic and commits the offsets in the same
// transaction, one transaction per poll, with no state and no decoding.
func runPassthrough(ctx context.Context, cfg kafka.Config, dir string, ready chan<- struct{}) error {
	topics := cfg.Topics()
	assigned := make(chan struct{})
	once := false
	s, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.TransactionalID("passthrough-"+dir),
		kgo.ConsumerGroup("passthrough-"+dir),
		kgo.ConsumeTopics(topics.Commands),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			if !once {
				once = true
				close(assigned)
			}
		}),
	)
	if err != nil {
		return err
	}
	defer s.Close()
	go func() {
		select {
		case <-assigned:
			close(ready)
		case <-ctx.Done():
		}
	}()
	for {
		fs := s.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fs.Err0(); err != nil {
			return err
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := s.Begin(); err != nil {
			return err
		}
		var perr error
		fs.EachRecord(func(r *kgo.Record) {
			s.Produce(ctx, &kgo.Record{Topic: topics.Events, Key: r.Key, Value: r.Value, Partition: r.Partition},
				func(_ *kgo.Record, err error) {
					if err != nil {
						perr = errors.Join(perr, err)
					}
				})
		})
		if _, err := s.End(ctx, kgo.TryCommit); err != nil {
			return err
		}
		if perr != nil {
			return perr
		}
	}
}
