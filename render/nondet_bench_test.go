package render

import (
	"syscall"
	"testing"
	"time"

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
				start := cpuTime(b)
				for b.Loop() {
					if _, _, err := r.Render(b.Context(), in.root, in.app); err != nil {
						b.Fatal(err)
					}
				}
				// CPU time, unlike ns/op, hardly moves with other
				// processes competing for the machine's cores.
				b.ReportMetric(float64(cpuTime(b)-start)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
