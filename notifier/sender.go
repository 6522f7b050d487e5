package notifier

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/slackapp"
)

// The Slack Web API methods the notifier calls.
const (
	MethodPostMessage   = "chat.postMessage"
	MethodUpdate        = "chat.update"
	MethodPostEphemeral = "chat.postEphemeral"
)

// Call is one message the notifier wants Slack to show.
type Call struct {
	Method     string             // MethodPostMessage, MethodUpdate or MethodPostEphemeral
	Workspace  slackapp.Workspace // whose bot token to use; zero in outbox mode
	Channel    string
	TS         string // chat.update: the message to edit
	ThreadTS   string // post in this thread
	User       string // chat.postEphemeral: who sees it
	IncidentID string
	// Tenant names whose message it is when IncidentID does not (ingress's
	// replies outside an incident), so the outbox shows it to that tenant.
	Tenant string
	Text   string
	Blocks []slack.Block
	// Post names what a chat.postMessage of an incident shows, so that
	// the message can be found again (Finder); zero for other calls.
	Post Post
}

// Post is what a posted message shows of its incident: its card, or
// timeline lines (the events they tell of, oldest first). Every message
// the notifier posts carries it as Slack message metadata.
type Post struct {
	Kind   string   // PostCard or PostTimeline
	Events []string // the events a timeline reply tells of
}

// The kinds of Post.
const (
	PostCard     = "card"
	PostTimeline = "timeline"
)

// Finder is a Sender that can look for a message it posted, by the Post
// its metadata carries. A chat.postMessage whose answer was lost (a
// timeout, a 5xx) may have been made: the dispatcher asks Find before
// posting it again, so that people see it once.
type Finder interface {
	// Find looks in c's thread (c.ThreadTS), or among the latest
	// messages of c's channel, for a message c.IncidentID's c.Post.Kind
	// posted there: for a timeline reply, one whose events start with
	// c.Post.Events[0]. It returns its ts and the events it tells of;
	// found is false if there is none. retryable is as for Send.
	Find(ctx context.Context, c Call) (ts string, events []string, found, retryable bool, err error)
}

// Sender delivers calls: to Slack (SlackSender) or to the local outbox
// (Outbox). It is declared here, by its consumer.
type Sender interface {
	// Send makes one call and returns the ts of the message it posted or
	// edited. On failure retryable says whether the same call can succeed
	// later (rate limits, 5xx, network); a *RetryAfterError in err says
	// when. A permanent failure (retryable false) is a *SlackError.
	Send(ctx context.Context, c Call) (ts string, retryable bool, err error)
}

// RetryAfterError is a rate limit: try again after After.
type RetryAfterError struct {
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("notifier: rate limited, retry after %s", e.After)
}

// SlackError is an error Slack answered with ok:false.
type SlackError struct {
	Method string
	Code   string // Slack's error name: channel_not_found, invalid_auth, ...
}

func (e *SlackError) Error() string {
	return fmt.Sprintf("notifier: slack %s: %s", e.Method, e.Code)
}

// retryableCodes are ok:false answers that can succeed later.
var retryableCodes = []string{"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}

// knownCodes are the error names metrics label with; others are "other",
// so labels stay bounded.
var knownCodes = []string{
	"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "account_inactive",
	"token_revoked", "token_expired", "missing_scope", "no_text", "invalid_blocks", "msg_too_long",
	"message_not_found", "cant_update_message", "edit_window_closed", "user_not_in_channel",
	"restricted_action", "no_workspace", "malformed_event", "ratelimited", "internal_error",
}

// slackCode is Slack's error name in err, or errorCode's class.
func slackCode(err error) string {
	var se *SlackError
	if errors.As(err, &se) {
		return se.Code
	}
	return errorCode(err)
}

// errorCode is err's bounded metric label.
func errorCode(err error) string {
	var se *SlackError
	if errors.As(err, &se) {
		if slices.Contains(knownCodes, se.Code) {
			return se.Code
		}
		return "other"
	}
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return "ratelimited"
	}
	return "transport"
}
