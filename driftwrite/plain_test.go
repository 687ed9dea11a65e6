package driftwrite

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/repofs"
)

var webApp = config.App{Name: "web", Path: "apps/web", Render: config.RenderYAML, Namespace: "shop"}

const webYAML = `# The web tier.
# Owned by the storefront team.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web   # selector label
    tier: front
spec:
  replicas: 2

  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      # The proxy goes first.
      - name: proxy
        image: "envoy:1.30"
      - name: app
        image: shop/web:1.4.0 # bumped by CI
        ports:
        - containerPort: 8080
      - name: sidecar
        image: 'logs:2'
---
# Its service.
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  -   port: 80      # odd indentation, kept
      targetPort: 8080
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  mode: fast
`

func container(u *unstructured.Unstructured, name string) map[string]any {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		if c.(map[string]any)["name"] == name {
			return c.(map[string]any)
		}
	}
	return nil
}

func setContainerField(u *unstructured.Unstructured, name, field string, v any) {
	cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		if c.(map[string]any)["name"] == name {
			c.(map[string]any)[field] = v
		}
	}
	_ = unstructured.SetNestedSlice(u.Object, cs, "spec", "template", "spec", "containers")
}

func TestPlainYAMLEditedInPlace(t *testing.T) {
	tests := []struct {
		name   string
		file   string // apps/web/web.yaml; webYAML when empty
		kind   string
		obj    string
		mutate func(u *unstructured.Unstructured)
		want   string // the new apps/web/web.yaml
	}{{
		// A scalar changed: only that value's text changes; every comment,
		// blank line, quote and the other documents stay byte for byte.
		name: "image change keeps every comment and the other documents",
		kind: "Deployment", obj: "web",
		mutate: func(u *unstructured.Unstructured) { setContainerField(u, "app", "image", "shop/web:1.5.0-hotfix") },
		want:   strings.Replace(webYAML, "shop/web:1.4.0 # bumped", "shop/web:1.5.0-hotfix # bumped", 1),
	}, {
		// A quoted string keeps its quotes; a number stays a number.
		name: "quoted image and replicas keep their style",
		kind: "Deployment", obj: "web",
		mutate: func(u *unstructured.Unstructured) {
			setContainerField(u, "proxy", "image", "envoy:1.31")
			_ = unstructured.SetNestedField(u.Object, int64(5), "spec", "replicas")
		},
		want: strings.NewReplacer(`"envoy:1.30"`, `"envoy:1.31"`, "replicas: 2", "replicas: 5").Replace(webYAML),
	}, {
		// A key Git lacked is appended where it belongs; a string that
		// reads as a bool is quoted. The other documents stay as they are.
		name: "data key added and changed",
		kind: "ConfigMap", obj: "web-config",
		mutate: func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "slow", "data", "mode")
			_ = unstructured.SetNestedField(u.Object, "on", "data", "debug")
		},
		want: strings.Replace(webYAML, "  mode: fast\n", "  mode: slow\n  debug: \"on\"\n", 1),
	}, {
		name: "replicas added when Git lacked it",
		file: "# api\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api # the API\nspec:\n  selector:\n    matchLabels: {app: api}\n" +
			"  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n        - name: api # wide list style\n          image: api:1\n",
		kind: "Deployment", obj: "api",
		mutate: func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, int64(3), "spec", "replicas")
		},
		want: "# api\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api # the API\nspec:\n  selector:\n    matchLabels: {app: api}\n" +
			"  template:\n    metadata:\n      labels: {app: api}\n    spec:\n      containers:\n        - name: api # wide list style\n          image: api:1\n  replicas: 3\n",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.file == "" {
				tc.file = webYAML
			}
			root := repo(t, map[string]string{"apps/web/web.yaml": tc.file})
			o := drift(t, root, webApp, tc.kind, tc.obj, tc.mutate)
			res := write(t, root, config.Repo{}, webApp, o)
			if diff := cmp.Diff(tc.want, string(res.Files["apps/web/web.yaml"])); diff != "" {
				t.Errorf("apps/web/web.yaml (-want +got):\n%s", diff)
			}
			if len(res.Files) != 1 || len(res.Deleted) != 0 || len(res.Skipped) != 0 {
				t.Errorf("result touches more than the file: %+v", res)
			}
			commit(t, root, res)
			rendersAccepted(t, root, config.Repo{}, webApp, o)
		})
	}
}

// Containers are matched by name, not position: with the first container
// gone live and another changed, the file loses that one item and changes
// the other's image; an index match would rewrite the whole list.
func TestContainerMatchedByName(t *testing.T) {
	root := repo(t, map[string]string{"apps/web/web.yaml": webYAML})
	o := drift(t, root, webApp, "Deployment", "web", func(u *unstructured.Unstructured) {
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		_ = unstructured.SetNestedSlice(u.Object, cs[1:], "spec", "template", "spec", "containers")
		setContainerField(u, "sidecar", "image", "logs:3")
	})
	res := write(t, root, config.Repo{}, webApp, o)
	got := string(res.Files["apps/web/web.yaml"])
	for _, want := range []string{"# The web tier.", "# Owned by the storefront team.", "app: web # selector label",
		"image: shop/web:1.4.0 # bumped by CI", "image: 'logs:3'", "# Its service.", "  -   port: 80      # odd indentation, kept\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("edited file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "envoy") || strings.Contains(got, "logs:2") {
		t.Errorf("edited file keeps the removed container or the old image:\n%s", got)
	}
	if _, rest, _ := strings.Cut(webYAML, "---\n"); !strings.HasSuffix(got, "---\n"+rest) {
		t.Errorf("documents after the edited one changed:\n%s", got)
	}
	commit(t, root, res)
	rendersAccepted(t, root, config.Repo{}, webApp, o)
}

// A label removed live is removed from the file, and only it.
func TestRemovedLabel(t *testing.T) {
	root := repo(t, map[string]string{"apps/web/web.yaml": webYAML})
	o := drift(t, root, webApp, "Deployment", "web", func(u *unstructured.Unstructured) {
		unstructured.RemoveNestedField(u.Object, "metadata", "labels", "tier")
	})
	res := write(t, root, config.Repo{}, webApp, o)
	got := string(res.Files["apps/web/web.yaml"])
	if strings.Contains(got, "tier: front") {
		t.Errorf("label tier still in the file:\n%s", got)
	}
	for _, want := range []string{"# The web tier.\n# Owned by the storefront team.\napiVersion: apps/v1\n", "    app: web # selector label\n", "      # The proxy goes first.\n", `image: "envoy:1.30"`} {
		if !strings.Contains(got, want) {
			t.Errorf("edited file lacks %q:\n%s", want, got)
		}
	}
	commit(t, root, res)
	rendersAccepted(t, root, config.Repo{}, webApp, o)
}

// An object deleted out of band leaves its file: from a multi-document
// file only its document goes (the others and their comments stay); a
// file that held only it is deleted.
func TestDeletedObjectRemoved(t *testing.T) {
	files := map[string]string{
		"apps/web/web.yaml": webYAML,
		"apps/web/pdb.yaml": "# lone object\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web\nspec:\n  maxUnavailable: 1\n",
	}
	root := repo(t, files)
	svc := drift(t, root, webApp, "Service", "web", nil)
	pdb := drift(t, root, webApp, "PodDisruptionBudget", "web", nil)
	res := write(t, root, config.Repo{}, webApp, svc, pdb)
	head, _, _ := strings.Cut(webYAML, "---\n# Its service.")
	_, tail, _ := strings.Cut(webYAML, "targetPort: 8080\n")
	want := map[string]string{"apps/web/web.yaml": head + tail}
	got := map[string]string{}
	for p, c := range res.Files {
		got[p] = string(c)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apps/web/pdb.yaml"}, res.Deleted); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	commit(t, root, res)
	after, _ := rendered(t, root, webApp)
	for _, u := range after {
		if u.GetKind() == "Service" || u.GetKind() == "PodDisruptionBudget" {
			t.Errorf("%s %s still rendered", u.GetKind(), u.GetName())
		}
	}
	if len(after) != 2 {
		t.Errorf("rendered %d objects after the edit, want the Deployment and the ConfigMap", len(after))
	}
}

// A Secret's values are never written, even when they drifted; its other
// drifted fields are, and Skipped says what was left.
func TestSecretValuesNeverWritten(t *testing.T) {
	const secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    app: web\ndata:\n  password: b2xk # old\n"
	root := repo(t, map[string]string{"apps/web/secret.yaml": secret})
	o := drift(t, root, webApp, "Secret", "db", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "bGl2ZS1zZWNyZXQ=", "data", "password")
		_ = unstructured.SetNestedField(u.Object, "c3RyaW5n", "data", "extra")
		_ = unstructured.SetNestedField(u.Object, "db", "metadata", "labels", "app")
		u.SetAnnotations(map[string]string{lastApplied: `{"data":{"password":"bGl2ZS1zZWNyZXQ="}}`})
	})
	res := write(t, root, config.Repo{}, webApp, o)
	want := strings.Replace(secret, "app: web", "app: db", 1)
	if diff := cmp.Diff(want, string(res.Files["apps/web/secret.yaml"])); diff != "" {
		t.Errorf("secret.yaml (-want +got):\n%s", diff)
	}
	for p, c := range res.Files {
		if strings.Contains(string(c), "bGl2ZS1zZWNyZXQ") || strings.Contains(string(c), "c3RyaW5n") {
			t.Errorf("%s holds a live Secret value:\n%s", p, c)
		}
	}
	if len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "Secret shop/db") || !strings.Contains(res.Skipped[0], "never writes Secret values") ||
		strings.Contains(res.Skipped[0], "bGl2ZS1zZWNyZXQ") {
		t.Errorf("Skipped = %q, want one line naming Secret shop/db and no value", res.Skipped)
	}
}

// Sources are read through repofs: a symlink inside the checkout is
// refused (the commit would turn it into a file), and one leading out of
// the checkout is refused without reading its target.
func TestSymlinkAndOutsideSourcesRefused(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "host.yaml")
	if err := os.WriteFile(outside, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := repo(t, map[string]string{"apps/web/web.yaml": webYAML})
	base := drift(t, root, webApp, "ConfigMap", "web-config", func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, "slow", "data", "mode")
	})
	if err := os.Symlink("web.yaml", filepath.Join(root, "apps/web/link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "apps/web/out.yaml")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		want error
	}{{"apps/web/link.yaml", ErrSymlink}, {"apps/web/out.yaml", repofs.ErrOutside}} {
		t.Run(tc.file, func(t *testing.T) {
			o := base
			o.Source.File = tc.file
			_, err := Write(t.Context(), root, config.Repo{}, webApp, []Object{o})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Write: %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), "ConfigMap shop/web-config") {
				t.Errorf("error %q does not name the file and the object", err)
			}
			if strings.Contains(err.Error(), outside) {
				t.Errorf("error %q discloses the symlink's target", err)
			}
		})
	}
	if b, _ := os.ReadFile(outside); strings.Contains(string(b), "slow") {
		t.Error("the file outside the checkout was changed")
	}
}
