package main

import (
	"context"
	"flag"
)

func projectorService() service {
	return service{
		name: "projector",
		help: "write events to ClickHouse for listing, search and analytics",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			return func(ctx context.Context, e *env) error { return notBuilt(ctx, e, "projector", "issue #5") }
		},
	}
}
