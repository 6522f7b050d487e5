package notifier

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/slackapp"
)

// SlackSender sends calls to the Slack Web API with each workspace's bot
// token. It does not retry: the dispatcher paces and retries, so one place
// knows each channel's budget.
type SlackSender struct {
	clients *slackapp.Clients
}

// NewSlackSender returns a sender for the Web API at apiURL (empty means
// slack.com; tests give a slackfake server's APIURL()).
func NewSlackSender(apiURL string, timeout time.Duration) *SlackSender {
	return &SlackSender{clients: slackapp.NewClients(apiURL, timeout)}
}

// Send implements Sender.
func (s *SlackSender) Send(ctx context.Context, c Call) (string, bool, error) {
	api := s.clients.For(c.Workspace)
	opts := []slack.MsgOption{slack.MsgOptionText(c.Text, false)}
	if len(c.Blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(c.Blocks...))
	}
	if c.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(c.ThreadTS))
	}
	if c.Method == MethodPostMessage && c.Post.Kind != "" {
		opts = append(opts, slack.MsgOptionMetadata(postMetadata(c)))
	}
	var ts string
	var err error
	switch c.Method {
	case MethodPostMessage:
		_, ts, err = api.PostMessageContext(ctx, c.Channel, opts...)
	case MethodUpdate:
		_, ts, _, err = api.UpdateMessageContext(ctx, c.Channel, c.TS, opts...)
	case MethodPostEphemeral:
		ts, err = api.PostEphemeralContext(ctx, c.Channel, c.User, opts...)
	default:
		return "", false, fmt.Errorf("notifier: send: unknown method %q", c.Method)
	}
	if err == nil {
		return ts, false, nil
	}
	retryable, err := classify(c.Method, err)
	return "", retryable, err
}

// classify maps slack-go's errors to retryable or permanent.
func classify(method string, err error) (bool, error) {
	var rl *slack.RateLimitedError
	var se slack.SlackErrorResponse
	var sc slack.StatusCodeError
	switch {
	case errors.As(err, &rl):
		after := rl.RetryAfter
		if after <= 0 {
			after = time.Second
		}
		return true, &RetryAfterError{After: after}
	case errors.As(err, &se):
		if se.Err == "ratelimited" {
			return true, &RetryAfterError{After: time.Second}
		}
		return slices.Contains(retryableCodes, se.Err), &SlackError{Method: method, Code: se.Err}
	case errors.As(err, &sc):
		if sc.Code == http.StatusTooManyRequests {
			return true, &RetryAfterError{After: time.Second}
		}
		if sc.Code >= 500 {
			return true, fmt.Errorf("notifier: slack %s: http %d", method, sc.Code)
		}
		return false, &SlackError{Method: method, Code: fmt.Sprintf("http_%d", sc.Code)}
	}
	// Network errors, timeouts, a body that is not JSON: try again.
	return true, fmt.Errorf("notifier: slack %s: %w", method, err)
}

// metadataType is the event_type of the metadata on every message the
// notifier posts: {"incident": id, "kind": Post.Kind, "events": [...]}.
const metadataType = "incidentd_message"

func postMetadata(c Call) slack.SlackMetadata {
	events := make([]any, len(c.Post.Events))
	for i, e := range c.Post.Events {
		events[i] = e
	}
	return slack.SlackMetadata{EventType: metadataType,
		EventPayload: map[string]any{"incident": c.IncidentID, "kind": c.Post.Kind, "events": events}}
}

// findPages bounds the pages of a thread Find reads, and findLatest the
// latest messages of a channel it looks at: the lost post was made one
// backoff (MaxBackoff at most) ago, and a channel gets about a message a
// second.
const (
	findPages  = 10
	findLatest = 200
)

// Find implements Finder with conversations.replies (a thread, oldest
// first: the last match wins) or conversations.history (the channel's
// latest messages, newest first: the first match wins).
func (s *SlackSender) Find(ctx context.Context, c Call) (string, []string, bool, bool, error) {
	api := s.clients.For(c.Workspace)
	if c.ThreadTS == "" {
		h, err := api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: c.Channel, Limit: findLatest, IncludeAllMetadata: true})
		if err != nil {
			retryable, err := classify("conversations.history", err)
			return "", nil, false, retryable, err
		}
		for _, m := range h.Messages {
			if events, ok := posted(m.Metadata, c); ok {
				return m.Timestamp, events, true, false, nil
			}
		}
		return "", nil, false, false, nil
	}
	var ts string
	var events []string
	cursor := ""
	for range findPages {
		msgs, more, next, err := api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: c.Channel, Timestamp: c.ThreadTS, Cursor: cursor, Limit: 200, IncludeAllMetadata: true})
		if err != nil {
			retryable, err := classify("conversations.replies", err)
			return "", nil, false, retryable, err
		}
		for _, m := range msgs {
			if e, ok := posted(m.Metadata, c); ok {
				ts, events = m.Timestamp, e
			}
		}
		if !more || next == "" {
			break
		}
		cursor = next
	}
	return ts, events, ts != "", false, nil
}

// posted reports whether metadata is that of a message c's post made,
// and returns the events it tells of.
func posted(md slack.SlackMetadata, c Call) ([]string, bool) {
	p := md.EventPayload
	if md.EventType != metadataType || p["incident"] != c.IncidentID || p["kind"] != c.Post.Kind {
		return nil, false
	}
	raw, _ := p["events"].([]any)
	events := make([]string, 0, len(raw))
	for _, e := range raw {
		if s, ok := e.(string); ok {
			events = append(events, s)
		}
	}
	if c.Post.Kind == PostTimeline && (len(events) == 0 || len(c.Post.Events) == 0 || events[0] != c.Post.Events[0]) {
		return nil, false
	}
	return events, true
}
