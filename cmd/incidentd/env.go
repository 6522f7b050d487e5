package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/incidentd/incidentd/incident"
	"github.com/incidentd/incidentd/internal/kafka"
)

// env is what main gives every service: built once, passed down.
type env struct {
	Name     string // the subcommand
	Args     []string
	Logger   *slog.Logger
	Registry *prometheus.Registry
	Kafka    kafka.Config
	Policy   incident.Policy
	DataDir  string // root of local files; each service keeps its own subdirectory
	Stdout   io.Writer

	// Announce prints one line to stdout saying where a part listens or
	// what state it is in; "make run" shows these to people.
	Announce func(part, format string, args ...any)

	// IngressListener is ingress's listener under "run", opened before the
	// services start so that the card links (derived from it) name the
	// real port even for -ingress.addr=HOST:0. Nil otherwise.
	IngressListener net.Listener
}

// common holds the flags every subcommand has.
type common struct {
	brokers    *string
	prefix     *string
	partitions *int
	severities *string
	dataDir    *string
	logLevel   *string
	logFormat  *string
}

func commonFlags(fs *flag.FlagSet) *common {
	return &common{
		brokers:    fs.String("kafka.brokers", "", "Kafka bootstrap brokers, comma-separated (empty: \"run\" starts the embedded broker; others use 127.0.0.1:9092)"),
		prefix:     fs.String("kafka.topic-prefix", "incidentd.", "prefix of every topic name"),
		partitions: fs.Int("kafka.partitions", 6, "partition count of the commands, events and changelog topics (co-partitioned)"),
		severities: fs.String("severities", "SEV1,SEV2,SEV3,SEV4", "severity levels, most severe first; the last is the default"),
		dataDir:    fs.String("data-dir", "./data", "directory for local state (Pebble, broker data, outbox)"),
		logLevel:   fs.String("log.level", "info", "log level: debug, info, warn, error"),
		logFormat:  fs.String("log.format", "text", "log format: text or json"),
	}
}

func (c *common) env(name string, args []string, stdout, stderr io.Writer) (*env, error) {
	logger, err := newLogger(stderr, *c.logLevel, *c.logFormat)
	if err != nil {
		return nil, err
	}
	policy, err := incident.ParseSeverities(*c.severities)
	if err != nil {
		return nil, fmt.Errorf("-severities: %w", err)
	}
	if *c.partitions < 1 || *c.partitions > 10000 {
		return nil, fmt.Errorf("-kafka.partitions %d: want 1 to 10000", *c.partitions)
	}
	kc := kafka.Config{TopicPrefix: *c.prefix, Partitions: int32(*c.partitions)}
	for _, b := range strings.Split(*c.brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			kc.Brokers = append(kc.Brokers, b)
		}
	}
	if len(kc.Brokers) == 0 && name != "run" {
		kc.Brokers = []string{"127.0.0.1:9092"}
	}
	dir, err := filepath.Abs(*c.dataDir)
	if err != nil {
		return nil, fmt.Errorf("-data-dir: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	kc.Metrics, kc.Service = reg, name // every Kafka client's metrics, incidentd_kafka_*
	e := &env{
		Name: name, Args: args, Logger: logger.With("service", name), Registry: reg,
		Kafka: kc, Policy: policy, DataDir: dir, Stdout: stdout,
	}
	e.Announce = func(part, format string, args ...any) {
		fmt.Fprintf(stdout, "incidentd %-11s %s\n", part+":", fmt.Sprintf(format, args...))
	}
	return e, nil
}
