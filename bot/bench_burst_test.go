package bot

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// BenchmarkBurstThroughput measures, on the simulator and a real local
// cluster, how many pull requests of three apps (plain YAML, Kustomize,
// Helm; 100 objects each) gantry plans per minute when they all arrive at
// once, for 1, 2 and 4 workers, and webhook -> checks in_progress p50 and
// p99 under that burst. GANTRY_BENCH_PRS sets the burst (default 8).
func BenchmarkBurstThroughput(b *testing.B) {
	prs := 8
	if v, err := strconv.Atoi(os.Getenv("GANTRY_BENCH_PRS")); err == nil && v > 0 {
		prs = v
	}
	var lines []string
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			bu := newBurst(b, benchRepo(100), workers, 1)
			var perMin, p50, p99 float64
			round := 0
			for b.Loop() {
				round++
				bu.latMu.Lock()
				bu.latency = nil
				bu.latMu.Unlock()
				var heads []string
				bu.sim.HoldDeliveries()
				for i := range prs {
					br := fmt.Sprintf("bench-%d-%d", round, i)
					_, head, err := bu.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: br, Base: "main", Title: br, Files: withNS(benchVersion(fmt.Sprintf("r%d-%d", round, i)), bu.ns)})
					if err != nil {
						b.Fatal(err)
					}
					heads = append(heads, head)
				}
				start := time.Now()
				bu.sim.ReleaseDeliveries(nil)
				deadline := start.Add(10 * time.Minute)
				for _, h := range heads {
					for !bu.completed(h) {
						if time.Now().After(deadline) {
							b.Fatalf("%s not planned within 10 minutes", shortSHA(h))
						}
						time.Sleep(10 * time.Millisecond)
					}
					if c := bu.checks(h)[report.CheckDiff]; c.Conclusion != "success" || !strings.Contains(c.Title, "3 apps change") {
						b.Fatalf("diff check %s %q, want success for 3 apps", c.Conclusion, c.Title)
					}
				}
				elapsed := time.Since(start)
				perMin = float64(prs) / elapsed.Minutes()
				bu.latMu.Lock()
				p50, p99 = quantile(bu.latency, 0.5).Seconds(), quantile(bu.latency, 0.99).Seconds()
				bu.latMu.Unlock()
			}
			b.ReportMetric(perMin, "PRs/min")
			b.ReportMetric(p50, "s-in-progress-p50")
			b.ReportMetric(p99, "s-in-progress-p99")
			b.ReportMetric(0, "ns/op")
			lines = append(lines, fmt.Sprintf("workers %d: %6.1f PRs planned per minute (3 apps, 300 objects each; a burst of %d); webhook -> in_progress p50 %.2f s, p99 %.2f s",
				workers, perMin, prs, p50, p99))
		})
	}
	fmt.Println(strings.Join(lines, "\n"))
}
