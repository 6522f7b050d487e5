package kafka

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"
)

// NewClient returns a franz-go client seeded with cfg.Brokers that logs
// through logger at warn level and above (franz-go's info level narrates
// every connection and metadata refresh). A nil logger discards. opts are
// applied after these and can override them. The caller owns the client
// and must Close it.
func NewClient(cfg Config, logger *slog.Logger, opts ...kgo.Opt) (*kgo.Client, error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(ClientOpts(cfg, logger), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: new client: %w", err)
	}
	return cl, nil
}

// ClientOpts are the options every incidentd client starts from: seed
// brokers from cfg, franz-go's logs through logger at warn level and above
// (a nil logger discards), and the client's metrics on cfg.Metrics when it
// is set. NewClient uses them; so do clients franz-go builds itself, such
// as a GroupTransactSession. They are for one client: call it again for
// the next.
func ClientOpts(cfg Config, logger *slog.Logger) []kgo.Opt {
	h := slog.DiscardHandler
	if logger != nil {
		h = logger.Handler()
	}
	quiet := slog.New(minLevel{Handler: h, min: slog.LevelWarn})
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.WithLogger(kslog.New(quiet))}
	return append(opts, metricsHooks(cfg)...)
}

// minLevel drops records below min before they reach the wrapped handler.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}
