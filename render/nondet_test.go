package render

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chartutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/nondet"
)

// nondetRepo holds the chart whose templates call random and time
// functions (randAlphaNum, htpasswd, genCA, uuidv4, now, and a generated
// value stored in .Values with set).
const nondetRepo = "testdata/nondet"

// unstableOf returns, per object key, the fields its FieldsAnnotation
// lists; objects without it are left out.
func unstableOf(t *testing.T, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range objs {
		if v, ok := o.GetAnnotations()[nondet.FieldsAnnotation]; ok {
			out[KeyOf(o).String()] = v
		}
	}
	return out
}

// inputsOf returns, per object key, its InputsAnnotation.
func inputsOf(objs []*unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, o := range objs {
		if v, ok := o.GetAnnotations()[nondet.InputsAnnotation]; ok {
			out[KeyOf(o).String()] = v
		}
	}
	return out
}

// TestUnstableFieldsFound renders a chart that uses random and time
// functions: exactly the fields that differ between two renders are
// listed, per object, and objects of the same template that do not differ
// (the static ConfigMap beside a ServiceAccount with a random annotation)
// carry nothing. A generated value kept in .Values (sprig's set) is found
// only when each engine run starts from its own copy of the values.
func TestUnstableFieldsFound(t *testing.T) {
	objs, _ := mustRender(t, nondetRepo, loadApp(t, nondetRepo, "auth"))
	want := map[string]string{
		"apps/v1 Deployment auth/auth-web": `["/spec/template/spec/containers/0/env/1/value"]`,
		"v1 ConfigMap auth/auth-settings":  `["/data/rendered-at","/data/token","/metadata/annotations/checksum~1random"]`,
		"v1 Secret auth/auth-auth":         `["/data/password","/stringData/web-config.yml"]`,
		"v1 Secret auth/auth-ca":           `["/data/tls.crt","/data/tls.key"]`,
		"v1 ServiceAccount auth/auth":      `["/metadata/annotations/build-id"]`,
	}
	if diff := cmp.Diff(want, unstableOf(t, objs)); diff != "" {
		t.Errorf("unstable fields (-want +got):\n%s", diff)
	}
	inputs := inputsOf(objs)
	if len(inputs) != len(want) {
		t.Errorf("objects with %s: %v, want exactly the %d unstable ones", nondet.InputsAnnotation, inputs, len(want))
	}
	for k, v := range inputs {
		if !strings.HasPrefix(v, "sha256:") || len(v) != len("sha256:")+64 {
			t.Errorf("%s: %s = %q, want sha256:<64 hex>", k, nondet.InputsAnnotation, v)
		}
		if v != inputs["v1 Secret auth/auth-auth"] {
			t.Errorf("%s: inputs digest %s differs from the Secret's %s: one chart, one digest", k, v, inputs["v1 Secret auth/auth-auth"])
		}
	}
}

// TestDeterministicChartsReportNone renders the testdata repository's
// apps of every kind: none is marked, Helm charts included.
func TestDeterministicChartsReportNone(t *testing.T) {
	for _, app := range []string{"plain", "web-prod", "shop", "monitoring"} {
		t.Run(app, func(t *testing.T) {
			objs, _ := mustRender(t, testRepo, loadApp(t, testRepo, app))
			if got := unstableOf(t, objs); len(got) > 0 {
				t.Errorf("deterministic app marked unstable: %v", got)
			}
			if got := inputsOf(objs); len(got) > 0 {
				t.Errorf("deterministic app carries %s: %v", nondet.InputsAnnotation, got)
			}
		})
	}
}

// TestChartInputsDigest: the digest is the same for the same inputs in
// two renders (the values as a map, iterated in random order) and for
// another patch version of Kubernetes, and changes with a value, the
// release name, the Kubernetes minor version, the declared API versions
// and a template.
func TestChartInputsDigest(t *testing.T) {
	root := t.TempDir()
	copyTree(t, nondetRepo, root)
	base := loadApp(t, root, "auth")
	digest := func(t *testing.T, r *Renderer, app config.App) string {
		t.Helper()
		objs, _, err := r.Render(context.Background(), root, app)
		if err != nil {
			t.Fatal(err)
		}
		return inputsOf(objs)["v1 Secret "+app.Namespace+"/"+releaseOf(app)+"-auth"]
	}
	var r Renderer
	first := digest(t, &r, base)
	if first == "" {
		t.Fatal("no inputs digest on the Secret")
	}
	if again := digest(t, &r, base); again != first {
		t.Errorf("same inputs, digests %s and %s", first, again)
	}
	changed := map[string]func() (*Renderer, config.App){
		"value": func() (*Renderer, config.App) {
			a := base
			a.Helm = &config.Helm{Set: map[string]string{"greeting": "bonjour"}}
			return &r, a
		},
		"release name": func() (*Renderer, config.App) {
			a := base
			a.Helm = &config.Helm{ReleaseName: "auth2"}
			return &r, a
		},
		"kube minor version": func() (*Renderer, config.App) {
			return &Renderer{KubeVersion: "v1.30.0"}, base
		},
		"declared API versions": func() (*Renderer, config.App) {
			a := base
			a.Helm = &config.Helm{APIVersions: []string{"monitoring.coreos.com/v1"}}
			return &r, a
		},
	}
	for name, mk := range changed {
		t.Run(name, func(t *testing.T) {
			r, a := mk()
			if got := digest(t, r, a); got == first || got == "" {
				t.Errorf("digest %q after changing the %s, want a new one (was %s)", got, name, first)
			}
		})
	}
	t.Run("kube patch version", func(t *testing.T) {
		// A patch upgrade of the cluster regenerates nothing.
		kv, err := chartutil.ParseKubeVersion(config.KubeLibraryVersion())
		if err != nil {
			t.Fatal(err)
		}
		other := fmt.Sprintf("v%s.%s.%d", kv.Major, kv.Minor, 99)
		if got := digest(t, &Renderer{KubeVersion: other}, base); got != first {
			t.Errorf("digest %s for Kubernetes %s, want %s as for %s", got, other, first, kv.Version)
		}
	})
	t.Run("template", func(t *testing.T) {
		writeFile(t, root, "apps/auth/templates/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n")
		if got := digest(t, &r, base); got == first {
			t.Errorf("digest unchanged after adding a template")
		}
	})
}

// releaseOf is the app's Helm release name.
func releaseOf(app config.App) string {
	if app.Helm != nil && app.Helm.ReleaseName != "" {
		return app.Helm.ReleaseName
	}
	return app.Name
}

// TestForgedUnstableAnnotationsRemoved: a pull request cannot tell gantry
// to keep live values of fields of its choosing. The annotations written
// by a plain manifest, a chart's template or a post-render patch are
// removed; on an object that is really unstable, gantry's own replace them.
func TestForgedUnstableAnnotationsRemoved(t *testing.T) {
	forged := `    ` + nondet.FieldsAnnotation + `: '["/spec/replicas","/data/greeting"]'
    ` + nondet.InputsAnnotation + `: sha256:forged
`
	root := writeFiles(t, map[string]string{
		".gantry.yaml": `version: 1
apps:
  - name: plain
    path: plain
    namespace: web
  - name: chart
    path: chart
    namespace: web
    patches: [patches/chart.yaml]
`,
		"plain/cm.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: forged\n  annotations:\n" + forged + "data:\n  greeting: hi\n",
		"chart/Chart.yaml": "apiVersion: v2\nname: chart\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: stable
  annotations:
` + forged + `data:
  greeting: hi
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: random
  annotations:
` + forged + `data:
  id: {{ uuidv4 | quote }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: patched
data:
  id: {{ uuidv4 | quote }}
`,
		"patches/chart.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: patched
  annotations:
` + forged,
	})
	plain, _ := mustRender(t, root, loadApp(t, root, "plain"))
	if got := unstableOf(t, plain); len(got) > 0 {
		t.Errorf("plain manifest keeps its forged annotation: %v", got)
	}
	if got := inputsOf(plain); len(got) > 0 {
		t.Errorf("plain manifest keeps its forged inputs digest: %v", got)
	}
	objs, _ := mustRender(t, root, loadApp(t, root, "chart"))
	want := map[string]string{
		"v1 ConfigMap web/patched": `["/data/id"]`,
		"v1 ConfigMap web/random":  `["/data/id"]`,
	}
	if diff := cmp.Diff(want, unstableOf(t, objs)); diff != "" {
		t.Errorf("unstable fields (-want +got):\n%s", diff)
	}
	for k, v := range inputsOf(objs) {
		if v == "sha256:forged" {
			t.Errorf("%s keeps the forged inputs digest", k)
		}
	}
	if _, ok := inputsOf(objs)["v1 ConfigMap web/stable"]; ok {
		t.Errorf("deterministic object keeps a forged inputs digest")
	}
}

// TestPatchedUnstableFieldIsStable: a post-render patch that sets a field
// the chart generates makes it stable: it is no longer listed, and the
// patched value is applied as any other.
func TestPatchedUnstableFieldIsStable(t *testing.T) {
	root := t.TempDir()
	copyTree(t, nondetRepo, root)
	writeFile(t, root, "patches/settings.yaml", `apiVersion: v1
kind: ConfigMap
metadata:
  name: auth-settings
  annotations:
    checksum/random: fixed
`)
	app := loadApp(t, root, "auth")
	app.Patches = []string{"patches/settings.yaml"}
	objs, _ := mustRender(t, root, app)
	got := unstableOf(t, objs)["v1 ConfigMap auth/auth-settings"]
	if want := `["/data/rendered-at","/data/token"]`; got != want {
		t.Errorf("unstable fields of the patched ConfigMap: %s, want %s", got, want)
	}
}

// TestUnstableFieldsPaths checks the comparison itself on hand-made
// values: a list of another length is one field, a key one side lacks is
// a field, equal values are none.
func TestUnstableFieldsPaths(t *testing.T) {
	a := map[string]any{"spec": map[string]any{"l": []any{"x", "y"}, "same": int64(1), "m": []any{map[string]any{"v": "a"}}}, "only": "a"}
	b := map[string]any{"spec": map[string]any{"l": []any{"x"}, "same": int64(1), "m": []any{map[string]any{"v": "b"}}}}
	var got []string
	for _, f := range unstableFields(a, b) {
		got = append(got, nondet.Pointer(f))
	}
	want := []string{"/only", "/spec/l", "/spec/m/0/v"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

// TestUnstableFieldsBounded: a chart generating a large structure (200
// random keys) is listed by the parent that holds them, not key by key.
func TestUnstableFieldsBounded(t *testing.T) {
	root := writeFiles(t, map[string]string{
		".gantry.yaml":     "version: 1\napps:\n  - name: big\n    path: chart\n    namespace: web\n",
		"chart/Chart.yaml": "apiVersion: v2\nname: big\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: big
  labels:
    id: {{ randAlphaNum 8 | lower | quote }}
data:
{{- range until 200 }}
  k{{ . }}: {{ randAlphaNum 8 | quote }}
{{- end }}
`,
	})
	objs, _ := mustRender(t, root, loadApp(t, root, "big"))
	if got, want := unstableOf(t, objs)["v1 ConfigMap web/big"], `["/data","/metadata/labels/id"]`; got != want {
		t.Errorf("fields %s, want %s", got, want)
	}
}

// TestSecondRenderInvalidIsSaid: a chart whose output is valid YAML only
// some of the time fails the render with an error that says the second
// run failed, on the template's file.
func TestSecondRenderInvalidIsSaid(t *testing.T) {
	root := writeFiles(t, map[string]string{"chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n"})
	fsys, err := newRepoFS(context.Background(), root, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.close()
	paths := newChartPaths("chart", nil)
	out := map[string]string{"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: ok\n"}
	again := map[string]string{"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: [unclosed\n"}
	first, errs := decodeTemplates(fsys, out, paths)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	errs = detectUnstable(fsys, first, out, again, paths, "sha256:x")
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one", errs)
	}
	var e *Error
	if !errors.As(errs[0], &e) || e.File != "chart/templates/cm.yaml" || !strings.HasPrefix(e.Msg, "second render (gantry renders a chart twice") {
		t.Errorf("error %#v, want the template's file and a message saying it is the second render", errs[0])
	}
}

// TestGeneratedNameIsMarked: an object whose name is generated cannot be
// matched between renders; its name is its unstable field, for the plan
// to say every apply creates another one.
func TestGeneratedNameIsMarked(t *testing.T) {
	root := writeFiles(t, map[string]string{
		".gantry.yaml":     "version: 1\napps:\n  - name: jobs\n    path: chart\n    namespace: web\n",
		"chart/Chart.yaml": "apiVersion: v2\nname: jobs\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: migrate-{{ randAlphaNum 8 | lower }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fixed
`,
	})
	objs, _ := mustRender(t, root, loadApp(t, root, "jobs"))
	got := unstableOf(t, objs)
	if len(got) != 1 {
		t.Fatalf("marked objects %v, want only the one with a generated name", got)
	}
	for k, v := range got {
		if !strings.HasPrefix(k, "v1 ConfigMap web/migrate-") || v != `["/metadata/name"]` {
			t.Errorf("%s: %s, want the generated name's ConfigMap with [\"/metadata/name\"]", k, v)
		}
	}
}
