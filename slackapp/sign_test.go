package slackapp_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/incidentd/incidentd/slackapp"
)

// TestSignVerify: a request signed as Slack signs passes Verify, which
// is slack-go's verifier; a changed body, another secret or a timestamp
// more than 5 minutes away does not.
func TestSignVerify(t *testing.T) {
	body := "token=x&team_id=T1&command=%2Ffire&text=db+down"
	sign := func(at time.Time) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://ingress/slack/commands", strings.NewReader(body))
		if err := slackapp.Sign(req, "s3cret", at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	req := sign(time.Now())
	got, _ := io.ReadAll(req.Body)
	if string(got) != body {
		t.Fatalf("body after Sign = %q", got)
	}
	if err := slackapp.Verify(req.Header, []byte(body), "s3cret"); err != nil {
		t.Fatalf("Verify refuses a signed request: %v", err)
	}
	if err := slackapp.Verify(req.Header, []byte(body+"x"), "s3cret"); err == nil {
		t.Fatal("Verify accepts a changed body")
	}
	if err := slackapp.Verify(req.Header, []byte(body), "other"); err == nil {
		t.Fatal("Verify accepts another secret's signature")
	}
	for _, at := range []time.Time{time.Now().Add(-6 * time.Minute), time.Now().Add(6 * time.Minute)} {
		old := sign(at)
		if err := slackapp.Verify(old.Header, []byte(body), "s3cret"); !errors.Is(err, slack.ErrExpiredTimestamp) {
			t.Fatalf("timestamp %v away: %v, want ErrExpiredTimestamp", time.Until(at).Round(time.Minute), err)
		}
	}
	if err := slackapp.Verify(http.Header{}, []byte(body), "s3cret"); err == nil {
		t.Fatal("Verify accepts a request without signature headers")
	}
}
