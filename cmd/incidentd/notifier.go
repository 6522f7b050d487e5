package main

import (
	"context"
	"flag"
	"path/filepath"
	"time"

	"github.com/incidentd/incidentd/notifier"
)

func notifierService() service {
	return service{
		name: "notifier",
		help: "keep Slack (or the local outbox) in step with events",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			workspaces := fs.String("notifier.workspaces", "", "JSON file of Slack workspaces ({\"workspaces\":[{\"team_id\",\"tenant\",\"bot_token\",\"incidents_channel\"}]}); empty: write to the local outbox instead of Slack")
			dashboard := fs.String("notifier.dashboard-url", notifier.DefaultDashboardURL, "base URL of the dashboard, for links on incident cards")
			apiURL := fs.String("notifier.slack-api-url", "", "Slack Web API base URL (empty: https://slack.com/api/)")
			interval := fs.Duration("notifier.channel-interval", notifier.DefaultChannelInterval, "least time between two messages in one Slack channel")
			concurrency := fs.Int("notifier.concurrency", notifier.DefaultConcurrency, "Slack calls in flight at most")
			skipHistory := fs.Bool("notifier.skip-history", false, "on a fresh notifier store, fold the events already in the topic without sending them (instead of replaying history into Slack)")
			return func(ctx context.Context, e *env) error {
				cfg := notifier.Config{
					Kafka: e.Kafka, Dir: filepath.Join(e.DataDir, "notifier"), Policy: e.Policy,
					DashboardURL: *dashboard, SlackAPIURL: *apiURL, ChannelInterval: *interval, Concurrency: *concurrency,
					SkipHistory: *skipHistory,
				}
				if *workspaces != "" {
					ws, err := notifier.LoadWorkspaces(*workspaces)
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
				return n.Run(ctx)
			}
		},
	}
}
