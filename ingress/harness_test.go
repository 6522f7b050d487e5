package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/internal/testenv"
	"github.com/incidentd/incidentd/internal/wire"
	"github.com/incidentd/incidentd/readmodel"
	"github.com/incidentd/incidentd/slackapp"
	"github.com/incidentd/incidentd/slackapp/slackfake"
)

// Test fixtures: two tenants with one API token each, one Slack workspace.
const (
	acmeToken     = "acme-secret-token"
	globexToken   = "globex-secret-token"
	signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	teamID        = "T0ACME"
	botToken      = "xoxb-acme-bot"
	channelID     = "C0INCIDENT"
)

// harness is one ingress server on loopback against a kfake broker over
// TCP, with a fake Slack Web API.
type harness struct {
	t     testing.TB
	kafka *testenv.Kafka
	kcfg  kafka.Config
	srv   *Server
	base  string
	slack *slackfake.Server
	views *memViews
	reg   *prometheus.Registry
}

type harnessOpt func(*harness, *Config)

func withoutViews() harnessOpt { return func(h *harness, _ *Config) { h.views = nil } }

func withConfig(f func(*Config)) harnessOpt { return func(_ *harness, c *Config) { f(c) } }

// withoutRateLimits lifts the rate limits out of reach, for the fuzz
// targets, which send thousands of requests a second for as long as they
// run.
func withoutRateLimits() harnessOpt {
	return withConfig(func(c *Config) {
		c.RateLimits = RateLimits{TokenRate: 1e9, TokenBurst: 1 << 30, WorkspaceRate: 1e9, WorkspaceBurst: 1 << 30,
			AuthFailureRate: 1e9, AuthFailureBurst: 1 << 30}
	})
}

func quietLogger(t testing.TB) *slog.Logger {
	if os.Getenv("INGRESS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func startHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	return startHarnessOn(t, testenv.StartKafka(t), opts...)
}

func startHarnessOn(t testing.TB, k *testenv.Kafka, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, kafka: k, views: newMemViews(), reg: prometheus.NewRegistry()}
	h.kcfg = testenv.CreateTopics(t, kafka.Config{Brokers: []string{k.Addr()}, Partitions: 3})

	h.slack = slackfake.Start(t, slackfake.WithMessageInterval(0),
		slackfake.WithTeams(slackfake.Team{ID: teamID, Name: "acme", Token: botToken, BotUserID: "UBOT", BotID: "BBOT"}))

	cfg := Config{
		Addr:  "127.0.0.1:0",
		Kafka: h.kcfg,
		Tokens: []Token{
			{Name: "acme-ci", Tenant: "acme", SHA256: HashToken(acmeToken)},
			{Name: "globex-ci", Tenant: "globex", SHA256: HashToken(globexToken)},
		},
		Workspaces:         []slackapp.Workspace{{TeamID: teamID, Tenant: "acme", BotToken: botToken, IncidentsChannel: channelID}},
		SlackSigningSecret: signingSecret,
		SlackAPIURL:        h.slack.APIURL(),
		MaxReadWait:        2 * time.Second,
	}
	for _, o := range opts {
		o(h, &cfg)
	}
	var views Views
	if h.views != nil {
		views = h.views
	}
	srv, err := New(cfg, quietLogger(t), h.reg, views)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("ingress stopped with %v, want its context's cancellation", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("ingress did not stop within 20s")
		}
	})
	return h
}

// response is an HTTP answer, body read.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t testing.TB, into any) {
	t.Helper()
	if err := json.Unmarshal(r.body, into); err != nil {
		t.Fatalf("decode %s body %q: %v", r.Request.URL.Path, r.body, err)
	}
}

func (r response) problem(t testing.TB) Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s %s: content type %q, want application/problem+json (body %s)", r.Request.Method, r.Request.URL, ct, r.body)
	}
	var p Problem
	r.json(t, &p)
	if p.Status != r.StatusCode || p.Code == "" || p.Type != problemType(p.Code) {
		t.Fatalf("problem %+v does not match status %d", p, r.StatusCode)
	}
	return p
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

func (h *harness) do(method, path, token string, body []byte, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.base+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	checkOpenAPI(h.t, req, body, resp, b)
	return response{resp, b}
}

func (h *harness) post(path, token, body string, hdr ...string) response {
	h.t.Helper()
	return h.do(http.MethodPost, path, token, []byte(body), hdr...)
}

func (h *harness) get(path, token string) response {
	h.t.Helper()
	return h.do(http.MethodGet, path, token, nil)
}

func wantStatus(t testing.TB, r response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL, r.StatusCode, want, r.body)
	}
}

// commands reads the commands topic from the start until it holds n
// records (or fails after a deadline), checks every record's key is its
// command's incident id, and returns them in the order they were accepted.
func (h *harness) commands(n int) []incident.Command {
	h.t.Helper()
	recs := testenv.ReadTopicN(h.t, h.kcfg, h.kcfg.Topics().Commands, n)
	var out []incident.Command
	for _, r := range recs {
		c, err := wire.DecodeCommand(r.Value)
		if err != nil {
			h.t.Fatalf("commands topic offset %d: %v", r.Offset, err)
		}
		if string(r.Key) != c.Incident {
			h.t.Fatalf("record key %q, command incident %q", r.Key, c.Incident)
		}
		out = append(out, c)
	}
	// Partitions interleave arbitrarily; the tests send one request at a
	// time, so the edge's time is the order they were sent in.
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// runProcessor runs the kit's stand-in processor (the real model,
// incident.Decide, producing the events) and feeds h.views with its events
// viewLag after they were produced, in order. It stops when the test ends.
func (h *harness) runProcessor(viewLag time.Duration) {
	t := h.t
	t.Helper()
	type batch struct {
		due time.Time
		evs []incident.Event
	}
	toViews := make(chan batch, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-toViews:
				if d := time.Until(b.due); d > 0 {
					timer := time.NewTimer(d)
					select {
					case <-ctx.Done():
						timer.Stop()
						return
					case <-timer.C:
					}
				}
				if h.views != nil {
					h.views.apply(b.evs...)
				}
			}
		}
	}()
	testenv.StartStandInProcessor(t, h.kcfg, func(evs []incident.Event) {
		select {
		case toViews <- batch{time.Now().Add(viewLag), evs}:
		case <-ctx.Done():
		}
	})
}

// memViews is an in-memory Views over the events the test processor
// produced: the same contract as readmodel.Queries (tenant mandatory,
// another tenant's incident is not found).
type memViews struct {
	mu        sync.Mutex
	timelines map[string]*readmodel.Timeline
	fail      error
}

func newMemViews() *memViews { return &memViews{timelines: map[string]*readmodel.Timeline{}} }

func (v *memViews) apply(evs ...incident.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range evs {
		tl := v.timelines[e.Incident]
		if tl == nil {
			tl = &readmodel.Timeline{}
			v.timelines[e.Incident] = tl
		}
		if incident.Sequence(tl.Incident.Version, e) != incident.InOrder {
			continue
		}
		tl.Incident = incident.Evolve(tl.Incident, e)
		tl.Events = append(tl.Events, e)
	}
}

func (v *memViews) lookup(tenant, id string) (readmodel.Timeline, error) {
	if v.fail != nil {
		return readmodel.Timeline{}, v.fail
	}
	tl, ok := v.timelines[id]
	if !ok || !tl.Incident.Declared || tl.Incident.Tenant != tenant {
		return readmodel.Timeline{}, fmt.Errorf("mem views: %s: %w", id, ErrNotFound)
	}
	return *tl, nil
}

func (v *memViews) List(ctx context.Context, tenant string, q readmodel.ListQuery) (readmodel.ListPage, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fail != nil {
		return readmodel.ListPage{}, v.fail
	}
	var p readmodel.ListPage
	for _, tl := range v.timelines {
		if tl.Incident.Declared && tl.Incident.Tenant == tenant {
			p.Incidents = append(p.Incidents, tl.Incident)
		}
	}
	return p, nil
}

func (v *memViews) Get(ctx context.Context, tenant, id string) (readmodel.Timeline, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lookup(tenant, id)
}

func (v *memViews) Version(ctx context.Context, tenant, id string) (uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	tl, err := v.lookup(tenant, id)
	if err != nil {
		if v.fail != nil {
			return 0, err
		}
		return 0, nil
	}
	return tl.Incident.Version, nil
}

func (v *memViews) Analytics(ctx context.Context, tenant string, q readmodel.AnalyticsQuery) (readmodel.Analytics, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.fail != nil {
		return readmodel.Analytics{}, v.fail
	}
	a := readmodel.Analytics{OpenNowBySeverity: map[string]int{}}
	for _, tl := range v.timelines {
		s := tl.Incident
		if s.Tenant == tenant && s.Declared && s.Status != incident.StatusResolved {
			a.OpenNow++
			a.OpenNowBySeverity[s.Severity]++
		}
	}
	return a, nil
}

// slackSign returns Slack's signature headers for body at time ts.
func slackSign(secret string, ts time.Time, body []byte) (string, string) {
	return strconv.FormatInt(ts.Unix(), 10), slackapp.Signature(secret, ts, body)
}

// slack posts a Slack request signed with the right secret, now.
func (h *harness) slackPost(path, contentType string, body []byte, hdr ...string) response {
	h.t.Helper()
	stamp, sig := slackSign(signingSecret, time.Now(), body)
	all := append([]string{"Content-Type", contentType, "X-Slack-Request-Timestamp", stamp, "X-Slack-Signature", sig}, hdr...)
	return h.do(http.MethodPost, path, "", body, all...)
}
