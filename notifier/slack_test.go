package notifier_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// TestSlackSenderErrors: how the Slack sender classes what Slack answers.
func TestSlackSenderErrors(t *testing.T) {
	st, ws := teams()
	fake := slackfake.Start(t, slackfake.WithTeams(st...), slackfake.WithMessageInterval(time.Second))
	s := notifier.NewSlackSender(fake.APIURL(), 5*time.Second)
	ctx := context.Background()
	call := notifier.Call{Method: notifier.MethodPostMessage, Workspace: ws[0], Channel: "C1", Text: "hi"}

	ts, _, err := s.Send(ctx, call)
	if err != nil || ts == "" {
		t.Fatalf("post = %q, %v", ts, err)
	}
	_, retryable, err := s.Send(ctx, call)
	var ra *notifier.RetryAfterError
	if !retryable || !errors.As(err, &ra) || ra.After != time.Second {
		t.Fatalf("second post within a second = %v (retryable %v), want retry after 1s", err, retryable)
	}

	up := notifier.Call{Method: notifier.MethodUpdate, Workspace: ws[0], Channel: "C2", TS: "1.2", Text: "x"}
	_, retryable, err = s.Send(ctx, up)
	var se *notifier.SlackError
	if retryable || !errors.As(err, &se) || se.Code != "message_not_found" {
		t.Fatalf("update of a missing message = %v (retryable %v)", err, retryable)
	}

	bad := call
	bad.Channel, bad.Workspace.BotToken = "C3", "xoxb-revoked"
	bad.Workspace.TeamID = "T-bad"
	if _, retryable, err = s.Send(ctx, bad); retryable || !errors.As(err, &se) || se.Code != "invalid_auth" {
		t.Fatalf("bad token = %v (retryable %v)", err, retryable)
	}

	fake.FailNext(notifier.MethodPostEphemeral, 1, http.StatusBadGateway)
	eph := notifier.Call{Method: notifier.MethodPostEphemeral, Workspace: ws[0], Channel: "C4", User: "U1", Text: "no"}
	if _, retryable, err = s.Send(ctx, eph); !retryable || err == nil {
		t.Fatalf("502 = %v (retryable %v), want retryable", err, retryable)
	}
	if _, _, err = s.Send(ctx, eph); err != nil {
		t.Fatalf("ephemeral after the 502: %v", err)
	}
}

// TestRetryAfterHonoured: a notifier pacing faster than Slack allows gets
// 429s and waits Retry-After before the channel's next call; nothing is
// lost.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	r := newRig(t, time.Second)
	cfg := r.config(t.TempDir())
	cfg.ChannelInterval = time.Millisecond // too fast on purpose
	r.startNotifier(cfg)
	r.send(storm(5, 6, "r")...)
	testenv.Eventually(t, 30*time.Second, "convergence", func() string {
		dups, p := check(r, 5)
		if p == "" && dups != 0 {
			t.Fatalf("%d duplicates", dups)
		}
		return p
	})
	limitedAt := map[string]time.Time{}
	n429 := 0
	for _, c := range r.fake.Calls() {
		if c.Method != notifier.MethodPostMessage && c.Method != notifier.MethodUpdate {
			continue
		}
		ch := c.Params.Get("channel")
		if at, ok := limitedAt[ch]; ok {
			if gap := c.At.Sub(at); gap < time.Second-50*time.Millisecond {
				t.Errorf("channel %s called %s after a 429 with Retry-After: 1", ch, gap)
			}
			delete(limitedAt, ch)
		}
		if c.Status == http.StatusTooManyRequests {
			n429++
			limitedAt[ch] = c.At
		}
	}
	if n429 == 0 {
		t.Fatal("no 429s: the test did not exercise Retry-After")
	}
}
