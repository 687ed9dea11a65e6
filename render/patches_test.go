package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

func TestRenderPatches(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: web
          image: web:1
        - name: sidecar
          image: proxy:1
`,
		"app/widget.yaml": "apiVersion: acme.io/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  sizes: [1, 2]\n  color: red\n",
		"app/old.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n",
		// strategic merge: containers merge by name, so the sidecar stays
		"drift/10-web.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 5
  template:
    spec:
      containers:
        - name: web
          image: web:2
`,
		// JSON 6902, inline operations
		"drift/20-json.yaml": `target:
  group: apps
  kind: Deployment
  name: web
patch:
  - op: add
    path: /metadata/labels
    value: {tier: frontend}
`,
		// custom resource: JSON merge patch, lists replaced
		"drift/30-widget.yaml": "apiVersion: acme.io/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  sizes: [3]\n",
		// delete
		"drift/40-delete.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: old\n$patch: delete\n",
		"drift/README.md":      "not a patch",
	})
	app := config.App{Name: "t", Path: "app", Namespace: "web", Patches: []string{"drift/", "missing-dir/"}}
	objs, sm := mustRender(t, root, app)
	got := toYAML(t, objs)
	want := `---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    tier: frontend
  name: web
  namespace: web
spec:
  replicas: 5
  template:
    spec:
      containers:
      - image: web:2
        name: web
      - image: proxy:1
        name: sidecar
---
apiVersion: acme.io/v1
kind: Widget
metadata:
  name: w
  namespace: web
spec:
  color: red
  sizes:
  - 3
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patched objects (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Source{File: "app/deploy.yaml", Line: 1}, sm[KeyOf(objs[0])]); diff != "" {
		t.Errorf("a patched object keeps its source (-want +got):\n%s", diff)
	}
}

func TestRenderPatchesOnKustomizeAndHelm(t *testing.T) {
	for _, name := range []string{"web-prod", "shop"} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			copyTree(t, testRepo, root)
			app := loadApp(t, root, name)
			objs, _ := mustRender(t, root, app)
			var target *ObjectKey
			for _, o := range objs {
				if o.GetKind() == "Deployment" {
					k := KeyOf(o)
					target = &k
				}
			}
			if target == nil {
				t.Fatal("no Deployment rendered")
			}
			writeFile(t, root, "patches/"+name+".yaml",
				"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: "+target.Name+"\nspec:\n  replicas: 7\n")
			app.Patches = []string{"patches/" + name + ".yaml"}
			objs, _ = mustRender(t, root, app)
			for _, o := range objs {
				if KeyOf(o) == *target {
					if diff := cmp.Diff(int64(7), o.Object["spec"].(map[string]any)["replicas"]); diff != "" {
						t.Errorf("replicas (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
}
