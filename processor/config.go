package processor

import (
	"errors"
	"fmt"
	"time"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
)

// Defaults for Config.
const (
	DefaultGroup              = "incidentd-processor"
	DefaultMaxBatch           = 10000
	DefaultSessionTimeout     = 10 * time.Second
	DefaultTransactionTimeout = 8 * time.Second
	DefaultDedupWindow        = 24 * time.Hour
)

// Config is what a processor needs.
type Config struct {
	// Kafka says where the broker is and how topics are named.
	Kafka kafka.Config
	// Policy is the rules' configurable part.
	Policy incident.Policy
	// Dir is the processor's own directory: the Pebble store lives in
	// Dir/pebble, the instance id in Dir/instance-id.
	Dir string

	// Group is the consumer group; every instance of one deployment uses
	// the same group. Default DefaultGroup.
	Group string
	// InstanceID names this instance: its static group membership (a
	// restart within the session timeout gets its partitions back without
	// a rebalance) and its transactional id (a restart fences the previous
	// incarnation's open transaction at once). Empty: read from
	// Dir/instance-id, created with a random id on first start.
	InstanceID string

	// MaxBatch bounds the commands applied in one transaction (and one
	// Pebble commit). A step takes what has been fetched, up to MaxBatch,
	// and never waits for more: a lone command is applied at once. Only a
	// backlog fills a step; the default, 10,000, is then ~50 ms of work,
	// and each step's flush and commit cost is paid per 10,000 commands:
	// with 1,000, bench/goka's throughput was ~20% lower.
	MaxBatch int
	// SessionTimeout is the group session timeout: how long a silent
	// member keeps its partitions. Default DefaultSessionTimeout.
	SessionTimeout time.Duration
	// TransactionTimeout bounds an open transaction of a dead instance;
	// kept below SessionTimeout. Default DefaultTransactionTimeout.
	TransactionTimeout time.Duration

	// DedupWindow is how long after a command's time its id is
	// remembered with its outcome: a command with that tenant and id
	// within the window is a duplicate (or, with another request
	// fingerprint, refused as a reused key), however many commands came
	// since. Measured on command times, not a clock. Default and minimum
	// DefaultDedupWindow.
	DedupWindow time.Duration

	// AfterCommit, if set, is called after each committed transaction and
	// before its Pebble write, with the count of commits so far. It is a
	// failpoint for tests (the command line wires it to
	// INCIDENTD_PROCESSOR_CRASH_AFTER_COMMITS).
	AfterCommit func(commits int)
}

// Defaults sets every zero field that has a default.
func (c *Config) Defaults() {
	c.Kafka.Defaults()
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if len(c.Policy.Severities) == 0 {
		c.Policy = incident.DefaultPolicy()
	}
}

// Validate reports the first problem with a config whose defaults are set.
func (c Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	if err := c.Policy.Validate(); err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	switch {
	case c.Dir == "":
		return errors.New("processor: no directory for local state")
	case c.MaxBatch < 1:
		return fmt.Errorf("processor: max batch %d, want at least 1", c.MaxBatch)
	case c.SessionTimeout < time.Second:
		return fmt.Errorf("processor: session timeout %s, want at least 1s", c.SessionTimeout)
	case c.TransactionTimeout < time.Second || c.TransactionTimeout >= c.SessionTimeout:
		return fmt.Errorf("processor: transaction timeout %s, want at least 1s and below the session timeout %s", c.TransactionTimeout, c.SessionTimeout)
	case c.DedupWindow < DefaultDedupWindow:
		return fmt.Errorf("processor: dedup window %s, want at least %s", c.DedupWindow, DefaultDedupWindow)
	}
	return nil
}
