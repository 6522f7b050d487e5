package kafka

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Config.
const (
	DefaultTopicPrefix = "incidentd."
	DefaultPartitions  = 6
)

// maxTopicNameLen is Kafka's limit on topic names.
const maxTopicNameLen = 249

// Config is how a service reaches Kafka and names its topics.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TopicPrefix is prepended to every topic suffix of deploy/topics.txt.
	// Empty means DefaultTopicPrefix.
	TopicPrefix string
	// Partitions is the partition count of the co-partitioned topics ("P"
	// in deploy/topics.txt). Zero means DefaultPartitions. It cannot be
	// changed once the topics exist.
	Partitions int32
	// Metrics, when set, is the registry every client made from this
	// config shows its franz-go client metrics on (incidentd_kafka_*), with
	// Service as their service label. Nil: no client metrics.
	Metrics prometheus.Registerer
	// Service names the service whose clients these are, in their metrics.
	Service string
}

// Defaults sets every zero field that has a default.
func (c *Config) Defaults() {
	if c.TopicPrefix == "" {
		c.TopicPrefix = DefaultTopicPrefix
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
}

// Validate reports the first problem with a config whose defaults are set.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("kafka: no brokers")
	}
	for _, b := range c.Brokers {
		if b == "" {
			return errors.New("kafka: empty broker address")
		}
	}
	return c.validateTopics()
}

// validateTopics checks the fields that name and shape the topics.
func (c Config) validateTopics() error {
	if c.Partitions < 1 {
		return fmt.Errorf("kafka: partitions %d, want at least 1", c.Partitions)
	}
	if err := validTopicName(c.TopicPrefix); err != nil {
		return fmt.Errorf("kafka: topic prefix %q: %w", c.TopicPrefix, err)
	}
	return nil
}

// Topics returns the topic names under c's prefix.
func (c Config) Topics() Topics { return NewTopics(c.TopicPrefix) }

// validTopicName checks the characters and length Kafka allows in a topic
// name (or a part of one: an empty string is fine).
func validTopicName(s string) error {
	if len(s) > maxTopicNameLen {
		return fmt.Errorf("longer than %d characters", maxTopicNameLen)
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return fmt.Errorf("character %q not allowed (only a-z, A-Z, 0-9, '.', '_', '-')", r)
		}
	}
	return nil
}
