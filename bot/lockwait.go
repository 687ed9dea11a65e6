package bot

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// lockWaits measures the waits for app locks: a pull request whose plan
// finds an app locked by another pull request waits from that plan to the
// plan that takes the lock. Waits are kept in memory: a restart forgets
// the ones in progress, which then count from the next plan.
type lockWaits struct {
	mu    sync.Mutex
	since map[lockWaitKey]time.Time
	// Waits counts waits begun, Seconds observes each ended by taking
	// the lock, Waiting is how many are in progress.
	Waits   prometheus.Counter
	Seconds prometheus.Histogram
	Waiting prometheus.GaugeFunc
}

type lockWaitKey struct {
	lane, app string
}

// maxLockWaits bounds the waits remembered; past it new waits are counted
// but not timed.
const maxLockWaits = 10000

func newLockWaits() *lockWaits {
	w := &lockWaits{since: map[lockWaitKey]time.Time{}}
	w.Waits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gantry_lock_waits_total", Help: "Waits begun: a pull request's plan found an app locked by another pull request.",
	})
	w.Seconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "gantry_lock_wait_seconds", Help: "From the plan that found an app locked by another pull request to the plan that took its lock.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10),
	})
	w.Waiting = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gantry_lock_waiting", Help: "Waits in progress: a pull request and app whose lock another pull request holds.",
	}, func() float64 {
		w.mu.Lock()
		defer w.mu.Unlock()
		return float64(len(w.since))
	})
	return w
}

// blocked records that j's plan found app locked by another pull request.
func (w *lockWaits) blocked(j Job, app string, now time.Time) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := lockWaitKey{j.Lane(), app}
	if _, ok := w.since[k]; ok {
		return
	}
	w.Waits.Inc()
	if len(w.since) < maxLockWaits {
		w.since[k] = now
	}
}

// took records that j's plan holds app's lock, ending its wait if any.
func (w *lockWaits) took(j Job, app string, now time.Time) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	k := lockWaitKey{j.Lane(), app}
	if t, ok := w.since[k]; ok {
		w.Seconds.Observe(now.Sub(t).Seconds())
		delete(w.since, k)
	}
}

// closed forgets the waits of a pull request that closed.
func (w *lockWaits) closed(j Job) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.since {
		if k.lane == j.Lane() {
			delete(w.since, k)
		}
	}
}
