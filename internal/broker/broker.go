package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Run serves a single-node Kafka-protocol broker on cfg.Addr with its state
// in cfg.DataDir, until ctx is done. It calls ready, if not nil, with the
// address clients should use once the broker accepts connections. When ctx
// is done it persists its state, closes every connection and returns nil;
// it returns an error only if the broker cannot start.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, ready func(addr string)) error {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("broker: data dir: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("broker: listen: %w", err)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		// kfake asks for 127.0.0.1 and a port; serve on cfg.Addr instead.
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.DataDir(cfg.DataDir),
		kfake.DefaultNumPartitions(int(cfg.Partitions)),
		kfake.WithLogger(slogLogger{logger}),
	)
	if err != nil {
		ln.Close()
		return fmt.Errorf("broker: start on %s with data dir %s: %w", cfg.Addr, cfg.DataDir, err)
	}
	addr := ln.Addr().String()
	logger.Info("broker serving", "addr", addr, "data_dir", cfg.DataDir)
	if ready != nil {
		ready(addr)
	}
	<-ctx.Done()
	c.Close()
	logger.Info("broker stopped", "addr", addr)
	return nil
}

// slogLogger passes kfake's warnings and errors to slog; kfake's info and
// debug levels narrate every request.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelError
	case kfake.LogLevelWarn:
		l = slog.LevelWarn
	default:
		return
	}
	if s.l.Enabled(context.Background(), l) {
		s.l.Log(context.Background(), l, "kfake: "+fmt.Sprintf(format, args...))
	}
}
