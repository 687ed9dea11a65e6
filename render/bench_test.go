package render

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/config"
)

// benchServices is how many services the large inputs hold; each is a
// Deployment, a Service and a ConfigMap.
const benchServices = 300

// writeKustomizeBench writes a large Kustomize layout under dir: a base of
// benchServices services in separate files, and an overlay at
// overlays/prod with a name prefix, labels, an image override, a
// strategic-merge patch per ten services and a config map generator.
func writeKustomizeBench(t testing.TB, dir string) {
	var res []string
	for i := 0; i < benchServices; i++ {
		name := fmt.Sprintf("svc%03d", i)
		res = append(res, "  - "+name+".yaml")
		writeFile(t, dir, "base/"+name+".yaml", fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
        - name: app
          image: ghcr.io/acme/app:1.0.0
          ports: [{containerPort: 8080}]
          env:
            - {name: SERVICE, value: %[1]s}
            - {name: LOG_LEVEL, value: info}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: %[1]s-config
data:
  service: %[1]s
  settings.json: '{"feature": true, "limit": %[2]d}'
`, name, i))
	}
	writeFile(t, dir, "base/kustomization.yaml", "resources:\n"+strings.Join(res, "\n")+"\n")
	var patches []string
	for i := 0; i < benchServices; i += 10 {
		name := fmt.Sprintf("svc%03d", i)
		patches = append(patches, "  - path: patches/"+name+".yaml")
		writeFile(t, dir, "overlays/prod/patches/"+name+".yaml", fmt.Sprintf(
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 3\n", name))
	}
	writeFile(t, dir, "overlays/prod/kustomization.yaml", `namePrefix: prod-
namespace: shop
labels:
  - pairs: {env: prod}
    includeSelectors: false
resources:
  - ../../base
images:
  - name: ghcr.io/acme/app
    newTag: 1.2.3
configMapGenerator:
  - name: global
    literals: [REGION=eu-west-1, TIER=gold]
patches:
`+strings.Join(patches, "\n")+"\n")
}

// writeHelmBench writes a large chart under dir: benchServices services
// from a range over values, with helpers and a subchart.
func writeHelmBench(t testing.TB, dir string) {
	writeFile(t, dir, "Chart.yaml", "apiVersion: v2\nname: big\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: 0.1.0\n")
	var vals strings.Builder
	vals.WriteString("image: ghcr.io/acme/app\ntag: 1.0.0\nservices:\n")
	for i := 0; i < benchServices; i++ {
		fmt.Fprintf(&vals, "  - name: svc%03d\n    replicas: %d\n    port: 8080\n", i, 1+i%3)
	}
	writeFile(t, dir, "values.yaml", vals.String())
	writeFile(t, dir, "templates/_helpers.tpl", `{{- define "big.labels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .svc.name }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
{{- end -}}
`)
	writeFile(t, dir, "templates/services.yaml", `{{- range .Values.services }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .name }}
  labels:
    {{- include "big.labels" (dict "root" $ "svc" .) | nindent 4 }}
spec:
  replicas: {{ .replicas }}
  selector:
    matchLabels: {app: {{ .name }}}
  template:
    metadata:
      labels: {app: {{ .name }}}
    spec:
      containers:
        - name: app
          image: "{{ $.Values.image }}:{{ $.Values.tag }}"
          ports: [{containerPort: {{ .port }}}]
          env:
            - {name: SERVICE, value: {{ .name | quote }}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ .name }}
  labels:
    {{- include "big.labels" (dict "root" $ "svc" .) | nindent 4 }}
spec:
  selector: {app: {{ .name }}}
  ports: [{port: 80, targetPort: {{ .port }}}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}-config
data:
  service: {{ .name }}
  settings.json: {{ dict "feature" true "replicas" .replicas | toJson | quote }}
{{- end }}
`)
	writeFile(t, dir, "charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: 0.1.0\n")
	writeFile(t, dir, "charts/sub/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-sub\ndata:\n  a: b\n")
}

// TestWriteBenchInput writes the benchmark inputs and checks they render
// to the expected number of objects. With $GANTRY_RENDER_BENCH_DIR set it
// writes there, for hack/bench-render.sh, which times the CLIs on them.
func TestWriteBenchInput(t *testing.T) {
	dir := os.Getenv("GANTRY_RENDER_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	writeKustomizeBench(t, filepath.Join(dir, "kustomize"))
	writeHelmBench(t, filepath.Join(dir, "chart"))
	for _, app := range []config.App{
		{Name: "bench", Path: "kustomize/overlays/prod", Render: config.RenderKustomize},
		{Name: "bench", Path: "chart", Render: config.RenderHelm, Namespace: "shop"},
	} {
		objs, _, err := Render(t.Context(), dir, app)
		if err != nil {
			t.Fatalf("%s: %v", app.Path, err)
		}
		if len(objs) != 3*benchServices+1 {
			t.Errorf("%s rendered %d objects, want %d", app.Path, len(objs), 3*benchServices+1)
		}
	}
}

// benchRender renders app from root b.N times.
func benchRender(b *testing.B, root string, app config.App, want int) {
	b.ReportAllocs()
	for b.Loop() {
		objs, _, err := Render(b.Context(), root, app)
		if err != nil {
			b.Fatal(err)
		}
		if len(objs) != want {
			b.Fatalf("rendered %d objects, want %d", len(objs), want)
		}
	}
}

// benchInput writes input into a temporary directory.
func benchInput(b *testing.B, write func(testing.TB, string)) string {
	dir := b.TempDir()
	write(b, dir)
	return dir
}

func BenchmarkRenderKustomizeLarge(b *testing.B) {
	root := benchInput(b, writeKustomizeBench)
	benchRender(b, root, config.App{Name: "bench", Path: "overlays/prod", Render: config.RenderKustomize}, 3*benchServices+1)
}

func BenchmarkRenderHelmLarge(b *testing.B) {
	root := benchInput(b, writeHelmBench)
	benchRender(b, root, config.App{Name: "bench", Path: ".", Render: config.RenderHelm, Namespace: "shop"}, 3*benchServices+1)
}
