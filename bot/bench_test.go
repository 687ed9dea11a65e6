package bot

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// benchRepo is a repository of three apps, one per render kind, of 100
// ConfigMaps each: 300 objects.
func benchRepo(n int) map[string]string {
	files := map[string]string{
		".gantry.yaml": `version: 1
apps:
  - {name: plain, path: apps/plain, namespace: NS}
  - {name: kust, path: apps/kust/overlay, namespace: NS}
  - {name: chart, path: charts/cms, namespace: NS}
`,
		"apps/kust/overlay/kustomization.yaml": "resources: [../base]\nnamePrefix: k-\n",
		"charts/cms/Chart.yaml":                "apiVersion: v2\nname: cms\nversion: 0.1.0\n",
		"charts/cms/values.yaml":               fmt.Sprintf("count: %d\nversion: v1\n", n),
		"charts/cms/templates/cms.yaml": `{{- range $i := until (int .Values.count) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: h-{{ $i }}
data:
  version: {{ $.Values.version }}
{{- end }}
`,
	}
	var plain, kust, kustRes strings.Builder
	for i := range n {
		fmt.Fprintf(&plain, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-%d\ndata:\n  version: v1\n", i)
		fmt.Fprintf(&kust, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  version: v1\n", i)
	}
	kustRes.WriteString("resources: [cms.yaml]\n")
	files["apps/plain/cms.yaml"] = plain.String()
	files["apps/kust/base/cms.yaml"] = kust.String()
	files["apps/kust/base/kustomization.yaml"] = kustRes.String()
	return files
}

// BenchmarkWebhookToComment measures, on the simulator and a real local
// cluster, a pull request touching 300 objects across three apps of three
// render kinds: from the webhook's delivery to the check runs in progress
// (goal: under 1 s), and to the final comment and completed checks (goal:
// under 5 s).
func BenchmarkWebhookToComment(b *testing.B) {
	l := startServer(b, benchRepo(100), "")
	var toCheck, toComment time.Duration
	i := 0
	for b.Loop() {
		i++
		files := benchVersion(fmt.Sprintf("v%d", i+1))
		start := time.Now()
		_, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: fmt.Sprintf("bench-%d", i), Base: "main", Title: "bench", Files: withNS(files, l.ns)})
		if err != nil {
			b.Fatal(err)
		}
		for len(l.checks(head)) < 2 {
			time.Sleep(2 * time.Millisecond)
		}
		toCheck += time.Since(start)
		for !l.completed(head) {
			time.Sleep(5 * time.Millisecond)
		}
		toComment += time.Since(start)
		if c := l.checks(head)[report.CheckDiff]; c.Conclusion != "success" || !strings.Contains(c.Title, "3 apps change: 300 create") {
			b.Fatalf("diff check %s %q, want success with 300 creates", c.Conclusion, c.Title)
		}
	}
	n := float64(i)
	b.ReportMetric(toCheck.Seconds()/n, "s-to-in-progress")
	b.ReportMetric(toComment.Seconds()/n, "s-to-comment")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("webhook -> checks in progress: %.3f s (goal < 1 s)\nwebhook -> final comment, 300 objects in 3 apps: %.3f s (goal < 5 s)\n",
		toCheck.Seconds()/n, toComment.Seconds()/n)
}

// benchVersion is benchRepo's change to version v: all 300 objects.
func benchVersion(v string) map[string]string {
	files := map[string]string{"charts/cms/values.yaml": "count: 100\nversion: " + v + "\n"}
	var plain, kust strings.Builder
	for k := range 100 {
		fmt.Fprintf(&plain, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-%d\ndata:\n  version: %s\n", k, v)
		fmt.Fprintf(&kust, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  version: %s\n", k, v)
	}
	files["apps/plain/cms.yaml"], files["apps/kust/base/cms.yaml"] = plain.String(), kust.String()
	return files
}

// BenchmarkMergeToApplied measures a merge changing 300 objects in three
// apps, from the merge to the gantry/apply check run completed (pruning
// and waiting for health), beside `gantry apply --prune --wait` (the CLI,
// GANTRY_BIN) applying the same change to the same API server. Goal: the
// bot adds under 1 s.
func BenchmarkMergeToApplied(b *testing.B) {
	bin := os.Getenv("GANTRY_BIN")
	if bin == "" {
		b.Fatal("GANTRY_BIN must name a gantry binary (hack/bench-bot.sh builds one)")
	}
	l := startServer(b, benchRepo(100), "")
	// The CLI's copy of the repository, in a namespace of its own.
	cliNS := kube.Namespace(b)
	dir := b.TempDir()
	write := func(files map[string]string) {
		for name, body := range withNS(files, cliNS) {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	cli := func() time.Duration {
		start := time.Now()
		out, err := exec.Command(bin, "apply", "--repo", dir, "--kubeconfig", kube.Kubeconfig, "--prune", "--wait").CombinedOutput()
		if err != nil {
			b.Fatalf("gantry apply: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	write(benchRepo(100))
	cli()
	// The first merge creates the objects; the timed ones change them.
	_, first := l.mergeQuiet(b, "bench-0", benchVersion("v0"))
	l.appliedB(b, first)
	var bot, anchor time.Duration
	i := 0
	for b.Loop() {
		i++
		v := fmt.Sprintf("v%d", i+1)
		n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: fmt.Sprintf("bench-%d", i), Base: "main", Title: "bench", Files: withNS(benchVersion(v), l.ns)})
		if err != nil {
			b.Fatal(err)
		}
		for !l.completed(head) {
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		sha, err := l.sim.MergePR("maria", "acme", "ops", n)
		if err != nil {
			b.Fatal(err)
		}
		c := l.appliedB(b, sha)
		bot += time.Since(start)
		if c.Conclusion != "success" {
			b.Fatalf("gantry/apply %s %q", c.Conclusion, c.Title)
		}
		write(benchVersion(v))
		anchor += cli()
	}
	k := float64(i)
	b.ReportMetric(bot.Seconds()/k, "s-merge-to-applied")
	b.ReportMetric(anchor.Seconds()/k, "s-cli-apply")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("merge -> gantry/apply completed, 300 objects in 3 apps: %.3f s; gantry apply --prune --wait (CLI), same change: %.3f s; the bot adds %.3f s (goal < 1 s)\n",
		bot.Seconds()/k, anchor.Seconds()/k, (bot-anchor).Seconds()/k)
}

// mergeQuiet opens and merges a pull request without waiting for its plan.
func (l *live) mergeQuiet(b testing.TB, branch string, files map[string]string) (int, string) {
	n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: branch, Files: withNS(files, l.ns)})
	if err != nil {
		b.Fatal(err)
	}
	for !l.completed(head) {
		time.Sleep(5 * time.Millisecond)
	}
	sha, err := l.sim.MergePR("maria", "acme", "ops", n)
	if err != nil {
		b.Fatal(err)
	}
	return n, sha
}

// appliedB waits for the gantry/apply check run on sha to complete.
func (l *live) appliedB(b testing.TB, sha string) githubsim.CheckRun {
	deadline := time.Now().Add(2 * time.Minute)
	for l.checks(sha)[report.CheckApply].Status != "completed" {
		if time.Now().After(deadline) {
			b.Fatalf("no gantry/apply on %s", sha)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return l.checks(sha)[report.CheckApply]
}
