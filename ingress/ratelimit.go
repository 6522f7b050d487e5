package ingress

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/incidentd/incidentd/slackapp"
)

// Defaults of RateLimits. They stop a runaway client or a token-guessing
// loop, not ordinary use: a token's default is above what the benchmarks
// send from one token (2,000 requests per second paced, about 10,000 per
// second serially in process); set it lower for the clients you know.
const (
	DefaultTokenRate        = 10_000 // requests per second of one API token
	DefaultTokenBurst       = 20_000
	DefaultWorkspaceRate    = 100 // Slack requests per second of one workspace
	DefaultWorkspaceBurst   = 1000
	DefaultAuthFailureRate  = 5 // failed authentications per second from one source address
	DefaultAuthFailureBurst = 50
	DefaultRateLimitKeys    = 100_000 // limiters kept per kind, least recently used forgotten
)

// RateLimits bounds requests per API token, per Slack workspace, and failed
// authentications (a wrong API token, a bad Slack signature) per source
// address. Each is a token bucket (golang.org/x/time/rate): Rate per second,
// Burst at once. A request over a limit is answered 429 rate_limited with
// Retry-After.
type RateLimits struct {
	TokenRate        float64
	TokenBurst       int
	WorkspaceRate    float64
	WorkspaceBurst   int
	AuthFailureRate  float64
	AuthFailureBurst int
	// Keys bounds the limiters kept per kind (tokens, workspaces, source
	// addresses); the least recently used is forgotten, and starts full
	// when seen again.
	Keys int
}

// RateLimitFlags binds r's fields to flags on fs, with the defaults.
func RateLimitFlags(fs *flag.FlagSet, r *RateLimits) {
	fs.Float64Var(&r.TokenRate, "ingress.rate-token", DefaultTokenRate, "requests per second one API token may send (429 beyond)")
	fs.IntVar(&r.TokenBurst, "ingress.rate-token-burst", DefaultTokenBurst, "requests one API token may send at once")
	fs.Float64Var(&r.WorkspaceRate, "ingress.rate-workspace", DefaultWorkspaceRate, "Slack requests per second one workspace may send (429 beyond)")
	fs.IntVar(&r.WorkspaceBurst, "ingress.rate-workspace-burst", DefaultWorkspaceBurst, "Slack requests one workspace may send at once")
	fs.Float64Var(&r.AuthFailureRate, "ingress.rate-auth-failures", DefaultAuthFailureRate, "failed authentications (wrong API token, bad Slack signature) per second from one source address (429 beyond)")
	fs.IntVar(&r.AuthFailureBurst, "ingress.rate-auth-failure-burst", DefaultAuthFailureBurst, "failed authentications one source address may make at once")
	fs.IntVar(&r.Keys, "ingress.rate-keys", DefaultRateLimitKeys, "rate limiters kept per kind (tokens, workspaces, source addresses), least recently used forgotten")
}

func (r *RateLimits) defaults() {
	if r.TokenRate == 0 {
		r.TokenRate = DefaultTokenRate
	}
	if r.TokenBurst == 0 {
		r.TokenBurst = DefaultTokenBurst
	}
	if r.WorkspaceRate == 0 {
		r.WorkspaceRate = DefaultWorkspaceRate
	}
	if r.WorkspaceBurst == 0 {
		r.WorkspaceBurst = DefaultWorkspaceBurst
	}
	if r.AuthFailureRate == 0 {
		r.AuthFailureRate = DefaultAuthFailureRate
	}
	if r.AuthFailureBurst == 0 {
		r.AuthFailureBurst = DefaultAuthFailureBurst
	}
	if r.Keys == 0 {
		r.Keys = DefaultRateLimitKeys
	}
}

func (r RateLimits) validate() error {
	for name, v := range map[string]float64{
		"token rate": r.TokenRate, "workspace rate": r.WorkspaceRate, "auth failure rate": r.AuthFailureRate,
		"token burst": float64(r.TokenBurst), "workspace burst": float64(r.WorkspaceBurst),
		"auth failure burst": float64(r.AuthFailureBurst), "rate limit keys": float64(r.Keys),
	} {
		if !(v > 0) {
			return fmt.Errorf("ingress: %s %v, want > 0", name, v)
		}
	}
	return nil
}

// limiters is one token bucket per key (a token name, a team id, a source
// address), at most max of them.
type limiters struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu   sync.Mutex
	byID *lru[string, *rate.Limiter]
}

func newLimiters(perSecond float64, burst, max int, now func() time.Time) *limiters {
	return &limiters{limit: rate.Limit(perSecond), burst: burst, now: now, byID: newLRU[string, *rate.Limiter](max)}
}

// take spends one request of key's bucket. If the bucket is empty it
// spends nothing and returns how long until it has one.
func (l *limiters) take(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	lim, found := l.byID.get(key)
	if !found {
		lim = rate.NewLimiter(l.limit, l.burst)
	}
	l.byID.put(key, lim) // most recently used
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sourceAddr is the request's peer address without the port. A proxy in
// front of ingress makes it the proxy's: headers such as X-Forwarded-For
// are the client's to forge, so they are not read.
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeRateLimited answers 429 with Retry-After.
func writeRateLimited(w http.ResponseWriter, retryAfter time.Duration, detail string) {
	setRetryAfter(w, retryAfter)
	writeProblem(w, http.StatusTooManyRequests, CodeRateLimited, detail)
}

// authFailed counts a failed authentication against the request's source
// address. Over the limit it answers 429 and returns false; otherwise the
// caller answers the failure itself.
func (s *Server) authFailed(w http.ResponseWriter, r *http.Request) bool {
	ok, after := s.authFailures.take(sourceAddr(r))
	if !ok {
		s.log.Warn("failed authentications over the rate limit", "source", sourceAddr(r), "route", r.URL.Path)
		writeRateLimited(w, after, "too many failed authentications from this address")
	}
	return ok
}

// workspaceAllowed spends one request of a Slack workspace's limit. Over
// it, it answers 429 and returns false.
func (s *Server) workspaceAllowed(w http.ResponseWriter, ws slackapp.Workspace) bool {
	ok, after := s.workspaceLimits.take(ws.TeamID)
	if !ok {
		writeRateLimited(w, after, "this Slack workspace sent more requests than its rate limit allows")
	}
	return ok
}
