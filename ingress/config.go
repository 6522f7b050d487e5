package ingress

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/slackapp"
)

// Defaults for Config.
const (
	DefaultAddr              = "127.0.0.1:8080"
	DefaultSlashCommand      = "/incident"
	DefaultPinEmoji          = "pushpin"
	DefaultMaxBodyBytes      = 256 << 10
	DefaultProduceTimeout    = time.Second
	DefaultMaxWait           = 10 * time.Second
	DefaultMaxReadWait       = 5 * time.Second
	DefaultRetryAfter        = time.Second
	DefaultSlackCallTimeout  = 1500 * time.Millisecond
	DefaultTrackedCommands   = 100_000
	DefaultTrackedIncidents  = 100_000
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
)

// Config configures the ingress server. The zero value plus Kafka brokers
// is valid after Defaults.
type Config struct {
	// Addr is the HTTP listen address for Run.
	Addr string
	// Kafka says where the commands and events topics are.
	Kafka kafka.Config
	// Policy is the severity levels the API and Slack accept.
	Policy incident.Policy

	// Tokens are the API tokens, stored hashed. Without any, every API
	// request is refused with 401.
	Tokens []Token
	// Workspaces maps Slack team ids to tenants and bot tokens.
	Workspaces []slackapp.Workspace
	// SlackSigningSecret verifies every Slack request. Empty: the Slack
	// routes answer 503 ("slack is not configured").
	SlackSigningSecret string
	// SlackAPIURL is the Slack Web API base ("https://slack.com/api/");
	// tests point it at a fake.
	SlackAPIURL string
	// SlashCommand is the slash command incidentd answers to.
	SlashCommand string
	// PinEmoji is the reaction that pins a message to the timeline.
	PinEmoji string

	// OutboxPath is the notifier's outbox file (notifier.ReadOutbox),
	// served at /api/v1/outbox; empty: no outbox (404).
	OutboxPath string

	// MaxBodyBytes bounds every request body (413 beyond it). The default
	// is far above any valid API body (the longest, a 4,000-character
	// note, is under 48 KB even with every character a JSON \u escape
	// pair) and any Slack payload incidentd takes, and far below the
	// broker's message size limit.
	MaxBodyBytes int64
	// ProduceTimeout bounds the wait for the broker's ack.
	ProduceTimeout time.Duration
	// RetryAfter is what a 503 tells the caller to wait.
	RetryAfter time.Duration
	// MaxWait caps a write's ?wait=.
	MaxWait time.Duration
	// MaxReadWait caps how long a read with ?min_version= waits.
	MaxReadWait time.Duration
	// SlackCallTimeout bounds each Slack Web API call made before an
	// answer to Slack (views.open, conversations.replies), so Slack's 3 s
	// hold.
	SlackCallTimeout time.Duration

	// RateLimits bounds requests per API token and Slack workspace, and
	// failed authentications per source address.
	RateLimits RateLimits

	// TrackedCommands and TrackedIncidents bound the results tracker.
	TrackedCommands  int
	TrackedIncidents int

	// HTTP server timeouts, one per phase. WriteTimeout must exceed
	// MaxWait.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// Now is the clock (time.Now when nil); Random the source of fresh
	// ids (crypto/rand when nil).
	Now    func() time.Time
	Random io.Reader

	// OnListen, if set, is called with the address Run listens on.
	OnListen func(addr string)
}

// Defaults sets every zero field that has a default.
func (c *Config) Defaults() {
	c.Kafka.Defaults()
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if len(c.Policy.Severities) == 0 {
		c.Policy = incident.DefaultPolicy()
	}
	if c.SlackAPIURL == "" {
		c.SlackAPIURL = "https://slack.com/api/"
	}
	if c.SlashCommand == "" {
		c.SlashCommand = DefaultSlashCommand
	}
	if c.PinEmoji == "" {
		c.PinEmoji = DefaultPinEmoji
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	set(&c.ProduceTimeout, DefaultProduceTimeout)
	set(&c.RetryAfter, DefaultRetryAfter)
	set(&c.MaxWait, DefaultMaxWait)
	set(&c.MaxReadWait, DefaultMaxReadWait)
	set(&c.SlackCallTimeout, DefaultSlackCallTimeout)
	c.RateLimits.defaults()
	if c.TrackedCommands == 0 {
		c.TrackedCommands = DefaultTrackedCommands
	}
	if c.TrackedIncidents == 0 {
		c.TrackedIncidents = DefaultTrackedIncidents
	}
	set(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&c.ReadTimeout, DefaultReadTimeout)
	set(&c.WriteTimeout, max(c.MaxWait, c.MaxReadWait)+5*time.Second)
	set(&c.IdleTimeout, DefaultIdleTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Random == nil {
		c.Random = rand.Reader
	}
}

// Validate reports the first problem with a config whose defaults are set.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("ingress: addr %q: %w", c.Addr, err)
	}
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	if !strings.HasPrefix(c.SlashCommand, "/") || len(c.SlashCommand) < 2 {
		return fmt.Errorf("ingress: slash command %q must start with '/'", c.SlashCommand)
	}
	if strings.ContainsAny(c.PinEmoji, ": ") {
		return fmt.Errorf("ingress: pin emoji %q: give the name without colons", c.PinEmoji)
	}
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("ingress: max body bytes %d, want at least 1024", c.MaxBodyBytes)
	}
	for name, d := range map[string]time.Duration{
		"produce timeout": c.ProduceTimeout, "retry after": c.RetryAfter, "max wait": c.MaxWait,
		"max read wait": c.MaxReadWait, "slack call timeout": c.SlackCallTimeout,
		"read header timeout": c.ReadHeaderTimeout, "read timeout": c.ReadTimeout,
		"write timeout": c.WriteTimeout, "idle timeout": c.IdleTimeout,
	} {
		if d <= 0 {
			return fmt.Errorf("ingress: %s %v, want > 0", name, d)
		}
	}
	if c.WriteTimeout <= c.MaxWait || c.WriteTimeout <= c.MaxReadWait {
		return fmt.Errorf("ingress: write timeout %v must exceed max wait %v and max read wait %v", c.WriteTimeout, c.MaxWait, c.MaxReadWait)
	}
	if err := c.RateLimits.validate(); err != nil {
		return err
	}
	if c.TrackedCommands < 1 || c.TrackedIncidents < 1 {
		return errors.New("ingress: tracked commands and incidents must be at least 1")
	}
	if err := validateTokens(c.Tokens); err != nil {
		return err
	}
	if err := slackapp.CheckWorkspaces(c.Workspaces); err != nil {
		return fmt.Errorf("ingress: %w", err)
	}
	return nil
}
