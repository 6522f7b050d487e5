package processor

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the processor's Prometheus metrics. Labels are bounded: the
// partition (the topics' partition count), a rejection code (a closed set
// in package incident) and a transaction result.
type metrics struct {
	commands     prometheus.Counter
	duplicates   prometheus.Counter
	rejections   *prometheus.CounterVec
	events       prometheus.Counter
	deadLetters  prometheus.Counter
	expired      prometheus.Counter
	batchSize    prometheus.Histogram
	txnSeconds   *prometheus.HistogramVec
	storeSeconds prometheus.Histogram
	lag          *prometheus.GaugeVec

	restoreSeconds prometheus.Histogram
	restoreRecords prometheus.Counter
	restoreLeft    *prometheus.GaugeVec
	owned          prometheus.Gauge
	ready          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_processor_commands_total",
			Help: "Commands applied (in committed transactions), including rejected ones and duplicates.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_processor_duplicates_total",
			Help: "Commands whose id was seen before: not applied again.",
		}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_processor_rejections_total",
			Help: "Commands rejected, by rejection code.",
		}, []string{"code"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_processor_events_total",
			Help: "Events emitted in committed transactions.",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_processor_dead_letters_total",
			Help: "Command records that could not be decoded, sent to the dead-letter topic.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_processor_outcomes_expired_total",
			Help: "Remembered command outcomes deleted from the dedup window, once older than the window.",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "incidentd_processor_batch_size_commands",
			Help:    "Command records per transaction.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		txnSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "incidentd_processor_transaction_duration_seconds",
			Help:    "Time from the first produce of a transaction to its end, by result.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"result"}),
		storeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "incidentd_processor_store_write_duration_seconds",
			Help:    "Time to write a committed batch to Pebble.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "incidentd_processor_lag_records",
			Help: "Command records not yet applied, per owned partition, as of the last fetch.",
		}, []string{"partition"}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "incidentd_processor_restore_duration_seconds",
			Help:    "Time to restore a set of newly assigned partitions from the changelog.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		restoreRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_processor_restore_records_total",
			Help: "Changelog records restored into Pebble.",
		}),
		restoreLeft: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "incidentd_processor_restore_remaining_records",
			Help: "Changelog offsets left to restore, per partition being restored.",
		}, []string{"partition"}),
		owned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "incidentd_processor_owned_partitions",
			Help: "Partitions this instance owns.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "incidentd_processor_ready",
			Help: "1 when every owned partition is restored.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.commands, m.duplicates, m.rejections, m.events, m.deadLetters, m.expired, m.batchSize,
		m.txnSeconds, m.storeSeconds, m.lag, m.restoreSeconds, m.restoreRecords, m.restoreLeft, m.owned, m.ready} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("processor: register metrics: %w", err)
		}
	}
	return m, nil
}
