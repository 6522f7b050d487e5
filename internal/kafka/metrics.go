package kafka

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// clientMetrics is the hook that gives one client franz-go's client metrics
// (kprom: connections, bytes and errors per broker, produced and fetched
// batches, records and bytes per topic) on a registry, as
// incidentd_kafka_*{service, client}. client is the lowest index no other
// live client of the same service on the same registry holds, so several
// clients in one process (a service's producer and consumer, every service
// under "incidentd run") register side by side, and the label's values stay
// as few as the clients alive at once. Its metrics are registered when the
// client starts and unregistered when it closes.
type clientMetrics struct {
	*kprom.Metrics // set by OnNewClient, before the client runs
	reg            prometheus.Registerer
	service        string
	index          int
}

// metricsHooks are the hooks ClientOpts adds for cfg: none without a
// registry.
func metricsHooks(cfg Config) []kgo.Opt {
	if cfg.Metrics == nil {
		return nil
	}
	return []kgo.Opt{kgo.WithHooks(&clientMetrics{reg: cfg.Metrics, service: cfg.Service})}
}

// liveClients holds the client indexes in use, per registry and service.
var liveClients = struct {
	sync.Mutex
	held map[clientSlot]bool
}{held: map[clientSlot]bool{}}

type clientSlot struct {
	reg     prometheus.Registerer
	service string
	index   int
}

func (m *clientMetrics) OnNewClient(cl *kgo.Client) {
	liveClients.Lock()
	for liveClients.held[clientSlot{m.reg, m.service, m.index}] {
		m.index++
	}
	liveClients.held[clientSlot{m.reg, m.service, m.index}] = true
	liveClients.Unlock()
	m.Metrics = kprom.NewMetrics("incidentd", kprom.Subsystem("kafka"), kprom.Registerer(m.reg),
		kprom.WithStaticLabel(prometheus.Labels{"service": m.service, "client": strconv.Itoa(m.index)}),
		kprom.FetchAndProduceDetail(kprom.ByNode, kprom.ByTopic, kprom.Batches, kprom.Records, kprom.UncompressedBytes))
	m.Metrics.OnNewClient(cl)
}

func (m *clientMetrics) OnClientClosed(cl *kgo.Client) {
	m.Metrics.OnClientClosed(cl)
	liveClients.Lock()
	delete(liveClients.held, clientSlot{m.reg, m.service, m.index})
	liveClients.Unlock()
}
