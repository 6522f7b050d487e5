package notifier

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/slackapp"
)

// Defaults for Config.
const (
	DefaultDashboardURL    = "http://127.0.0.1:8080"
	DefaultChannelInterval = time.Second
	DefaultConcurrency     = 8
	DefaultMinBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff      = 30 * time.Second
	DefaultCallTimeout     = 10 * time.Second
	DefaultLedgerRetention = 7 * 24 * time.Hour
	// OutboxChannel stands in for the incidents channel in outbox mode.
	OutboxChannel = "outbox"
)

// Config is what a Notifier needs.
type Config struct {
	// Kafka names the brokers and the topics (events in, commands and dead
	// letters out).
	Kafka kafka.Config
	// Dir holds the notifier's Pebble store and, in outbox mode, the
	// outbox file (DataDir/notifier).
	Dir string
	// Policy gives the severity levels the card offers.
	Policy incident.Policy
	// DashboardURL is the base of the links on the card.
	DashboardURL string
	// Workspaces are the Slack workspaces to post to. Empty means outbox
	// mode: nothing goes to Slack, every call is appended to Dir/outbox.jsonl.
	Workspaces []slackapp.Workspace
	// SlackAPIURL is the Web API base ("" is slack.com); tests point it at
	// a slackfake server.
	SlackAPIURL string
	// ChannelInterval is the least time between two messages (posts and
	// edits) in one channel: Slack allows about one per second.
	ChannelInterval time.Duration
	// Concurrency bounds Slack calls in flight.
	Concurrency int
	// MinBackoff and MaxBackoff bound the wait after a 5xx or network
	// error; the wait doubles per consecutive failure in a channel.
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds one Slack call.
	CallTimeout time.Duration
	// LedgerRetention is how long the ledger remembers what was sent for
	// an event; older entries are pruned hourly.
	LedgerRetention time.Duration
	// SkipHistory applies to a fresh store only (a new notifier on an
	// events topic that already has events, or a lost store): the events
	// already in the topic at start are folded without sending anything,
	// as if they had been delivered. Cards recorded in the log are
	// adopted and edited on the incident's next change; an incident
	// without one gets a card on its next change. Without it a fresh
	// store replays the topic's history into Slack.
	SkipHistory bool
	// Sender replaces the Slack sender or the outbox (tests).
	Sender Sender
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Defaults sets every zero field that has a default.
func (c *Config) Defaults() {
	c.Kafka.Defaults()
	if c.DashboardURL == "" {
		c.DashboardURL = DefaultDashboardURL
	}
	if len(c.Policy.Severities) == 0 {
		c.Policy = incident.DefaultPolicy()
	}
	if c.ChannelInterval == 0 {
		c.ChannelInterval = DefaultChannelInterval
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.LedgerRetention == 0 {
		c.LedgerRetention = DefaultLedgerRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first problem with a config whose defaults are set.
func (c Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	if c.Dir == "" {
		return errors.New("notifier: config: no data directory")
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("notifier: config: %w", err)
	}
	if u, err := url.Parse(c.DashboardURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("notifier: config: dashboard url %q: want http(s)://host[:port][/path]", c.DashboardURL)
	}
	if c.SlackAPIURL != "" {
		if u, err := url.Parse(c.SlackAPIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("notifier: config: slack api url %q: want http(s)://host/api/", c.SlackAPIURL)
		}
	}
	switch {
	case c.ChannelInterval < 0:
		return fmt.Errorf("notifier: config: channel interval %s is negative", c.ChannelInterval)
	case c.Concurrency < 1:
		return fmt.Errorf("notifier: config: concurrency %d, want at least 1", c.Concurrency)
	case c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("notifier: config: backoff %s..%s, want 0 < min <= max", c.MinBackoff, c.MaxBackoff)
	case c.CallTimeout <= 0:
		return fmt.Errorf("notifier: config: call timeout %s, want > 0", c.CallTimeout)
	case c.LedgerRetention < time.Hour:
		return fmt.Errorf("notifier: config: ledger retention %s, want at least 1h", c.LedgerRetention)
	}
	teams, tenants := map[string]bool{}, map[string]bool{}
	for _, w := range c.Workspaces {
		if w.TeamID == "" || w.Tenant == "" || w.BotToken == "" || w.IncidentsChannel == "" {
			return fmt.Errorf("notifier: config: %s has empty fields", w)
		}
		if teams[w.TeamID] || tenants[w.Tenant] {
			return fmt.Errorf("notifier: config: %s: team or tenant listed twice", w)
		}
		teams[w.TeamID], tenants[w.Tenant] = true, true
	}
	return nil
}

// OutboxMode reports whether the config sends to the local outbox rather
// than Slack.
func (c Config) OutboxMode() bool { return len(c.Workspaces) == 0 }
