package ingress

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestRateLimits: past a token's burst its requests are 429 rate_limited
// with Retry-After (and another token is not held up), until the bucket
// refills; a workspace's Slack requests likewise; wrong tokens and bad
// Slack signatures from one address are 401 until its failure burst is
// spent, then 429, while a valid token from the same address still works.
// The server's clock is the test's, so refilling needs no sleep.
func TestRateLimits(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	h := startHarness(t, withConfig(func(c *Config) {
		c.Now = clock
		c.RateLimits = RateLimits{TokenRate: 1, TokenBurst: 3, WorkspaceRate: 0.5, WorkspaceBurst: 2, AuthFailureRate: 0.2, AuthFailureBurst: 2}
	}))
	limited := func(r response, wantRetry int) {
		t.Helper()
		wantStatus(t, r, http.StatusTooManyRequests)
		if p := r.problem(t); p.Code != CodeRateLimited || p.Detail == "" {
			t.Fatalf("problem %s", r.body)
		}
		if got, _ := strconv.Atoi(r.Header.Get("Retry-After")); got != wantRetry {
			t.Fatalf("Retry-After %q, want %d", r.Header.Get("Retry-After"), wantRetry)
		}
	}

	for range 3 {
		wantStatus(t, h.get("/api/v1/policy", acmeToken), http.StatusOK)
	}
	limited(h.get("/api/v1/policy", acmeToken), 1)
	limited(h.post("/api/v1/incidents", acmeToken, `{"title":"over the limit"}`), 1)
	wantStatus(t, h.get("/api/v1/policy", globexToken), http.StatusOK)
	advance(time.Second)
	wantStatus(t, h.get("/api/v1/policy", acmeToken), http.StatusOK)
	limited(h.get("/api/v1/policy", acmeToken), 1)

	help := slashForm(teamID, channelID, "U0ALICE", "/incident", "help", "trig-rl")
	for range 2 {
		wantStatus(t, h.slackPost("/slack/commands", form, help), http.StatusOK)
	}
	limited(h.slackPost("/slack/commands", form, help), 2)
	advance(2 * time.Second)
	wantStatus(t, h.slackPost("/slack/commands", form, help), http.StatusOK)

	wantStatus(t, h.get("/api/v1/policy", "wrong-token"), http.StatusUnauthorized)
	r := h.do(http.MethodPost, "/slack/commands", "", help, "Content-Type", form,
		"X-Slack-Request-Timestamp", strconv.FormatInt(time.Now().Unix(), 10), "X-Slack-Signature", "v0=forged")
	wantStatus(t, r, http.StatusUnauthorized)
	limited(h.get("/api/v1/policy", "wrong-token"), 5)
	limited(h.get("/api/v1/policy", ""), 5)
	wantStatus(t, h.get("/api/v1/policy", globexToken), http.StatusOK)
}
