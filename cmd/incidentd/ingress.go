package main

import (
	"context"
	"flag"
)

func ingressService() service {
	return service{
		name: "ingress",
		help: "HTTP edge: Slack receivers, the dashboard and its API",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			return func(ctx context.Context, e *env) error { return notBuilt(ctx, e, "ingress", "issue #4") }
		},
	}
}
