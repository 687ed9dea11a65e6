package schema

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
)

// benchObjects are n objects of an ordinary app: a third each of
// Deployments, Services and ConfigMaps.
func benchObjects(b *testing.B, n int, ns string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := range n {
		var doc string
		switch i % 3 {
		case 0:
			doc = fmt.Sprintf(`{apiVersion: apps/v1, kind: Deployment, metadata: {name: d%d}, spec: {replicas: 2, selector: {matchLabels: {app: d%d}},
			  template: {metadata: {labels: {app: d%d}}, spec: {containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}],
			  resources: {requests: {cpu: 10m, memory: 32Mi}}}]}}}}`, i, i, i)
		case 1:
			doc = fmt.Sprintf(`{apiVersion: v1, kind: Service, metadata: {name: s%d}, spec: {selector: {app: d%d}, ports: [{port: 80, targetPort: 80}]}}`, i, i-1)
		default:
			doc = fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: c%d}, data: {a: "1", b: "two"}}`, i)
		}
		o := parse(b, doc)
		o.SetNamespace(ns)
		out = append(out, o)
	}
	return out
}

// BenchmarkOfflineVersusLiveDryRun validates the same objects offline and
// through gantry's live diff (a server-side apply dry-run of each on the
// local kube-apiserver): run with
//
//	go test ./schema -run '^$' -bench OfflineVersusLive -benchtime 5x
func BenchmarkOfflineVersusLiveDryRun(b *testing.B) {
	ctx := context.Background()
	if _, err := Load("1.34"); err != nil { // loaded once per process, as in the server
		b.Fatal(err)
	}
	for _, n := range []int{30, 300} {
		ns := kube.Namespace(b)
		objs := benchObjects(b, n, ns)
		b.Run(fmt.Sprintf("offline/%d", n), func(b *testing.B) {
			for b.Loop() {
				res, err := Validate(ctx, objs, Options{})
				if err != nil || len(res.Problems) > 0 || res.Checked != n {
					b.Fatalf("validate: %v %v", err, res)
				}
			}
		})
		b.Run(fmt.Sprintf("live-dry-run/%d", n), func(b *testing.B) {
			c, err := cluster.NewClient(kube.Config, cluster.DefaultClientOptions())
			if err != nil {
				b.Fatal(err)
			}
			app := config.App{Name: "bench", Namespace: ns}
			for b.Loop() {
				set, err := c.Diff(ctx, app, objs, cluster.DefaultDiffOptions("acme/bench"))
				if err != nil || set.HasErrors() {
					b.Fatalf("diff: %v", err)
				}
			}
		})
	}
}

// BenchmarkLoadCatalog is the one-time cost of a process's first offline
// validation: decompressing the shipped schemas and building their type
// converter.
func BenchmarkLoadCatalog(b *testing.B) {
	raw, err := data.ReadFile("data/" + FileName("1.34"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}
