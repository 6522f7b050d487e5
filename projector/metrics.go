package projector

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the projector's Prometheus metrics. Labels are bounded: the
// table (two values), the dead-letter reason (two), the partition (the
// events topic's partition count).
type metrics struct {
	rowsInserted  *prometheus.CounterVec
	insertSeconds prometheus.Histogram
	batchRows     prometheus.Histogram
	lag           *prometheus.GaugeVec
	deadLetters   *prometheus.CounterVec
	insertErrors  *prometheus.CounterVec
	gaps          prometheus.Counter
	gapsHealed    prometheus.Counter
	duplicates    prometheus.Counter
	clickhouseUp  prometheus.Gauge
}

// Dead-letter reasons (metric label values).
const (
	reasonUndecodable = "undecodable"
	reasonRefused     = "refused"
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rowsInserted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_projector_rows_inserted_total",
			Help: "Rows inserted into ClickHouse, by table (events, incidents).",
		}, []string{"table"}),
		insertSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "incidentd_projector_insert_duration_seconds",
			Help:    "Time of one successful insert of a batch into ClickHouse (events, then incidents).",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "incidentd_projector_batch_size_rows",
			Help:    "Events per insert batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "incidentd_projector_lag_records",
			Help: "Records of the events topic not yet projected (committed), by partition.",
		}, []string{"partition"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_projector_dead_letters_total",
			Help: "Event records sent to the dead-letter topic, by reason (undecodable, refused).",
		}, []string{"reason"}),
		insertErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_projector_insert_errors_total",
			Help: "Failed insert attempts, by kind (retried: unreachable or overloaded; refused: ClickHouse rejected rows).",
		}, []string{"kind"}),
		gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_projector_version_gaps_total",
			Help: "Events whose version skipped past the projected state's (not folded; the state stays behind).",
		}),
		gapsHealed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_projector_gaps_healed_total",
			Help: "Incidents whose version gap was healed: the missing versions were read again from the events topic and folded.",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_projector_duplicate_events_total",
			Help: "Events already folded into the projected state (re-delivery, replay).",
		}),
		clickhouseUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "incidentd_projector_clickhouse_up",
			Help: "1 when the last ClickHouse request succeeded, 0 while it is unreachable.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.rowsInserted, m.insertSeconds, m.batchRows, m.lag,
			m.deadLetters, m.insertErrors, m.gaps, m.gapsHealed, m.duplicates, m.clickhouseUp} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("projector: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func partitionLabel(p int32) string { return strconv.FormatInt(int64(p), 10) }
