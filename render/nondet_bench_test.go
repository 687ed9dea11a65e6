package render

import (
	"testing"

	"github.com/gantryops/gantry/config"
)

// BenchmarkHelmSecondRender measures what finding the fields that are not
// deterministic costs: each chart rendered with Helm's template engine run
// once (as before) and twice (as now). "large" is the deterministic
// 300-service chart of BenchmarkRenderHelmLarge (901 objects: the second
// run's output equals the first, nothing is decoded again); "large-random"
// is that chart with a generated annotation on every Deployment (every
// Deployment compared field by field); "auth" is the testdata chart with
// passwords, bcrypt, a generated CA and UUIDs.
func BenchmarkHelmSecondRender(b *testing.B) {
	large := benchInput(b, writeHelmBench)
	random := benchInput(b, func(t testing.TB, dir string) {
		writeHelmBench(t, dir)
		writeFile(t, dir, "templates/random.yaml", `{{- range .Values.services }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ .name }}-token
data:
  token: {{ randAlphaNum 32 | b64enc | quote }}
{{- end }}
`)
	})
	inputs := []struct {
		name, root string
		app        config.App
	}{
		{"large", large, config.App{Name: "bench", Path: ".", Render: config.RenderHelm, Namespace: "shop"}},
		{"large-random", random, config.App{Name: "bench", Path: ".", Render: config.RenderHelm, Namespace: "shop"}},
		{"auth", nondetRepo, config.App{Name: "auth", Path: "apps/auth", Render: config.RenderHelm, Namespace: "auth"}},
	}
	for _, in := range inputs {
		for _, mode := range []struct {
			name string
			once bool
		}{{"once", true}, {"twice", false}} {
			b.Run(in.name+"/"+mode.name, func(b *testing.B) {
				r := &Renderer{hooks: &renderHooks{once: mode.once}}
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := r.Render(b.Context(), in.root, in.app); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
