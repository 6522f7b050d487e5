package ingress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/ingress/web"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp"
)

// Server is the ingress HTTP server. Build it with New, run it with Run
// (or Serve on a listener of the caller's).
type Server struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	reg      *prometheus.Registry
	topics   kafka.Topics
	producer *kgo.Client
	// sends tells submit whether a record the producer holds may have
	// been sent (a hook of producer's).
	sends    *sendLedger
	consumer *kgo.Client
	tracker  *tracker
	views    Views
	notFound notFoundFunc

	// Rate limits: per API token name, per Slack team id, and failed
	// authentications per source address.
	tokenLimits, workspaceLimits, authFailures *limiters

	workspaces map[string]slackapp.Workspace // by team id
	slack      *slackapp.Clients             // their Web API clients
	router     *mux.Router

	outboxMu sync.Mutex
	outbox   *notifier.Outbox // replies of workspaces without a bot token; opened on first use

	bg     sync.WaitGroup // best-effort Slack replies after the ack
	bgStop chan struct{}  // closed at shutdown: cancels those replies
}

// Option adjusts a Server.
type Option func(*Server)

// WithNotFound makes the server recognise the views' own not-found error
// (for example errors.Is(err, readmodel.ErrNotFound)) besides ErrNotFound.
func WithNotFound(is func(error) bool) Option {
	return func(s *Server) { s.notFound = is }
}

// New builds a server. views may be nil: reads then answer 503
// ("views_unavailable") and writes still work. reg receives ingress's
// metrics and is what /metrics serves. New connects to nothing; Run does.
func New(cfg Config, logger *slog.Logger, reg *prometheus.Registry, views Views, opts ...Option) (*Server, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("ingress: register metrics: %w", err)
	}
	s := &Server{
		cfg: cfg, log: logger, metrics: m, reg: reg, topics: cfg.Kafka.Topics(), views: views,
		workspaces: map[string]slackapp.Workspace{}, bgStop: make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	rl := cfg.RateLimits
	s.tokenLimits = newLimiters(rl.TokenRate, rl.TokenBurst, rl.Keys, cfg.Now)
	s.workspaceLimits = newLimiters(rl.WorkspaceRate, rl.WorkspaceBurst, rl.Keys, cfg.Now)
	s.authFailures = newLimiters(rl.AuthFailureRate, rl.AuthFailureBurst, rl.Keys, cfg.Now)
	s.sends = newSendLedger(s.topics.Commands, int(cfg.Kafka.Partitions))
	s.producer, err = kafka.NewClient(cfg.Kafka, logger,
		kgo.DefaultProduceTopic(s.topics.Commands),
		kgo.ProducerLinger(0),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(ledgerPartitioner()),
		kgo.ProduceRequestTimeout(cfg.ProduceTimeout),
		kgo.MaxBufferedRecords(10_000),
		kgo.WithHooks(s.sends),
	)
	if err != nil {
		return nil, fmt.Errorf("ingress: producer: %w", err)
	}
	s.consumer, err = kafka.NewClient(cfg.Kafka, logger,
		kgo.ConsumeTopics(s.topics.Events),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		s.producer.Close()
		return nil, fmt.Errorf("ingress: results consumer: %w", err)
	}
	s.tracker = newTracker(logger, m, cfg.TrackedCommands, cfg.TrackedIncidents)
	s.slack = slackapp.NewClients(cfg.SlackAPIURL, cfg.SlackCallTimeout)
	for _, w := range cfg.Workspaces {
		s.workspaces[w.TeamID] = w
	}
	s.router = s.routes()
	return s, nil
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.router }

// Run listens on cfg.Addr and serves until ctx is done.
func (s *Server) Run(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		s.close()
		return fmt.Errorf("ingress: listen: %w", err)
	}
	if s.cfg.OnListen != nil {
		s.cfg.OnListen(ln.Addr().String())
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down in order: stop
// accepting, let requests in flight finish (bounded), wait for background
// Slack replies, stop the tracker, close the Kafka clients. It owns ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	defer s.close()
	srv := &http.Server{
		Handler:           s.router,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	tctx, stopTracker := context.WithCancel(ctx)
	trackerDone := make(chan error, 1)
	go func() { trackerDone <- s.tracker.run(tctx, s.consumer) }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.WriteTimeout)
		err = srv.Shutdown(sctx)
		cancel()
		<-served //nolint:errcheck // http.ErrServerClosed, after Shutdown
	}
	close(s.bgStop)
	s.bg.Wait()
	stopTracker()
	<-trackerDone //nolint:errcheck // its context's cancellation: run stops only when asked
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("ingress: serve: %w", err)
	}
	return ctx.Err()
}

func (s *Server) close() {
	s.producer.Close()
	s.consumer.Close()
	s.outboxMu.Lock()
	if s.outbox != nil {
		_ = s.outbox.Close()
		s.outbox = nil
	}
	s.outboxMu.Unlock()
}

// routes registers every route; openapi.json documents exactly these
// (TestOpenAPIMatchesRoutes).
func (s *Server) routes() *mux.Router {
	r := mux.NewRouter()
	r.Use(s.metrics.instrument, withRequestID, s.limitBody)
	r.NotFoundHandler = s.metrics.instrument(withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusNotFound, CodeNotFound, "no such route: "+r.URL.Path)
	})))
	r.MethodNotAllowedHandler = s.metrics.instrument(withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
	})))

	r.HandleFunc("/healthz", s.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", s.readyz).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})).Methods(http.MethodGet)

	r.HandleFunc("/slack/events", s.slackVerified(s.slackEvents)).Methods(http.MethodPost)
	r.HandleFunc("/slack/commands", s.slackVerified(s.slackCommands)).Methods(http.MethodPost)
	r.HandleFunc("/slack/interactions", s.slackVerified(s.slackInteractions)).Methods(http.MethodPost)

	r.HandleFunc("/api/v1/openapi.json", serveOpenAPI).Methods(http.MethodGet)
	api := func(path string, h apiHandler, method string) {
		r.Handle("/api/v1"+path, s.requireToken(h)).Methods(method)
	}
	api("/incidents", s.apiDeclare, http.MethodPost)
	api("/incidents", s.apiList, http.MethodGet)
	api("/incidents/{id}", s.apiGet, http.MethodGet)
	for _, w := range apiWrites {
		api("/incidents/{id}/"+w.path, s.apiWrite(w), http.MethodPost)
	}
	api("/analytics", s.apiAnalytics, http.MethodGet)
	api("/outbox", s.apiOutbox, http.MethodGet)
	api("/policy", s.apiPolicy, http.MethodGet)

	// The dashboard's pages: every other GET outside /api and /slack.
	// isPage comes first: a matching path prefix would clear a method
	// mismatch found on an API route (gorilla/mux), turning 405 into 404.
	r.MatcherFunc(isPage).PathPrefix("/").Methods(http.MethodGet, http.MethodHead).Handler(web.Handler())
	return r
}

// isPage matches the paths the dashboard's pages may have.
func isPage(r *http.Request, _ *mux.RouteMatch) bool {
	p := r.URL.Path
	return !strings.HasPrefix(p, "/api/") && !strings.HasPrefix(p, "/slack/")
}

// limitBody bounds every request body.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.cfg.MaxBodyBytes {
			writeProblem(w, http.StatusRequestEntityTooLarge, CodeBodyTooLarge,
				fmt.Sprintf("request body is %d bytes, the limit is %d", r.ContentLength, s.cfg.MaxBodyBytes))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is ready when the broker answers within ProduceTimeout.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ProduceTimeout)
	defer cancel()
	if err := s.producer.Ping(ctx); err != nil {
		writeUnavailable(w, s.cfg.RetryAfter, CodeLogUnavailable, "the Kafka broker is unreachable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
