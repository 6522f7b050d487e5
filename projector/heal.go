package projector

import (
	"context"
	"log/slog"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/eventlog"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/retry"
)

// healer is where the projector re-reads, from the events topic (the
// source of truth), the versions an incident's projection is missing when
// a batch finds a version gap, so the view converges instead of staying
// behind. eventlog.Missing reads each affected partition directly (no
// group), read committed, from its start up to the gap's record: the cost
// is reading those partitions once per batch with gaps, which only a
// fault makes happen.
type healer struct {
	kafka kafka.Config
	topic string
	log   *slog.Logger
}

// heal reads the missing versions of the gaps of res (a fold of decs)
// from the log, retrying while Kafka does not answer. It returns them as
// decoded events without records, in log order.
func (p *pipeline) heal(ctx context.Context, decs []decoded, res folded) ([]decoded, error) {
	gaps := make([]eventlog.Gap, len(res.gapEvents))
	for i, e := range res.gapEvents {
		r := decs[res.gapIdx[i]].rec
		gaps[i] = eventlog.Gap{Incident: e.Incident, Have: res.gapHave[i], Got: e.Version, Partition: r.Partition, Offset: r.Offset}
	}
	var evs []incident.Event
	err := retry.Do(ctx, p.backoff(), func() error {
		var err error
		evs, err = eventlog.Missing(ctx, p.healer.kafka, p.healer.log, p.healer.topic, gaps)
		return err
	}, func(err error, wait time.Duration) {
		p.log.Warn("version gap: reading the missing versions from the log failed, retrying", "backoff", wait, "err", err)
	})
	if err != nil {
		return nil, err
	}
	out := make([]decoded, len(evs))
	for i, e := range evs {
		out[i] = decoded{ev: e}
	}
	return out, nil
}

// gapIncidents returns the incidents with a gap in res.
func gapIncidents(res folded) map[string]bool {
	out := map[string]bool{}
	for _, e := range res.gapEvents {
		out[e.Incident] = true
	}
	return out
}
