package main

import (
	"context"
	"flag"
)

func notifierService() service {
	return service{
		name: "notifier",
		help: "keep Slack (or the local outbox) in step with events",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			return func(ctx context.Context, e *env) error { return notBuilt(ctx, e, "notifier", "issue #6") }
		},
	}
}
