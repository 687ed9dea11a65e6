package bot

import (
	"github.com/gantryops/gantry/notify"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gantryops/gantry/render"
)

// Metrics are gantry's Prometheus metrics, on a registry of their own so
// that tests and several servers in one process do not collide.
type Metrics struct {
	Registry   *prometheus.Registry
	Deliveries *prometheus.CounterVec   // by event (a fixed set, "other", "unverified") and outcome
	Jobs       *prometheus.CounterVec   // by kind and result
	JobSeconds *prometheus.HistogramVec // by kind
	QueueDepth prometheus.GaugeFunc
	RateLimit  prometheus.GaugeFunc
	FirstCheck prometheus.Histogram // webhook received to checks in progress
	// Leader is 1 while this replica leads (always, without election).
	Leader prometheus.Gauge
	// ShardsHeld is how many shards this replica holds (state.shards).
	ShardsHeld prometheus.Gauge
	// DriftEvents counts the watchers' reports of changes to managed
	// objects by others than gantry (each queues a drift comparison).
	DriftEvents prometheus.Counter
	// Abandoned counts renders abandoned at their deadline (render.Abandoned):
	// each still runs to its end in the background.
	Abandoned prometheus.CounterFunc
}

// NewMetrics registers the metrics; depth and remaining report the queue's
// waiting jobs and GitHub's last rate-limit budget.
func NewMetrics(depth func() int, remaining func() int) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.Deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_webhook_deliveries_total", Help: "Webhook deliveries by event (unverified before the signature check, other for events gantry does not name) and outcome.",
	}, []string{"event", "outcome"})
	m.Jobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gantry_jobs_total", Help: "Jobs run, by kind and result.",
	}, []string{"kind", "result"})
	m.JobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gantry_job_duration_seconds", Help: "Job duration by kind.", Buckets: prometheus.ExponentialBuckets(0.1, 2, 12),
	}, []string{"kind"})
	m.FirstCheck = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gantry_webhook_to_check_seconds", Help: "From a pull request webhook to its check runs in progress.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 10),
	})
	m.QueueDepth = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gantry_queue_waiting_jobs", Help: "Jobs waiting for a worker.",
	}, func() float64 { return float64(depth()) })
	m.RateLimit = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gantry_github_rate_limit_remaining", Help: "GitHub's last reported rate-limit budget (-1 unknown).",
	}, func() float64 { return float64(remaining()) })
	m.Abandoned = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gantry_renders_abandoned_total", Help: "Renders abandoned at their deadline; each keeps running in the background until it ends.",
	}, func() float64 { return float64(render.Abandoned()) })
	m.DriftEvents = prometheus.NewCounter(prometheus.CounterOpts{Name: "gantry_drift_events_total", Help: "Changes to managed objects by others than gantry, seen by the watches (debounced per app)."})
	m.Leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gantry_leader", Help: "1 while this replica is the leader: it takes webhooks and runs pipelines."})
	m.ShardsHeld = prometheus.NewGauge(prometheus.GaugeOpts{Name: "gantry_shards_held", Help: "Shards of the repositories this replica holds: it runs their jobs (0 without sharding)."})
	m.Registry.MustRegister(m.ShardsHeld, m.Deliveries, m.Jobs, m.JobSeconds, m.FirstCheck, m.QueueDepth, m.RateLimit, m.Abandoned, m.Leader, m.DriftEvents,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// notifications exposes the notifier's counters.
func (m *Metrics) notifications(n *notify.Notifier) {
	for name, f := range map[string]func(notify.Stats) uint64{
		"sent": func(s notify.Stats) uint64 { return s.Sent }, "failed": func(s notify.Stats) uint64 { return s.Failed },
		"dropped": func(s notify.Stats) uint64 { return s.Dropped }, "retried": func(s notify.Stats) uint64 { return s.Retries },
	} {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gantry_notifications_" + name + "_total", Help: "Notifications " + name + " (see notifications: in the server configuration).",
		}, func() float64 { return float64(f(n.Stats())) }))
	}
}
