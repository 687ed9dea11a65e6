package bot

import (
	"fmt"
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
		v := fmt.Sprintf("v%d", i+1)
		files := map[string]string{"charts/cms/values.yaml": "count: 100\nversion: " + v + "\n"}
		var plain, kust strings.Builder
		for k := range 100 {
			fmt.Fprintf(&plain, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p-%d\ndata:\n  version: %s\n", k, v)
			fmt.Fprintf(&kust, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  version: %s\n", k, v)
		}
		files["apps/plain/cms.yaml"], files["apps/kust/base/cms.yaml"] = plain.String(), kust.String()
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
