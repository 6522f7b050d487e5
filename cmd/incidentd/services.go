package main

import (
	"context"
	"flag"
)

// service is a part of incidentd that runs alone ("incidentd NAME") or
// inside "incidentd run". Each lives in its own file here, as NAME.go, and
// prefixes its flags with its name ("-ingress.addr").
type service struct {
	name  string
	help  string
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env) error
}

// services lists the parts in data-flow order, the order "run" starts them
// in; it stops them together (one context), and its broker after them.
func services() []service {
	return []service{ingressService(), processorService(), projectorService(), notifierService()}
}
