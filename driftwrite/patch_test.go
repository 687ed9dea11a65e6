package driftwrite

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
)

const gantryYAML = `# gantry's view of this repository.
version: 1

apps:
  # The storefront, built with Kustomize.
  - name: shop
    path: apps/shop # kustomize overlay
    namespace: shop

  - name: db   # plain YAML
    path: apps/db
`

var kustomizeFiles = map[string]string{
	".gantry.yaml":                      gantryYAML,
	"apps/db/cm.yaml":                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n",
	"apps/shop/kustomization.yaml":      "resources:\n- deploy.yaml\n- svc.yaml\n- cm.yaml\n",
	"apps/shop/cm.yaml":                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shop\ndata:\n  mode: fast\n",
	"apps/shop/deploy.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n    spec:\n      containers:\n      - name: app\n        image: shop:1\n        env:\n        - {name: MODE, value: fast}\n      - name: sidecar\n        image: logs:1\n",
	"apps/shop/svc.yaml":                "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  ports:\n  - port: 80\n",
	"apps/shop/notes/ignored-by-k.yaml": "# not a resource\n",
}

var shopApp = config.App{Name: "shop", Path: "apps/shop", Render: config.RenderKustomize, Namespace: "shop"}

var model = config.Repo{File: config.RepoFileName}

// bumpApp is an image edited by another field manager, plus an env var.
func bumpApp(u *unstructured.Unstructured) {
	setContainerField(u, "app", "image", "shop:2")
	setContainerField(u, "app", "env", []any{map[string]any{"name": "MODE", "value": "fast"}, map[string]any{"name": "DEBUG", "value": "1"}})
}

// A Kustomize app with no patches gets patches/<app>/drift.yaml holding
// only the drifted fields, containers keyed by name; .gantry.yaml lists it,
// edited as text so its comments and blank lines stay.
func TestKustomizeDriftCreatesPatchAndRegistersIt(t *testing.T) {
	root := repo(t, kustomizeFiles)
	dep := drift(t, root, shopApp, "Deployment", "shop", bumpApp)
	svc := drift(t, root, shopApp, "Service", "shop", nil)
	res := write(t, root, model, shopApp, dep, svc)

	wantGantry := strings.Replace(gantryYAML, "    path: apps/shop # kustomize overlay\n",
		"    path: apps/shop # kustomize overlay\n    patches:\n      - patches/shop/drift.yaml\n", 1)
	wantPatch := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  namespace: shop
spec:
  template:
    spec:
      containers:
      - $setElementOrder/env:
        - name: MODE
        - name: DEBUG
        env:
        - name: DEBUG
          value: "1"
        image: shop:2
        name: app
---
apiVersion: v1
kind: Service
metadata:
  name: shop
  namespace: shop
$patch: delete
`
	want := map[string]string{".gantry.yaml": wantGantry, "patches/shop/drift.yaml": wantPatch}
	got := map[string]string{}
	for p, c := range res.Files {
		got[p] = string(c)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	commit(t, root, res)
	rendersAccepted(t, root, model, shopApp, dep)
	after, _ := rendered(t, root, withPatches(shopApp, "patches/shop/drift.yaml"))
	for _, u := range after {
		if u.GetKind() == "Service" {
			t.Error("the deleted Service is still rendered")
		}
	}
}

func withPatches(app config.App, p ...string) config.App {
	app.Patches = p
	return app
}

// A patches entry that is a directory gets drift-<app>.yaml in it, and
// .gantry.yaml is left alone.
func TestDriftPatchInPatchesDirectory(t *testing.T) {
	files := map[string]string{"patches/shop/README.md": "hand-written patches live here\n"}
	for k, v := range kustomizeFiles {
		files[k] = v
	}
	root := repo(t, files)
	app := withPatches(shopApp, "patches/shop")
	dep := drift(t, root, app, "Deployment", "shop", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(4), "spec", "replicas")
	})
	res := write(t, root, model, app, dep)
	want := map[string]string{"patches/shop/drift-shop.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n  namespace: shop\nspec:\n  replicas: 4\n"}
	got := map[string]string{}
	for p, c := range res.Files {
		got[p] = string(c)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	commit(t, root, res)
	rendersAccepted(t, root, config.Repo{}, app, dep)
}

// A listed patch file is updated: the document for the same object keeps
// its earlier accepted drift and its comment and gains the new one; other
// documents are untouched, and a new object's patch is appended.
func TestDriftPatchFileUpdated(t *testing.T) {
	const existing = `# Accepted drift, reviewed in #41.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 5 # scaled for the sale
---
# Hand-written.
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  type: NodePort
`
	files := map[string]string{"patches/shop.yaml": existing}
	for k, v := range kustomizeFiles {
		files[k] = v
	}
	root := repo(t, files)
	app := withPatches(shopApp, "patches/shop.yaml")
	dep := drift(t, root, app, "Deployment", "shop", func(u *unstructured.Unstructured) { setContainerField(u, "sidecar", "image", "logs:2") })
	cm := drift(t, root, app, "ConfigMap", "shop", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "slow", "data", "mode")
	})
	res := write(t, root, model, app, dep, cm)
	want := `# Accepted drift, reviewed in #41.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 5 # scaled for the sale
  template:
    spec:
      containers:
      - image: logs:2
        name: sidecar
---
# Hand-written.
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  type: NodePort
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop
  namespace: shop
data:
  mode: slow
`
	if diff := cmp.Diff(want, string(res.Files["patches/shop.yaml"])); diff != "" {
		t.Errorf("patches/shop.yaml (-want +got):\n%s", diff)
	}
	if len(res.Files) != 1 {
		t.Errorf("files written: %v, want only patches/shop.yaml", keys(res.Files))
	}
	commit(t, root, res)
	rendersAccepted(t, root, config.Repo{}, app, dep, cm)
	after, _ := rendered(t, root, app)
	for _, u := range after {
		if u.GetKind() == "Service" && u.Object["spec"].(map[string]any)["type"] != "NodePort" {
			t.Errorf("the hand-written Service patch no longer applies: %v", u.Object["spec"])
		}
		if u.GetKind() == "Deployment" {
			if r, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); r != 5 {
				t.Errorf("replicas %d after the update, want the earlier accepted 5", r)
			}
			if c := container(u, "app"); c["image"] != "shop:1" {
				t.Errorf("container app image %v, want shop:1 untouched", c["image"])
			}
		}
	}
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }

// A Helm app's drift is a patch too; a custom resource (not a built-in
// kind) is patched with JSON merge semantics, which replace lists, as
// render applies them.
func TestHelmDriftPatch(t *testing.T) {
	files := map[string]string{
		".gantry.yaml":                "version: 1\napps:\n- {name: mon, path: charts/mon, render: helm}\n",
		"charts/mon/Chart.yaml":       "apiVersion: v2\nname: mon\nversion: 0.1.0\n",
		"charts/mon/values.yaml":      "replicas: 1\n",
		"charts/mon/templates/a.yaml": "apiVersion: example.com/v1\nkind: Probe\nmetadata:\n  name: {{ .Release.Name }}-probe\nspec:\n  targets: [a, b]\n  interval: 30s\n",
	}
	root := repo(t, files)
	app := config.App{Name: "mon", Path: "charts/mon", Render: config.RenderHelm, Namespace: "mon"}
	probe := drift(t, root, app, "Probe", "mon-probe", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedStringSlice(u.Object, []string{"a", "c"}, "spec", "targets")
		unstructured.RemoveNestedField(u.Object, "spec", "interval")
	})
	res := write(t, root, model, app, probe)
	wantPatch := "apiVersion: example.com/v1\nkind: Probe\nmetadata:\n  name: mon-probe\n  namespace: mon\nspec:\n  interval: null\n  targets:\n  - a\n  - c\n"
	if diff := cmp.Diff(wantPatch, string(res.Files["patches/mon/drift.yaml"])); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
	// A flow-style app entry cannot take a line of text: .gantry.yaml is
	// re-encoded instead, still valid and still listing every app.
	wantGantry := "version: 1\napps:\n- {name: mon, path: charts/mon, render: helm, patches: [patches/mon/drift.yaml]}\n"
	if diff := cmp.Diff(wantGantry, string(res.Files[".gantry.yaml"])); diff != "" {
		t.Errorf(".gantry.yaml (-want +got):\n%s", diff)
	}
	commit(t, root, res)
	rendersAccepted(t, root, model, app, probe)
}

// Registering needs a .gantry.yaml: a discovered app cannot list its
// patch, and saying so beats a patch no render reads.
func TestDiscoveredAppCannotRegisterPatch(t *testing.T) {
	files := map[string]string{}
	for k, v := range kustomizeFiles {
		if k != ".gantry.yaml" {
			files[k] = v
		}
	}
	root := repo(t, files)
	dep := drift(t, root, shopApp, "Deployment", "shop", bumpApp)
	_, err := Write(t.Context(), root, config.Repo{Discovered: true}, shopApp, []Object{dep})
	if err == nil || !strings.Contains(err.Error(), "patches/shop/drift.yaml") || !strings.Contains(err.Error(), ".gantry.yaml") {
		t.Fatalf("Write: %v, want an error naming the patch and .gantry.yaml", err)
	}
}

// addPatch edits .gantry.yaml as text when it can: a block patches list
// gains a line, comments and blank lines stay byte for byte.
func TestAddPatchToExistingList(t *testing.T) {
	in := "version: 1\n\napps:\n  - name: shop\n    patches:\n      - patches/base.yaml   # shared\n\n    path: apps/shop\n"
	want := "version: 1\n\napps:\n  - name: shop\n    patches:\n      - patches/base.yaml   # shared\n      - patches/shop/drift.yaml\n\n    path: apps/shop\n"
	got, err := addPatch(in, "shop", "patches/shop/drift.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Numbers from JSON are written as the integers they are.
func TestPatchWritesWholeNumbers(t *testing.T) {
	root := repo(t, kustomizeFiles)
	dep := drift(t, root, shopApp, "Deployment", "shop", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(1000000), "spec", "progressDeadlineSeconds")
	})
	res := write(t, root, model, shopApp, dep)
	if got := string(res.Files["patches/shop/drift.yaml"]); !strings.Contains(got, "progressDeadlineSeconds: 1000000\n") {
		t.Errorf("patch:\n%s\nwant progressDeadlineSeconds: 1000000", got)
	}
}
