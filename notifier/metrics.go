package notifier

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the notifier's Prometheus metrics. Labels are bounded: event
// results, Slack method names, call results and errorCode's fixed set.
type metrics struct {
	events      *prometheus.CounterVec   // result: applied, duplicate, gap, history, malformed
	calls       *prometheus.CounterVec   // method, result: ok, found, ratelimited, retry, permanent
	callSeconds *prometheus.HistogramVec // method
	deadLetters *prometheus.CounterVec   // reason
	cardLag     prometheus.Histogram
	coalesced   prometheus.Counter
	commands    *prometheus.CounterVec // result: ok, error
	pending     prometheus.Gauge
	gapsHealed  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_notifier_events_total",
			Help: "Events consumed, by result: applied, duplicate (already folded), gap (versions missing before it that the log could not supply either; folded and reported), history (folded without sending: SkipHistory), notice (a rejection in no incident's history: not shown), malformed.",
		}, []string{"result"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_notifier_slack_calls_total",
			Help: "Slack Web API calls (or outbox writes), by method and result: ok, found (a post whose answer was lost, found made; also counted ok), ratelimited, retry, permanent.",
		}, []string{"method", "result"}),
		callSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "incidentd_notifier_slack_call_duration_seconds",
			Help:    "Duration of Slack Web API calls.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"method"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_notifier_dead_letters_total",
			Help: "Records written to the dead-letter topic, by reason (a Slack error name, no_workspace, malformed_event, other).",
		}, []string{"reason"}),
		cardLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "incidentd_notifier_card_lag_seconds",
			Help:    "Time from consuming a change to the card showing it.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		coalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_notifier_coalesced_changes_total",
			Help: "Changes shown by a card edit that also showed a later change (edits saved by coalescing).",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_notifier_commands_total",
			Help: "RecordSlackMessage commands produced, by result.",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "incidentd_notifier_pending_incidents",
			Help: "Incidents with messages still to send.",
		}),
		gapsHealed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_notifier_gaps_healed_total",
			Help: "Version gaps healed: the missing versions of the incident were read again from the events topic and folded before the event.",
		}),
	}
	for _, c := range []prometheus.Collector{m.events, m.calls, m.callSeconds, m.deadLetters, m.cardLag, m.coalesced, m.commands, m.pending, m.gapsHealed} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
