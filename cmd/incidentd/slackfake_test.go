package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/slackapp"
)

// TestSlackFakeServesSeededMessages starts "incidentd slackfake" with a
// team and a seeded thread reply: the URL it prints is a Slack Web API
// that answers conversations.replies with that message for the team's
// token, refuses another token, and the command stops when cancelled.
func TestSlackFakeServesSeededMessages(t *testing.T) {
	dir := t.TempDir()
	seed := filepath.Join(dir, "messages.json")
	if err := os.WriteFile(seed, []byte(`[{"team":"T1","channel":"C1","ts":"1764300100.000200","thread_ts":"1764300000.000100","user":"U0CAROL","text":"db failed over"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"slackfake", "-data-dir=" + dir, "-slackfake.teams=T1:xoxb-one", "-slackfake.messages=" + seed}, &out, &out)
	}()
	var url string
	poll(t, 10*time.Second, "slackfake to print its URL", func() bool {
		line, _, ok := strings.Cut(out.String(), "\n")
		url = line
		return ok
	})
	if !strings.HasPrefix(url, "http://127.0.0.1:") || !strings.HasSuffix(url, "/api/") {
		t.Fatalf("first line %q is not a loopback API URL", url)
	}
	msgs, _, _, err := slack.New("xoxb-one", slack.OptionAPIURL(url)).GetConversationReplies(
		&slack.GetConversationRepliesParameters{ChannelID: "C1", Timestamp: "1764300100.000200"})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].User != "U0CAROL" || msgs[0].Text != "db failed over" || msgs[0].ThreadTimestamp != "1764300000.000100" {
		t.Fatalf("replies = %+v, want the seeded message", msgs)
	}
	if _, err := slack.New("xoxb-other", slack.OptionAPIURL(url)).AuthTest(); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("another token: err %v, want invalid_auth", err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("slackfake did not stop within 10s of cancel")
	}
}

// TestSlackSignVerifies signs a body with "incidentd slack-sign": the
// timestamp and signature it prints pass slackapp.Verify for that body and
// secret, and fail it for another body.
func TestSlackSignVerifies(t *testing.T) {
	body := `{"type":"event_callback","team_id":"T1"}`
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = stdin; r.Close() }()
	go func() { _, _ = w.WriteString(body); _ = w.Close() }() // a short write shows as a signature that does not verify
	var out syncBuffer
	if code := run(context.Background(), []string{"slack-sign", "-data-dir=" + t.TempDir(), "-slack-sign.secret=s3cret"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q, want timestamp and signature", out.String())
	}
	if _, err := strconv.ParseInt(lines[0], 10, 64); err != nil {
		t.Fatalf("timestamp %q: %v", lines[0], err)
	}
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", lines[0])
	h.Set("X-Slack-Signature", lines[1])
	if err := slackapp.Verify(h, []byte(body), "s3cret"); err != nil {
		t.Fatalf("signature does not verify: %v", err)
	}
	if err := slackapp.Verify(h, []byte(body+" "), "s3cret"); err == nil {
		t.Fatal("signature verifies another body")
	}
}
