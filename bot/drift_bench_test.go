package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// driftBenchRepo is five plain-YAML apps of 200 ConfigMaps each: 1,000
// managed objects.
func driftBenchRepo() map[string]string {
	files := map[string]string{}
	var model strings.Builder
	model.WriteString("version: 1\napps:\n")
	for a := range 5 {
		fmt.Fprintf(&model, "  - {name: app%d, path: apps/app%d, namespace: NS}\n", a, a)
		var b strings.Builder
		for i := range 200 {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a%d-cm-%d\ndata:\n  value: \"v0\"\n", a, i)
		}
		files[fmt.Sprintf("apps/app%d/cms.yaml", a)] = b.String()
	}
	files[".gantry.yaml"] = model.String()
	return files
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEditToDriftPR measures, with 1,000 managed objects in five
// apps, an out-of-band edit to the drift pull request open (p50 and p95
// over the edits; each drift pull request is then closed, restoring the
// cluster), and the CPU the idle watches cost over a minute. Goals: p50
// under 5 s, p95 under 10 s, idle under 2% of a core.
func BenchmarkEditToDriftPR(b *testing.B) {
	files := driftBenchRepo()
	l := startServer(b, map[string]string{".gantry.yaml": files[".gantry.yaml"], "README.md": "bench\n"}, "")
	delete(files, ".gantry.yaml")
	_, first := l.mergeQuiet(b, "all", files)
	if c := l.appliedB(b, first); c.Conclusion != "success" {
		b.Fatalf("first apply: %s %q", c.Conclusion, c.Title)
	}
	// Idle: nothing changes for a minute.
	idle := 60 * time.Second
	if testing.Short() {
		idle = 10 * time.Second
	}
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(idle)
	idleShare := float64(cpuTime()-c0) / float64(time.Since(t0))
	var lat []time.Duration
	i := 0
	for b.Loop() {
		app := i % 5
		i++
		value := fmt.Sprintf("edited-%d", i)
		name := fmt.Sprintf("a%d-cm-%d", app, i%200)
		cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cm.Data["value"] = value
		start := time.Now()
		if _, err := kube.Client.CoreV1().ConfigMaps(l.ns).Update(context.Background(), cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
			b.Fatal(err)
		}
		appName := fmt.Sprintf("app%d", app)
		deadline := time.Now().Add(time.Minute)
		for {
			if pr := l.driftPR(b, appName); pr != nil && strings.Contains(pr.GetBody(), value) {
				lat = append(lat, time.Since(start))
				if err := l.sim.ClosePR("maria", "acme", "ops", pr.GetNumber()); err != nil {
					b.Fatal(err)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("no drift pull request for %s within a minute", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The close restores the cluster; wait until it has.
		for deadline := time.Now().Add(time.Minute); ; {
			cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), name, metav1.GetOptions{})
			if err == nil && cm.Data["value"] == "v0" {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s not restored after its drift pull request closed", name)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	slices.Sort(lat)
	p50, p95 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*95/100)]
	b.ReportMetric(p50.Seconds(), "s-p50")
	b.ReportMetric(p95.Seconds(), "s-p95")
	b.ReportMetric(idleShare*100, "%-idle-cpu")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("edit -> drift PR open, 1,000 objects in 5 apps, %d edits: p50 %.2f s (goal < 5 s), p95 %.2f s (goal < 10 s); idle watches: %.2f%% of a core over %s (goal < 2%%; bot and simulator in one process)\n",
		len(lat), p50.Seconds(), p95.Seconds(), idleShare*100, idle)
}
