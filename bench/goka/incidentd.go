package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/processor"
)

// incidentdContenders returns incidentd's processor: Pebble on disk, one
// Kafka transaction per step.
func incidentdContenders() []contender {
	return []contender{{"incidentd processor", runIncidentd}}
}

func runIncidentd(ctx context.Context, cfg kafka.Config, dir string, ready chan<- struct{}) error {
	p, err := processor.New(processor.Config{
		Kafka:  cfg,
		Policy: incident.DefaultPolicy(),
		Dir:    filepath.Join(dir, "processor"),
		Group:  "incidentd-" + filepath.Base(dir),
	}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if len(p.Owned()) > 0 && p.Ready() {
					close(ready)
					return
				}
			}
		}
	}()
	err = p.Run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
