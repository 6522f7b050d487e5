package projector_test

import (
	"strings"
	"testing"
	"time"

	"github.com/incidentd/incidentd/internal/kafka"
	"github.com/incidentd/incidentd/projector"
)

func TestConfigValidate(t *testing.T) {
	ok := projector.Config{Kafka: kafka.Config{Brokers: []string{"127.0.0.1:9092"}}}
	ok.Defaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if ok.Database != "incidentd" || ok.FlushInterval != time.Second || ok.Group == "" {
		t.Fatalf("defaults = %+v", ok)
	}
	for _, tc := range []struct {
		name string
		edit func(*projector.Config)
		want string
	}{
		{"no brokers", func(c *projector.Config) { c.Kafka.Brokers = nil }, "projector: kafka: no brokers"},
		{"database", func(c *projector.Config) { c.Database = "x; DROP TABLE y" }, "projector: database: name"},
		{"database digit", func(c *projector.Config) { c.Database = "1db" }, "projector: database: name"},
		{"batch", func(c *projector.Config) { c.MaxBatchRows = -1 }, "max batch rows -1"},
		{"flush", func(c *projector.Config) { c.FlushInterval = -time.Second }, "flush interval"},
		{"backoff", func(c *projector.Config) { c.MinBackoff, c.MaxBackoff = time.Second, time.Millisecond }, "backoff"},
		{"cache", func(c *projector.Config) { c.CacheSize = -5 }, "cache size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := projector.New(ok, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "no clickhouse connection") {
		t.Fatalf("New without a connection: %v", err)
	}
	if _, err := projector.OpenClickHouse(""); err == nil {
		t.Fatal("OpenClickHouse(\"\") succeeded")
	}
}
