package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DeadLetter is what the notifier writes to the dead-letter topic when it
// gives up on something: a Slack call refused for good, an incident whose
// workspace is not configured, an event it cannot decode. The record's key
// is the incident id; its "reason" header is Error.
type DeadLetter struct {
	Service    string    `json:"service"` // always "notifier"
	IncidentID string    `json:"incident_id"`
	EventID    string    `json:"event_id,omitempty"` // the (last) event the failed work was for
	Method     string    `json:"method,omitempty"`   // Slack method, for refused calls
	Channel    string    `json:"channel,omitempty"`
	Team       string    `json:"team,omitempty"`
	Error      string    `json:"error"`  // short code: a Slack error name, no_workspace, malformed_event
	Reason     string    `json:"reason"` // for people
	At         time.Time `json:"at"`
	Record     []byte    `json:"record,omitempty"` // the undecodable record, for malformed_event
}

// deadLetter produces one dead letter and waits for the broker's ack. It
// fails only when ctx ends.
func (d *dispatcher) deadLetter(ctx context.Context, dl DeadLetter) error {
	n := d.n
	dl.Service = "notifier"
	dl.At = n.cfg.Now().UTC()
	v, err := json.Marshal(dl)
	if err != nil {
		return fmt.Errorf("notifier: encode dead letter: %w", err)
	}
	r := &kgo.Record{Topic: n.topics.DeadLetters, Key: []byte(dl.IncidentID), Value: v,
		Headers: []kgo.RecordHeader{{Key: "reason", Value: []byte(dl.Error)}, {Key: "service", Value: []byte("notifier")}}}
	if err := d.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("notifier: produce dead letter for incident %s: %w", dl.IncidentID, err)
	}
	label := dl.Error
	if label != "no_workspace" && label != "malformed_event" {
		label = errorCode(&SlackError{Code: dl.Error})
	}
	n.m.deadLetters.WithLabelValues(label).Inc()
	n.log.Warn("dead letter", "incident_id", dl.IncidentID, "event_id", dl.EventID, "error", dl.Error, "reason", dl.Reason)
	return nil
}
