package broker

import (
	"errors"
	"fmt"
	"net"
)

// Defaults for Config.
const (
	DefaultAddr       = "127.0.0.1:9092"
	DefaultDataDir    = "./data/broker"
	DefaultPartitions = 6
)

// Config configures Run.
type Config struct {
	// Addr is the host:port to listen on. The broker advertises it as is
	// in metadata, so the host must be one clients can dial (not 0.0.0.0
	// or ::). Port 0 picks a free port; Run's ready callback reports it.
	Addr string
	// DataDir holds the broker's persisted state. It is created if
	// missing and reloaded if it holds state.
	DataDir string
	// Partitions is the partition count of topics created without one
	// (a CreateTopics request with -1 partitions).
	Partitions int32
}

// Defaults sets every zero field to its default.
func (c *Config) Defaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
}

// Validate reports the first problem with a config whose defaults are set.
func (c Config) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("broker: addr %q: %w", c.Addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("broker: addr %q: the broker advertises its listen address, so the host must be one clients can dial", c.Addr)
	}
	if c.DataDir == "" {
		return errors.New("broker: no data dir")
	}
	if c.Partitions < 1 {
		return fmt.Errorf("broker: partitions %d, want at least 1", c.Partitions)
	}
	return nil
}
