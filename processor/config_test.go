package processor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/processor"
)

func TestConfigValidate(t *testing.T) {
	ok := func() processor.Config {
		c := processor.Config{Kafka: kafka.Config{Brokers: []string{"127.0.0.1:9092"}}, Dir: "/tmp/x"}
		c.Defaults()
		return c
	}
	if err := ok().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*processor.Config)
		want   string
	}{
		{"no brokers", func(c *processor.Config) { c.Kafka.Brokers = nil }, "processor: kafka: no brokers"},
		{"no dir", func(c *processor.Config) { c.Dir = "" }, "processor: no directory"},
		{"batch", func(c *processor.Config) { c.MaxBatch = -1 }, "max batch -1"},
		{"session", func(c *processor.Config) { c.SessionTimeout = time.Millisecond }, "session timeout 1ms"},
		{"txn above session", func(c *processor.Config) { c.TransactionTimeout = c.SessionTimeout }, "below the session timeout"},
		{"policy", func(c *processor.Config) { c.Policy.Severities = []string{"A", "A"} }, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok()
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "processor: ") {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := processor.New(processor.Config{}, nil, nil); err == nil {
		t.Fatal("New(zero config) succeeded")
	}
}
