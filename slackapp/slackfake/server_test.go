package slackfake_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/slackapp/slackfake"
)

var team = slackfake.Team{ID: "T1", Name: "acme", Token: "xoxb-good", BotUserID: "UBOT", BotID: "BBOT"}

func client(s *slackfake.Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(s.APIURL()))
}

func slackErr(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestAuth(t *testing.T) {
	s := slackfake.Start(t, slackfake.WithTeams(team))
	ctx := context.Background()
	res, err := client(s, "xoxb-good").AuthTestContext(ctx)
	if err != nil || res.TeamID != "T1" || res.UserID != "UBOT" {
		t.Fatalf("auth.test = %+v, %v", res, err)
	}
	if _, err := client(s, "xoxb-bad").AuthTestContext(ctx); slackErr(err) != "invalid_auth" {
		t.Fatalf("bad token: %v, want invalid_auth", err)
	}
	if _, _, err := client(s, "").PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false)); slackErr(err) != "not_authed" {
		t.Fatalf("no token: %v, want not_authed", err)
	}
}

func TestRequiredFields(t *testing.T) {
	s := slackfake.Start(t, slackfake.WithTeams(team), slackfake.WithMessageInterval(0))
	ctx := context.Background()
	c := client(s, team.Token)
	if _, _, err := c.PostMessageContext(ctx, "", slack.MsgOptionText("x", false)); slackErr(err) != "channel_not_found" {
		t.Errorf("no channel: %v", err)
	}
	if _, _, err := c.PostMessageContext(ctx, "C1"); slackErr(err) != "no_text" {
		t.Errorf("no text: %v", err)
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, "C1", "", slack.MsgOptionText("x", false)); slackErr(err) != "message_not_found" {
		t.Errorf("update without ts: %v", err)
	}
	if _, err := c.PostEphemeralContext(ctx, "C1", "", slack.MsgOptionText("x", false)); slackErr(err) != "user_not_in_channel" {
		t.Errorf("ephemeral without user: %v", err)
	}
	_, ts, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("first", false),
		slack.MsgOptionBlocks(slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "hi", false, false), nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	other := slackfake.Team{ID: "T2", Token: "xoxb-other"}
	s.AddTeam(other)
	if _, _, _, err := client(s, other.Token).UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("x", false)); slackErr(err) != "cant_update_message" {
		t.Errorf("update another team's message: %v", err)
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("second", false)); err != nil {
		t.Fatal(err)
	}
	m, ok := s.Message("C1", ts)
	if !ok || m.Text != "second" || m.Updates != 1 || m.Blocks != nil {
		t.Fatalf("message after update = %+v", m)
	}
	s.SetChannelError("C9", "not_in_channel")
	if _, _, err := c.PostMessageContext(ctx, "C9", slack.MsgOptionText("x", false)); slackErr(err) != "not_in_channel" {
		t.Errorf("channel error: %v", err)
	}
	if _, err := c.OpenViewContext(ctx, "trig", slack.ModalViewRequest{Type: slack.VTModal, Title: slack.NewTextBlockObject("plain_text", "T", false, false)}); err != nil {
		t.Errorf("views.open: %v", err)
	}
	v := s.CallsTo("views.open")
	if len(v) != 1 || v[0].Params.Get("trigger_id") != "trig" || !v[0].OK() {
		t.Errorf("views.open calls = %+v", v)
	}
	if _, err := c.OpenViewContext(ctx, "trig", slack.ModalViewRequest{Type: "home"}); slackErr(err) != "invalid_arguments" {
		t.Errorf("views.open of a non-modal: %v", err)
	}
}

func TestRateLimitAndFailures(t *testing.T) {
	s := slackfake.Start(t, slackfake.WithTeams(team), slackfake.WithMessageInterval(time.Second))
	ctx := context.Background()
	c := client(s, team.Token)
	if _, _, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("a", false)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("b", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("second message within a second: %v, want 429 Retry-After 1", err)
	}
	if _, _, err := c.PostMessageContext(ctx, "C2", slack.MsgOptionText("c", false)); err != nil {
		t.Fatalf("another channel is not limited: %v", err)
	}
	s.FailNext("chat.postMessage", 1, http.StatusServiceUnavailable)
	_, _, err = c.PostMessageContext(ctx, "C3", slack.MsgOptionText("d", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 503 {
		t.Fatalf("injected failure: %v", err)
	}
	if got := len(s.Messages("")); got != 2 {
		t.Fatalf("%d messages, want 2", got)
	}
	calls := s.Calls()
	if len(calls) != 4 || calls[1].Status != 429 || calls[3].Status != 503 {
		t.Fatalf("calls = %+v", calls)
	}
}

// TestReplies: conversations.replies finds a thread's parent and replies,
// the bot's and people's, and one message by its ts as ingress asks for
// it (oldest = latest = ts, inclusive, limit 1); never an ephemeral
// message or another team's.
func TestReplies(t *testing.T) {
	s := slackfake.Start(t, slackfake.WithTeams(team), slackfake.WithMessageInterval(0))
	ctx := context.Background()
	c := client(s, team.Token)
	_, parent, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("card", false))
	if err != nil {
		t.Fatal(err)
	}
	s.AddMessage(slackfake.Message{Team: "T1", Channel: "C1", TS: "1800000000.000100", ThreadTS: parent, From: "U0CAROL", Text: "error rate back to 0.1%"})
	if _, err := c.PostEphemeralContext(ctx, "C1", "U0CAROL", slack.MsgOptionText("only you", false), slack.MsgOptionTS(parent)); err != nil {
		t.Fatal(err)
	}
	msgs, _, _, err := c.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent})
	if err != nil || len(msgs) != 2 || msgs[0].Text != "card" || msgs[0].User != "UBOT" ||
		msgs[1].User != "U0CAROL" || msgs[1].ThreadTimestamp != parent || msgs[1].Text != "error rate back to 0.1%" {
		t.Fatalf("thread = %+v, %v", msgs, err)
	}
	const reply = "1800000000.000100"
	msgs, _, _, err = c.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: "C1", Timestamp: reply, Latest: reply, Oldest: reply, Inclusive: true, Limit: 1})
	if err != nil || len(msgs) != 1 || msgs[0].Timestamp != reply || msgs[0].User != "U0CAROL" {
		t.Fatalf("one reply by its ts = %+v, %v", msgs, err)
	}
	if _, _, _, err := c.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1800000000.999999"}); slackErr(err) != "thread_not_found" {
		t.Errorf("unknown ts: %v, want thread_not_found", err)
	}
	other := slackfake.Team{ID: "T2", Token: "xoxb-other"}
	s.AddTeam(other)
	if _, _, _, err := client(s, other.Token).GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: parent}); slackErr(err) != "thread_not_found" {
		t.Errorf("another team's thread: %v, want thread_not_found", err)
	}
}
