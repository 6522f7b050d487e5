package projector

import (
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/readmodel"
)

// Defaults for Config.
const (
	DefaultDatabase      = "incidentd"
	DefaultGroup         = "incidentd-projector"
	DefaultMaxBatchRows  = 20000
	DefaultFlushInterval = time.Second
	DefaultMinBackoff    = 100 * time.Millisecond
	DefaultMaxBackoff    = 5 * time.Second
	DefaultLagInterval   = 5 * time.Second
	DefaultCacheSize     = 200000
)

// Config is how the projector consumes and where it writes.
type Config struct {
	// Kafka is where the events topic is (read) and the dead-letter topic
	// (written).
	Kafka kafka.Config
	// Database is the ClickHouse database of the tables.
	Database string
	// Group is the consumer group whose committed offsets say how far the
	// tables are.
	Group string
	// MaxBatchRows bounds the events of one insert.
	MaxBatchRows int
	// FlushInterval bounds how long an event waits for its batch to fill:
	// a lone event is inserted after at most this long.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries while
	// ClickHouse (or Kafka) refuses to answer.
	MinBackoff, MaxBackoff time.Duration
	// LagInterval is how often the consumer lag is measured.
	LagInterval time.Duration
	// CacheSize bounds the incident states kept in memory to fold onto;
	// a miss reads the state back from ClickHouse.
	CacheSize int
	// Sink, if set, replaces the ClickHouse sink over the connection
	// (tests wrap the real one).
	Sink Sink
	// Status, if set, is told when the projector's state changes in a way
	// people should see ("ClickHouse not reachable, retrying").
	Status func(msg string)
}

// Defaults sets every zero field that has a default.
func (c *Config) Defaults() {
	c.Kafka.Defaults()
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.MaxBatchRows == 0 {
		c.MaxBatchRows = DefaultMaxBatchRows
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.LagInterval == 0 {
		c.LagInterval = DefaultLagInterval
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
}

// Validate reports the first problem with a config whose defaults are set.
func (c Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	if err := readmodel.ValidIdent(c.Database); err != nil {
		return fmt.Errorf("projector: database: %w", err)
	}
	switch {
	case c.Group == "":
		return errors.New("projector: empty consumer group")
	case c.MaxBatchRows < 1:
		return fmt.Errorf("projector: max batch rows %d, want at least 1", c.MaxBatchRows)
	case c.FlushInterval <= 0 || c.FlushInterval > time.Minute:
		return fmt.Errorf("projector: flush interval %s, want more than 0 and at most 1m", c.FlushInterval)
	case c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff:
		return fmt.Errorf("projector: backoff %s..%s, want 0 < min <= max", c.MinBackoff, c.MaxBackoff)
	case c.LagInterval <= 0:
		return fmt.Errorf("projector: lag interval %s, want more than 0", c.LagInterval)
	case c.CacheSize < 1:
		return fmt.Errorf("projector: cache size %d, want at least 1", c.CacheSize)
	}
	return nil
}

// OpenClickHouse returns a connection pool to a ClickHouse server over the
// native protocol (the only one clickhouse-go/v2 can use with 18.16). It
// does not dial: the first query does, and a server that is down makes
// queries fail, not this.
func OpenClickHouse(addr string) (driver.Conn, error) {
	if addr == "" {
		return nil, errors.New("projector: open clickhouse: empty address")
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: "default"},
		DialTimeout: 2 * time.Second,
		ReadTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("projector: open clickhouse %s: %w", addr, err)
	}
	return conn, nil
}
