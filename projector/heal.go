package projector

import (
	"context"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/eventlog"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/wire"
)

// healer re-reads from the events topic, the source of truth, the
// versions an incident's projection is missing when a batch finds a
// version gap, so the view converges instead of staying behind. It reads
// each affected partition directly (no group), read committed, from its
// start up to the gap's record: the cost is that of reading the partition
// once per batch with gaps, which only a fault makes happen.
type healer struct {
	kafka kafka.Config
	topic string
	log   *slog.Logger
}

// gapAt is the first event of a batch that skips versions of its incident.
type gapAt struct {
	incident  string
	have, got uint64 // the version the view holds, the event's version
	partition int32
	offset    int64
}

// read returns the events, in log order, of every gap's incident with a
// version between have and got (both excluded) that its partition holds
// before the gap's record.
func (h *healer) read(ctx context.Context, gaps []gapAt) ([]incident.Event, error) {
	want := map[string]gapAt{}
	ends := map[int32]int64{}
	for _, g := range gaps {
		if _, ok := want[g.incident]; ok {
			continue // the first gap of an incident covers its later ones
		}
		want[g.incident] = g
		ends[g.partition] = max(ends[g.partition], g.offset+1)
	}
	var out []incident.Event
	err := eventlog.Read(ctx, h.kafka, h.log, h.topic, ends, func(r *kgo.Record) error {
		g, ok := want[string(r.Key)]
		if !ok || r.Partition != g.partition || r.Offset >= g.offset {
			return nil
		}
		e, err := wire.DecodeEvent(r.Value)
		if err != nil || e.Incident != g.incident {
			return nil // the live path dead-lettered it
		}
		if e.Version > g.have && e.Version < g.got {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// heal reads the missing versions of the gaps of res (a fold of decs)
// from the log, retrying while Kafka does not answer. It returns them as
// decoded events without records, in log order.
func (p *pipeline) heal(ctx context.Context, decs []decoded, res folded) ([]decoded, error) {
	gaps := make([]gapAt, len(res.gapEvents))
	for i, e := range res.gapEvents {
		r := decs[res.gapIdx[i]].rec
		gaps[i] = gapAt{incident: e.Incident, have: res.gapHave[i], got: e.Version, partition: r.Partition, offset: r.Offset}
	}
	backoff := p.minBackoff
	for {
		evs, err := p.healer.read(ctx, gaps)
		if err == nil {
			out := make([]decoded, len(evs))
			for i, e := range evs {
				out[i] = decoded{ev: e}
			}
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p.log.Warn("version gap: reading the missing versions from the log failed, retrying", "backoff", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(backoff*2, p.maxBackoff)
	}
}

// gapIncidents returns the incidents with a gap in res.
func gapIncidents(res folded) map[string]bool {
	out := map[string]bool{}
	for _, e := range res.gapEvents {
		out[e.Incident] = true
	}
	return out
}
