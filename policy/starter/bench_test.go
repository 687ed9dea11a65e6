package starter

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/policy"
)

// BenchmarkPack evaluates n replicated Deployments, each with its
// PodDisruptionBudget, so the pdb rule's inventory is as large as the
// render.
func BenchmarkPack(b *testing.B) {
	for _, n := range []int{10, 200} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			src, err := Source(Settings{})
			if err != nil {
				b.Fatal(err)
			}
			e, err := policy.Load(context.Background(), []policy.Source{src})
			if err != nil {
				b.Fatal(err)
			}
			var in policy.Input
			for i := range n {
				d := replicas(2, deployment(nil))
				d.SetName(fmt.Sprintf("web-%d", i))
				labels := map[string]any{"app": d.GetName()}
				tmpl := d.Object["spec"].(map[string]any)["template"].(map[string]any)
				tmpl["metadata"] = map[string]any{"labels": labels}
				p := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
					"metadata": map[string]any{"name": d.GetName(), "namespace": "apps"},
					"spec":     map[string]any{"minAvailable": int64(1), "selector": map[string]any{"matchLabels": labels}}}}
				in.Objects = append(in.Objects, policy.Object{Obj: d}, policy.Object{Obj: p})
			}
			b.ResetTimer()
			for b.Loop() {
				r, err := e.Evaluate(context.Background(), in)
				if err != nil || len(r.Findings) != 0 {
					b.Fatalf("%d findings, %v", len(r.Findings), err)
				}
			}
		})
	}
}
