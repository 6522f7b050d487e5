package ingress

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/wire"
)

// errNotInLog is returned when the broker did not ack a command in time:
// the caller gets 503, never a 2xx.
var errNotInLog = errors.New("ingress: command not acked by the broker")

// submit produces one command to the commands topic, keyed by incident id,
// and returns once the broker acked it. It never waits longer than
// ProduceTimeout: if the ack does not come by then it returns an error
// wrapping errNotInLog (the record may still land later; its command id
// makes a retry harmless).
func (s *Server) submit(ctx context.Context, source string, c incident.Command) error {
	val, err := wire.EncodeCommand(c)
	if err != nil {
		return fmt.Errorf("ingress: encode command: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ProduceTimeout)
	defer cancel()
	rec := &kgo.Record{Topic: s.topics.Commands, Key: []byte(c.Incident), Value: val}
	done := make(chan error, 1)
	start := time.Now()
	s.producer.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err = <-done:
	case <-ctx.Done():
		// The client may hold the record past the context while a request
		// is in flight; the caller's answer does not wait for it.
		err = ctx.Err()
	}
	if err != nil {
		s.metrics.produce.WithLabelValues("error").Observe(time.Since(start).Seconds())
		s.log.Warn("produce command", "incident_id", c.Incident, "command_id", c.ID, "err", err)
		return fmt.Errorf("%w: %w", errNotInLog, err)
	}
	s.metrics.produce.WithLabelValues("ok").Observe(time.Since(start).Seconds())
	s.metrics.commands.WithLabelValues(source, string(c.Kind)).Inc()
	s.log.Debug("command in log", "incident_id", c.Incident, "command_id", c.ID, "kind", c.Kind)
	return nil
}
