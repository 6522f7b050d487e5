package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/incidentd/incidentd/ingress"
	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/readmodel"
	"github.com/incidentd/incidentd/slackapp"
)

// readmodel.Queries is what ingress reads through.
var _ ingress.Views = (*readmodel.Queries)(nil)

// devTenant is the tenant "incidentd run" creates when no tokens file is
// given, so a newcomer can use the API and dashboard right away.
const devTenant = "dev"

func ingressService() service {
	return service{
		name: "ingress",
		help: "HTTP edge: Slack receivers, the dashboard and its API",
		setup: func(flags *flag.FlagSet) func(ctx context.Context, e *env) error {
			f := newIngressFlags(flags)
			return func(ctx context.Context, e *env) error {
				cfg, dev, err := f.config(e, flags)
				if err != nil {
					return err
				}
				if e.Name != "run" {
					se := *e
					se.Kafka = cfg.Kafka
					if err := ensureTopics(ctx, &se); err != nil {
						return err
					}
				}
				views, closeViews := f.views(e)
				defer closeViews()
				cfg.OnListen = dev.announce(e, cfg)
				srv, err := ingress.New(cfg, e.Logger, e.Registry, views,
					ingress.WithNotFound(func(err error) bool { return errors.Is(err, readmodel.ErrNotFound) }))
				if err != nil {
					return err
				}
				if ln := e.IngressListener; ln != nil {
					cfg.OnListen(ln.Addr().String())
					return srv.Serve(ctx, ln)
				}
				return srv.Run(ctx)
			}
		},
	}
}

// ingressFlags are the ingress service's command-line flags.
type ingressFlags struct {
	addr, tokens, workspaces, secret, slackAPI, slash, pin, chAddr, chDB, outbox *string
	maxWait                                                                      *time.Duration
	limits                                                                       ingress.RateLimits
}

func newIngressFlags(flags *flag.FlagSet) *ingressFlags {
	f := &ingressFlags{
		addr:       flags.String("ingress.addr", ingress.DefaultAddr, "HTTP listen address (Slack receivers, dashboard, /api/v1)"),
		tokens:     flags.String("ingress.tokens", "", "JSON file of API tokens ({\"tokens\":[{\"name\",\"tenant\",\"sha256\"}]}, sha256 = hex of sha256(token)); empty with \"run\": a dev tenant with a generated token"),
		workspaces: flags.String("ingress.workspaces", "", "JSON file of Slack workspaces (the notifier's format); empty: -notifier.workspaces when running everything, else none"),
		secret:     flags.String("ingress.slack-signing-secret", "", "Slack app signing secret (verifies every Slack request); empty: the Slack routes answer 503, except under \"run\" without workspaces, which sets up a dev workspace TDEV with a generated secret (see slack-mention)"),
		slackAPI:   flags.String("ingress.slack-api-url", "", "Slack Web API base URL (empty: https://slack.com/api/)"),
		slash:      flags.String("ingress.slash-command", ingress.DefaultSlashCommand, "the slash command incidentd answers"),
		pin:        flags.String("ingress.pin-emoji", ingress.DefaultPinEmoji, "reaction that pins a message of an incident thread to its timeline"),
		chAddr:     flags.String("ingress.clickhouse-addr", "127.0.0.1:9000", "ClickHouse native-protocol address the dashboard reads from"),
		chDB:       flags.String("ingress.clickhouse-database", "incidentd", "ClickHouse database of the projector's tables"),
		outbox:     flags.String("ingress.outbox", "", "the notifier's outbox file served at /api/v1/outbox (empty: DATA/notifier/outbox.jsonl when no Slack workspaces are configured)"),
		maxWait:    flags.Duration("ingress.max-wait", ingress.DefaultMaxWait, "cap of a write's ?wait="),
	}
	ingress.RateLimitFlags(flags, &f.limits)
	return f
}

// devAccess is what "incidentd run" set up for a newcomer: an API token of
// the dev tenant and a dev Slack workspace, each with the file it is kept
// in ("" when not set up).
type devAccess struct {
	token, tokenPath string
	slackSecretPath  string
}

// config builds the ingress config from the flags: the Slack workspaces
// (the notifier's under "run"), the outbox, the API tokens, and under "run"
// the dev token and dev Slack workspace when none are configured.
func (f *ingressFlags) config(e *env, flags *flag.FlagSet) (ingress.Config, devAccess, error) {
	var dev devAccess
	cfg := ingress.Config{
		Addr: *f.addr, Kafka: e.Kafka, Policy: e.Policy, SlackSigningSecret: *f.secret,
		SlackAPIURL: *f.slackAPI, SlashCommand: *f.slash, PinEmoji: *f.pin, MaxWait: *f.maxWait,
		RateLimits: f.limits,
	}
	if len(cfg.Kafka.Brokers) == 0 {
		cfg.Kafka.Brokers = []string{"127.0.0.1:9092"}
	}
	wsPath := *f.workspaces
	if wsPath == "" && e.Name == "run" {
		if nf := flags.Lookup("notifier.workspaces"); nf != nil {
			wsPath = nf.Value.String()
		}
	}
	if wsPath != "" {
		ws, err := slackapp.LoadWorkspaces(wsPath)
		if err != nil {
			return cfg, dev, fmt.Errorf("ingress: %w", err)
		}
		cfg.Workspaces = ws
	}
	cfg.OutboxPath = *f.outbox
	if cfg.OutboxPath == "" && len(cfg.Workspaces) == 0 {
		cfg.OutboxPath = filepath.Join(e.DataDir, "notifier", notifier.OutboxFile)
	}
	if cfg.SlackSigningSecret == "" && len(cfg.Workspaces) == 0 && e.Name == "run" {
		sec, err := loadOrCreateSecret(filepath.Join(e.DataDir, devSlackSecretRel), "")
		if err != nil {
			return cfg, dev, fmt.Errorf("ingress: dev Slack signing secret: %w", err)
		}
		cfg.SlackSigningSecret = sec
		cfg.Workspaces = []slackapp.Workspace{{TeamID: devSlackTeam, Tenant: devTenant}}
		dev.slackSecretPath = filepath.Join(e.DataDir, devSlackSecretRel)
	}
	switch {
	case *f.tokens != "":
		toks, err := ingress.LoadTokens(*f.tokens)
		if err != nil {
			return cfg, dev, err
		}
		cfg.Tokens = toks
	case e.Name == "run":
		dev.tokenPath = filepath.Join(e.DataDir, "ingress", "dev-token")
		tok, err := loadOrCreateSecret(dev.tokenPath, "dev-")
		if err != nil {
			return cfg, dev, fmt.Errorf("ingress: dev token: %w", err)
		}
		dev.token = tok
		cfg.Tokens = []ingress.Token{{Name: "dev", Tenant: devTenant, SHA256: ingress.HashToken(tok)}}
	}
	return cfg, dev, nil
}

// views opens the dashboard's read model on ClickHouse; when it cannot,
// reads answer 503 and the rest of ingress runs. The returned function
// closes the connection.
func (f *ingressFlags) views(e *env) (ingress.Views, func()) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{*f.chAddr},
		Auth:        clickhouse.Auth{Database: *f.chDB},
		DialTimeout: time.Second,
	})
	if err != nil {
		e.Logger.Warn("clickhouse: reads will answer 503", "addr", *f.chAddr, "err", err)
		return nil, func() {}
	}
	return readmodel.NewQueries(conn, *f.chDB, readmodel.WithPolicy(e.Policy)), func() { conn.Close() }
}

// announce returns the OnListen hook that tells the user where ingress
// listens and, under "run", how to use the dev token and workspace.
func (dev devAccess) announce(e *env, cfg ingress.Config) func(addr string) {
	return func(a string) {
		e.Announce("ingress", "http://%s/ (dashboard), API at http://%s/api/v1 (OpenAPI: /api/v1/openapi.json)", a, a)
		if dev.token != "" {
			e.Announce("ingress", "API token of tenant %q: %s (in %s); try: curl -H 'Authorization: Bearer %s' http://%s/api/v1/incidents",
				devTenant, dev.token, dev.tokenPath, dev.token, a)
		}
		switch {
		case dev.slackSecretPath != "":
			e.Announce("ingress", "Slack receivers at http://%s/slack/ for the dev workspace %s (signing secret in %s); try: incidentd slack-mention -data-dir=%s \"server down!\"",
				a, devSlackTeam, dev.slackSecretPath, e.DataDir)
		case cfg.SlackSigningSecret == "":
			e.Announce("ingress", "Slack receivers off (no -ingress.slack-signing-secret)")
		}
	}
}
