package render

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"

	"github.com/gantryops/gantry/config"
)

// FuzzHelmTemplate renders a chart whose one template is arbitrary text.
// A render never panics and every error names a file of the chart; when
// both gantry and Helm accept the output, gantry's objects equal the ones
// decoded from what `helm template` would print, built here with Helm's
// own manifest sorter (the oracle for how Helm splits and trims documents).
func FuzzHelmTemplate(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  rules: |\n    {}",
		"{{- if true }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\ndata:\n  k: |+\n    x\n\n\n{{- end -}}",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata:\n  s: |-\n    y",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\n  annotations: {helm.sh/hook: pre-install}\ndata:\n  run: |\n    {{ .Release.Name }}",
		"  apiVersion: v1\n  kind: ConfigMap\n",
		"{{ fail \"no\" }}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tmpl string) {
		root := t.TempDir()
		writeFile(t, root, "chart/Chart.yaml", "apiVersion: v2\nname: fuzz\nversion: 0.1.0\n")
		writeFile(t, root, "chart/templates/t.yaml", tmpl)
		app := config.App{Name: "fuzz", Path: "chart", Render: config.RenderHelm, Namespace: "fuzz"}
		r := Renderer{Limits: Limits{MaxFileBytes: 1 << 20, MaxNodes: 20_000, MaxDepth: 32, MaxObjects: 500, Timeout: 10 * time.Second}}
		objs, _, err := r.Render(context.Background(), root, app)
		if err != nil {
			for _, e := range AsErrors(err) {
				if !strings.HasPrefix(e.File, "chart/") && e.File != config.RepoFileName {
					t.Errorf("error %q names %q, want a file of the chart", e.Error(), e.File)
				}
			}
			return
		}
		want, ok := helmTemplateObjects(t, filepath.Join(root, "chart"), app)
		if !ok {
			return
		}
		got := map[string]map[string]any{}
		for _, o := range objs {
			if unknownHook(o.GetAnnotations()[helmHookAnnotation]) {
				continue // Helm leaves these out; gantry keeps them (a known difference)
			}
			got[KeyOf(o).String()] = o.Object
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("gantry vs helm template for %q (-helm +gantry):\n%s", tmpl, diff)
		}
	})
}

// helmTemplateObjects renders the chart at dir and prints it as `helm
// template --skip-tests` does (manifests, then hooks, each "---", the
// document, a newline), then decodes that stream as the golden test
// decodes the CLI's output. It reports false when Helm rejects the output.
func helmTemplateObjects(t *testing.T, dir string, app config.App) (map[string]map[string]any, bool) {
	t.Helper()
	chrt, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load chart gantry rendered: %v", err)
	}
	kv, err := chartutil.ParseKubeVersion(config.KubeLibraryVersion())
	if err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	out, _, err := renderChart(chrt, map[string]any{}, app.Name, app.Namespace, caps, false)
	if err != nil {
		t.Fatalf("helm engine failed where gantry's render succeeded: %v", err)
	}
	hooks, manifests, err := releaseutil.SortManifests(out, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, false
	}
	var b strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	for _, h := range hooks {
		test := false
		for _, e := range h.Events {
			test = test || isTestHook(e.String())
		}
		if test {
			continue
		}
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	docs, err := decodeYAML("helm-template.yaml", []byte(b.String()), DefaultLimits())
	if err != nil {
		return nil, false
	}
	objs, errs := objectsFromDocs("helm-template.yaml", docs)
	if len(errs) > 0 {
		return nil, false
	}
	defaultNamespaces(objs, app.Namespace, nil)
	want := map[string]map[string]any{}
	for _, o := range objs {
		want[KeyOf(o.obj).String()] = o.obj.Object
	}
	return want, true
}

// unknownHook reports whether a helm.sh/hook value names an event Helm
// does not know, for which Helm drops the object.
func unknownHook(hook string) bool {
	if hook == "" {
		return false
	}
	for _, h := range strings.Split(hook, ",") {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "pre-install", "post-install", "pre-delete", "post-delete", "pre-upgrade",
			"post-upgrade", "pre-rollback", "post-rollback", "test", "test-success":
		default:
			return true
		}
	}
	return false
}
