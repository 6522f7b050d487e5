package kafka_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/incidentd/incidentd/internal/kafka"
)

// TestClientMetrics: clients made from a config with a registry show
// franz-go's client metrics there, labelled by service and client, and
// several clients of one process share the registry without colliding,
// including a client made after another closed.
func TestClientMetrics(t *testing.T) {
	ctx, cfg, adm := setup(t)
	if err := kafka.EnsureTopics(ctx, adm, cfg); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg.Metrics, cfg.Service = reg, "ingress"
	topic := cfg.Topics().Commands
	newClient := func(cfg kafka.Config, opts ...kgo.Opt) *kgo.Client {
		t.Helper()
		cl, err := kafka.NewClient(cfg, slog.New(slog.DiscardHandler), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}

	producer := newClient(cfg, kgo.ProducerLinger(0))
	consumer := newClient(cfg, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond))
	defer consumer.Close()
	for _, k := range []string{"a", "b", "c"} {
		if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < 3 && ctx.Err() == nil {
		consumer.PollFetches(ctx).EachRecord(func(*kgo.Record) { got++ })
	}
	if got != 3 {
		t.Fatalf("consumed %d records, want 3", got)
	}

	// The producer's and the consumer's counts, each under its own client
	// label, as a scrape shows them.
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	wantSum(t, srv.URL, 3, "incidentd_kafka_produce_records_total", `client="0"`, `service="ingress"`, `topic="`+topic+`"`)
	wantSum(t, srv.URL, 3, "incidentd_kafka_fetch_records_total", `client="1"`, `service="ingress"`, `topic="`+topic+`"`)
	if n := scrapeSum(t, srv.URL, "incidentd_kafka_connects_total", `client="0"`); n < 1 {
		t.Errorf("connections of client 0: %v, want at least 1", n)
	}

	// A closed client's metrics leave; the next client takes its label,
	// and another service's clients sit beside them.
	producer.Close()
	if n := scrapeSum(t, srv.URL, "incidentd_kafka_connects_total", `client="0"`); n != 0 {
		t.Errorf("connections of the closed client 0: %v, want none shown", n)
	}
	again := newClient(cfg, kgo.ProducerLinger(0))
	defer again.Close()
	other := cfg
	other.Service = "notifier"
	notifier := newClient(other, kgo.ProducerLinger(0))
	defer notifier.Close()
	for _, cl := range []*kgo.Client{again, notifier} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("d"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	wantSum(t, srv.URL, 1, "incidentd_kafka_produce_records_total", `client="0"`, `service="ingress"`)
	wantSum(t, srv.URL, 1, "incidentd_kafka_produce_records_total", `client="0"`, `service="notifier"`)
}

// wantSum scrapes url until the samples of metric with labels sum to want,
// and fails if they do not within 10 s: franz-go calls the produce hook
// from a goroutine of its own, so a count may trail ProduceSync.
func wantSum(t *testing.T, url string, want float64, metric string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrapeSum(t, url, metric, labels...)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v: %v, want %v", metric, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond) // the poll's interval, bounded by the deadline
	}
}

// scrapeSum scrapes url and sums the samples of metric whose labels include
// every one of labels (name="value").
func scrapeSum(t *testing.T, url, metric string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		lbls, value, _ := strings.Cut(line[len(metric):], " ")
		all := true
		for _, l := range labels {
			all = all && strings.Contains(lbls, l)
		}
		if all {
			var v float64
			if _, err := fmt.Sscan(value, &v); err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			sum += v
		}
	}
	return sum
}
