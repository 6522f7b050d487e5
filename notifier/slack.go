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
