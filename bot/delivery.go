package bot

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gantryops/gantry/delivery"
)

// deliveryStats computes the delivery metrics of every app from the apply
// records of every cluster, at most every deliveryTTL: the pages and each
// Prometheus scrape read the same figures without a cluster read each.
type deliveryStats struct {
	s     *Server
	mu    sync.Mutex
	at    time.Time
	stats []delivery.Stats
}

const deliveryTTL = 30 * time.Second

func (d *deliveryStats) get(ctx context.Context) []delivery.Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) < deliveryTTL {
		return d.stats
	}
	var out []delivery.Stats
	now := time.Now()
	for _, cc := range d.s.cfg.Clusters {
		c, err := d.s.pipe.Clusters.Get(cc.Name)
		if err != nil {
			continue
		}
		records, err := c.AllRecords(ctx)
		if err != nil {
			d.s.log.Warn("apply records not read for the delivery metrics", "cluster", cc.Name, "err", err)
			continue
		}
		for _, rs := range records {
			st := delivery.Compute(rs, now)
			if st.Cluster == "" {
				st.Cluster = cc.Name
			}
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].App < out[j].App
	})
	d.stats, d.at = out, time.Now()
	return out
}

var (
	deliveryLabels   = []string{"repository", "app", "cluster"}
	descDeployments  = prometheus.NewDesc("gantry_deployments", "Applies of changes in the records kept per app (merge, command, resync, rollback).", deliveryLabels, nil)
	descPerDay       = prometheus.NewDesc("gantry_deployments_per_day", "Deployment frequency over the span of the records kept.", deliveryLabels, nil)
	descLeadTime     = prometheus.NewDesc("gantry_lead_time_seconds", "Median time from a change's first commit to its apply.", deliveryLabels, nil)
	descFailureRate  = prometheus.NewDesc("gantry_change_failure_rate", "Share of deployments that failed, were unhealthy or were reverted.", deliveryLabels, nil)
	descRestore      = prometheus.NewDesc("gantry_time_to_restore_seconds", "Mean time from a failed deployment to the app's next healthy apply.", deliveryLabels, nil)
	deliveryDescribe = []*prometheus.Desc{descDeployments, descPerDay, descLeadTime, descFailureRate, descRestore}
)

// Describe implements prometheus.Collector.
func (d *deliveryStats) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range deliveryDescribe {
		ch <- desc
	}
}

// Collect implements prometheus.Collector.
func (d *deliveryStats) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, st := range d.get(ctx) {
		l := []string{st.Repository, st.App, st.Cluster}
		ch <- prometheus.MustNewConstMetric(descDeployments, prometheus.GaugeValue, float64(st.Deployments), l...)
		ch <- prometheus.MustNewConstMetric(descPerDay, prometheus.GaugeValue, st.PerDay, l...)
		ch <- prometheus.MustNewConstMetric(descLeadTime, prometheus.GaugeValue, st.LeadTime.Seconds(), l...)
		ch <- prometheus.MustNewConstMetric(descFailureRate, prometheus.GaugeValue, st.FailureRate, l...)
		ch <- prometheus.MustNewConstMetric(descRestore, prometheus.GaugeValue, st.TimeToRestore.Seconds(), l...)
	}
}
