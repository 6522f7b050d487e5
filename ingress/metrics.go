package ingress

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are ingress's Prometheus series. Labels are bounded: route is
// the route template ("/api/v1/incidents/{id}"), never the raw path.
type metrics struct {
	requests    *prometheus.HistogramVec // route, method, code
	produce     *prometheus.HistogramVec // result
	commands    *prometheus.CounterVec   // source, kind
	slackCalls  *prometheus.CounterVec   // method, result
	tracked     prometheus.Gauge
	trackerRecs prometheus.Counter
}

var latencyBuckets = []float64{.0002, .0005, .001, .002, .003, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "incidentd_ingress_request_duration_seconds",
			Help:    "HTTP request latency by route template, method and status code.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "code"}),
		produce: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "incidentd_ingress_produce_duration_seconds",
			Help:    "Time from produce to the answer, by result: ok (acked), not_in_log (never sent), unknown (sent, not acked in time).",
			Buckets: latencyBuckets,
		}, []string{"result"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_ingress_commands_total",
			Help: "Commands acked by the broker, by source and kind.",
		}, []string{"source", "kind"}),
		slackCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "incidentd_ingress_slack_calls_total",
			Help: "Slack Web API calls made by ingress, by method and result.",
		}, []string{"method", "result"}),
		tracked: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "incidentd_ingress_tracked_commands",
			Help: "Command outcomes the results tracker remembers.",
		}),
		trackerRecs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "incidentd_ingress_tracker_events_total",
			Help: "Events the results tracker consumed.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.produce, m.commands, m.slackCalls, m.tracked, m.trackerRecs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument is mux middleware recording each request's latency under its
// route template.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if cr := mux.CurrentRoute(r); cr != nil {
			if t, err := cr.GetPathTemplate(); err == nil {
				route = t
			}
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
	})
}
