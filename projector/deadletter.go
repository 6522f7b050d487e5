package projector

import (
	"context"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/retry"
)

// Headers of a dead-letter record. Its key and value are the original
// record's, unchanged.
const (
	HeaderReason    = "incidentd-reason"    // why it could not be projected, for people
	HeaderKind      = "incidentd-dead"      // undecodable or refused
	HeaderSource    = "incidentd-source"    // "projector"
	HeaderTopic     = "incidentd-topic"     // where the original is
	HeaderPartition = "incidentd-partition" //
	HeaderOffset    = "incidentd-offset"    //
)

// deadLetter produces the records that cannot be projected to the
// dead-letter topic, retrying until Kafka takes them (their offsets are
// committed only after).
func (p *Projector) deadLetter(ctx context.Context, cl *kgo.Client, topic string, dead []deadLetter) error {
	recs := make([]*kgo.Record, len(dead))
	for i, d := range dead {
		p.log.Error("dead letter", "incident_id", string(d.rec.Key), "partition", d.rec.Partition,
			"offset", d.rec.Offset, "reason", d.reason, "err", d.err)
		recs[i] = &kgo.Record{
			Topic: topic, Key: d.rec.Key, Value: d.rec.Value,
			Headers: []kgo.RecordHeader{
				{Key: HeaderReason, Value: []byte(d.err.Error())},
				{Key: HeaderKind, Value: []byte(d.reason)},
				{Key: HeaderSource, Value: []byte("projector")},
				{Key: HeaderTopic, Value: []byte(d.rec.Topic)},
				{Key: HeaderPartition, Value: []byte(strconv.FormatInt(int64(d.rec.Partition), 10))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(d.rec.Offset, 10))},
			},
		}
	}
	err := retry.Do(ctx, p.backoff(), func() error {
		return cl.ProduceSync(ctx, recs...).FirstErr()
	}, func(err error, wait time.Duration) {
		p.log.Warn("produce dead letters, retrying", "backoff", wait, "err", err)
	})
	if err != nil {
		return err
	}
	for _, d := range dead {
		p.m.deadLetters.WithLabelValues(d.reason).Inc()
	}
	return nil
}
