package kafka_test

import (
	"strings"
	"testing"

	"github.com/incidentd/incidentd/internal/kafka"
)

func TestConfigDefaults(t *testing.T) {
	var cfg kafka.Config
	cfg.Defaults()
	if cfg.TopicPrefix != "incidentd." || cfg.Partitions != 6 {
		t.Fatalf("defaults = %+v", cfg)
	}
	cfg = kafka.Config{TopicPrefix: "x-", Partitions: 3}
	cfg.Defaults()
	if cfg.TopicPrefix != "x-" || cfg.Partitions != 3 {
		t.Fatalf("defaults overrode set fields: %+v", cfg)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := kafka.Config{Brokers: []string{"127.0.0.1:9092"}, TopicPrefix: "incidentd.", Partitions: 6}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*kafka.Config)
		want string
	}{
		{"no brokers", func(c *kafka.Config) { c.Brokers = nil }, "kafka: no brokers"},
		{"empty broker", func(c *kafka.Config) { c.Brokers = []string{""} }, "kafka: empty broker address"},
		{"negative partitions", func(c *kafka.Config) { c.Partitions = -1 }, "kafka: partitions -1, want at least 1"},
		{"bad prefix", func(c *kafka.Config) { c.TopicPrefix = "a b" }, `kafka: topic prefix "a b": character ' ' not allowed`},
		{"long prefix", func(c *kafka.Config) { c.TopicPrefix = strings.Repeat("a", 250) }, "longer than 249"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
}
