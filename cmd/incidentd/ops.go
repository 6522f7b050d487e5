package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// opsServer is a service's /healthz, /readyz and /metrics listener when it
// runs alone. Under "run" the process's one registry is served once, by
// ingress's /metrics (the services share it, so a second /metrics would
// count everything twice); a service's own listener then serves /healthz
// and /readyz only.
type opsServer struct {
	part  string
	ready func() (bool, string) // ready, and what it waits for when not
}

// serve listens on addr, runs fn, and shuts the listener down (bounded)
// once fn returns. announce says what else to print after the address.
func (o opsServer) serve(ctx context.Context, e *env, addr, announce string, fn func(context.Context) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", o.part, addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := o.ready(); !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	paths := "/healthz /readyz"
	if e.Name != "run" {
		mux.Handle("GET /metrics", promhttp.HandlerFor(e.Registry, promhttp.HandlerOpts{Registry: e.Registry}))
		paths += " /metrics"
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	e.Announce(o.part, "http://%s (%s)%s", ln.Addr(), paths, announce)

	runErr := fn(ctx)
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("%s: http shutdown: %w", o.part, err))
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		runErr = errors.Join(runErr, fmt.Errorf("%s: http: %w", o.part, err))
	}
	return runErr
}
