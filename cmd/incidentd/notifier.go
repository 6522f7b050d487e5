package main

import (
	"context"
	"flag"
	"net"
	"path/filepath"
	"time"

	"github.com/incidentd/incidentd/notifier"
	"github.com/incidentd/incidentd/slackapp"
)

func notifierService() service {
	return service{
		name: "notifier",
		help: "keep Slack (or the local outbox) in step with events",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			workspaces := fs.String("notifier.workspaces", "", "JSON file of Slack workspaces ({\"workspaces\":[{\"team_id\",\"tenant\",\"bot_token\",\"incidents_channel\"}]}); empty: write to the local outbox instead of Slack")
			dashboard := fs.String("notifier.dashboard-url", notifier.DefaultDashboardURL, "base URL of the dashboard, for links on incident cards (under \"run\" without it: http:// and -ingress.addr)")
			apiURL := fs.String("notifier.slack-api-url", "", "Slack Web API base URL (empty: https://slack.com/api/)")
			interval := fs.Duration("notifier.channel-interval", notifier.DefaultChannelInterval, "least time between two messages in one Slack channel")
			concurrency := fs.Int("notifier.concurrency", notifier.DefaultConcurrency, "Slack calls in flight at most")
			httpAddr := fs.String("notifier.http-addr", "127.0.0.1:9094", "listen address of /healthz, /readyz and /metrics when the notifier runs alone")
			skipHistory := fs.Bool("notifier.skip-history", false, "on a fresh notifier store, fold the events already in the topic without sending them (instead of replaying history into Slack)")
			return func(ctx context.Context, e *env) error {
				if e.Name == "run" && !flagGiven(fs, "notifier.dashboard-url") {
					if f := fs.Lookup("ingress.addr"); f != nil {
						*dashboard = baseURL(f.Value.String())
					}
				}
				cfg := notifier.Config{
					Kafka: e.Kafka, Dir: filepath.Join(e.DataDir, "notifier"), Policy: e.Policy,
					DashboardURL: *dashboard, SlackAPIURL: *apiURL, ChannelInterval: *interval, Concurrency: *concurrency,
					SkipHistory: *skipHistory,
				}
				if *workspaces != "" {
					ws, err := slackapp.LoadWorkspaces(*workspaces)
					if err != nil {
						return err
					}
					cfg.Workspaces = ws
				}
				if len(cfg.Kafka.Brokers) == 0 {
					cfg.Kafka.Brokers = []string{"127.0.0.1:9092"}
				}
				if e.Name != "run" {
					se := *e
					se.Kafka = cfg.Kafka
					if err := ensureTopics(ctx, &se); err != nil {
						return err
					}
				}
				n, err := notifier.New(cfg, e.Logger, e.Registry)
				if err != nil {
					return err
				}
				if cfg.OutboxMode() {
					e.Announce("notifier", "no Slack workspaces (-notifier.workspaces): writing would-be Slack messages to %s",
						filepath.Join(cfg.Dir, notifier.OutboxFile))
				} else {
					e.Announce("notifier", "posting to Slack for %d workspace(s), at most one message per %s per channel",
						len(cfg.Workspaces), cfg.ChannelInterval.Round(time.Millisecond))
				}
				if e.Name == "run" {
					return n.Run(ctx)
				}
				ops := opsServer{part: "notifier", ready: func() (bool, string) {
					return n.Ready(), "not consuming the events topic yet"
				}}
				return ops.serve(ctx, e, *httpAddr, "", n.Run)
			}
		},
	}
}

// flagGiven reports whether a flag was set, on the command line or
// through its environment variable.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// baseURL is the http:// URL of a listen address; a wildcard host
// (":8080", "0.0.0.0:8080", "[::]:8080") becomes 127.0.0.1.
func baseURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
