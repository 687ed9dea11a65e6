package bot

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/gantryops/gantry/cluster"
)

func TestLockWaitsCountOnceAndTimeUntilTaken(t *testing.T) {
	w := newLockWaits()
	a, b := Job{Owner: "acme", Repo: "ops", PR: 1}, Job{Owner: "acme", Repo: "ops", PR: 2}
	t0 := time.Unix(1000, 0)
	w.blocked(a, "web", t0)
	w.blocked(a, "web", t0.Add(time.Minute)) // a second plan of the same wait
	w.blocked(b, "web", t0)
	w.took(a, "api", t0) // a lock it never waited for
	w.took(a, "web", t0.Add(3*time.Minute))
	w.closed(b)
	w.took(b, "web", t0.Add(time.Hour)) // closed: its wait is forgotten
	if got := counterValue(t, w.Waits); got != 2 {
		t.Errorf("waits %v, want 2", got)
	}
	if n, sum := histogramValue(t, w.Seconds); n != 1 || sum != 180 {
		t.Errorf("wait seconds: %d observations summing %v, want 1 of 180", n, sum)
	}
	if len(w.since) != 0 {
		t.Errorf("waits left %v", w.since)
	}
	var none *lockWaits // a Pipeline without metrics
	none.blocked(a, "web", t0)
	none.took(a, "web", t0)
	none.closed(a)
}

// TestLockWaitsOnMetricsAndLogsNameTheirJob: a pull request planned while
// another holds its app's lock waits; the wait ends when a later plan
// takes the lock, and /metrics says so. The JSON log lines of the
// pipeline carry the repository, the pull request or branch, the
// delivery and the app.
func TestLockWaitsOnMetricsAndLogsNameTheirJob(t *testing.T) {
	l := startServer(t, applyFiles, "")
	one, _ := l.openAndPlan(t, "one", withNS(map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)}, l.ns))
	two, _ := l.openAndPlan(t, "two", withNS(map[string]string{"apps/web/cm.yaml": configMap("web-config", "two")}, l.ns))
	metrics := l.get(t, l.url+"/metrics")
	for _, want := range []string{"gantry_lock_waits_total 1\n", "gantry_lock_waiting 1\n", "gantry_lock_wait_seconds_count 0\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics while #%d waits lacks %q:\n%s", two, want, grepLines(metrics, "gantry_lock"))
		}
	}
	merge, err := l.sim.MergePR("maria", "acme", "ops", one)
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	cl, _ := l.pipe.Clusters.Get("local")
	waitFor(t, "lock released", func() bool {
		lk, err := cl.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "web"})
		return err == nil && lk == nil
	})
	if err := l.sim.SetPermission("acme", "ops", "alice", "write"); err != nil {
		t.Fatal(err)
	}
	l.comment(t, "alice", two, "/gantry plan")
	waitFor(t, "the wait to end", func() bool {
		return strings.Contains(l.get(t, l.url+"/metrics"), "gantry_lock_wait_seconds_count 1\n")
	})
	if m := l.get(t, l.url+"/metrics"); !strings.Contains(m, "gantry_lock_waiting 0\n") || !strings.Contains(m, "gantry_lock_waits_total 1\n") {
		t.Errorf("/metrics after the wait:\n%s", grepLines(m, "gantry_lock"))
	}

	// Every line of a job names what it is about.
	want := map[string]map[string]any{
		"plan published": {"repository": "acme/ops", "pr": float64(two), "kind": "plan"},
		"job queued":     {"repository": "acme/ops", "pr": float64(two), "event": "pull_request"},
		"applied":        {"repository": "acme/ops", "branch": "main", "kind": "apply", "app": "web", "head": shortSHA(merge)},
	}
	found := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(l.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("a log line is not JSON: %v\n%s", err, sc.Text())
		}
		fields, ok := want[fmt.Sprint(line["msg"])]
		if !ok || found[fmt.Sprint(line["msg"])] || !matches(line, fields) {
			continue
		}
		found[fmt.Sprint(line["msg"])] = true
		if d, _ := line["delivery"].(string); d == "" {
			t.Errorf("%q has no delivery: %v", line["msg"], line)
		}
	}
	for msg, fields := range want {
		if !found[msg] {
			t.Errorf("no %q line with %v in:\n%s", msg, fields, l.logs.String())
		}
	}
}

func matches(line, fields map[string]any) bool {
	for k, v := range fields {
		if line[k] != v {
			return false
		}
	}
	return true
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func histogramValue(t *testing.T, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}
