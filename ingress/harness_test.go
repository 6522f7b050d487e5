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
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
	h.kcfg = kafka.Config{Brokers: []string{k.Addr()}, Partitions: 3}
	h.kcfg.Defaults()
	ensureTopics(t, h.kcfg)

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

func ensureTopics(t testing.TB, cfg kafka.Config) {
	t.Helper()
	cl, err := kafka.NewClient(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.EnsureTopics(ctx, kadm.NewClient(cl), cfg); err != nil {
		t.Fatal(err)
	}
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
	recs := h.readTopic(h.kcfg.Topics().Commands, n)
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

// readTopic consumes topic from the start until n records arrived, then
// a little longer to catch extra ones.
func (h *harness) readTopic(topic string, n int) []*kgo.Record {
	h.t.Helper()
	cl, err := kafka.NewClient(h.kcfg, nil, kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		h.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(15 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	if len(out) < n {
		h.t.Fatalf("topic %s: %d records, want %d", topic, len(out), n)
	}
	// Anything beyond n that is already there shows up in one more poll.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	cancel()
	return out
}

// runProcessor applies the commands topic with the real model
// (incident.Decide) and produces the events, as the processor does, and
// feeds h.views with them after viewLag. It stops when the test ends.
func (h *harness) runProcessor(viewLag time.Duration) {
	t := h.t
	t.Helper()
	cl, err := kafka.NewClient(h.kcfg, nil, kgo.ConsumeTopics(h.kcfg.Topics().Commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond),
		kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	t.Cleanup(func() { cancel(); wg.Wait(); cl.Close() })
	// The view applies each batch viewLag after it was produced, in order.
	type batch struct {
		due time.Time
		evs []incident.Event
	}
	toViews := make(chan batch, 1024)
	go func() {
		defer wg.Done()
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
	go func() {
		defer wg.Done()
		states := map[string]incident.State{}
		seen := incident.Memory{}
		pol := incident.DefaultPolicy()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			var out []*kgo.Record
			var evs []incident.Event
			fs.EachRecord(func(r *kgo.Record) {
				c, err := wire.DecodeCommand(r.Value)
				if err != nil {
					return
				}
				d := seen.Decide(pol, states[c.Incident], c)
				for _, e := range d.Events {
					states[c.Incident] = incident.Evolve(states[c.Incident], e)
					b, _ := wire.EncodeEvent(e)
					out = append(out, &kgo.Record{Topic: h.kcfg.Topics().Events, Key: []byte(e.Incident), Value: b})
					evs = append(evs, e)
				}
			})
			if len(out) == 0 {
				continue
			}
			if err := cl.ProduceSync(ctx, out...).FirstErr(); err != nil {
				return
			}
			select {
			case toViews <- batch{time.Now().Add(viewLag), evs}:
			case <-ctx.Done():
				return
			}
		}
	}()
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

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
