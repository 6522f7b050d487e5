package main

import (
	"context"
	"flag"
)

func processorService() service {
	return service{
		name: "processor",
		help: "apply commands per partition against local Pebble state and emit events",
		setup: func(fs *flag.FlagSet) func(ctx context.Context, e *env) error {
			return func(ctx context.Context, e *env) error { return notBuilt(ctx, e, "processor", "issue #3") }
		},
	}
}
