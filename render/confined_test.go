package render

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantryops/gantry/config"
)

// outsideSecret is the content of a file outside the checkout; no error
// may carry it.
const outsideSecret = "ghs_SECRETSECRETSECRET0123456789abcdef"

// hostileKinds are the three ways a checkout entry can be hostile, each
// applied to the repository path p under root.
var hostileKinds = map[string]func(t *testing.T, root, p, secretFile string){
	"symlink outside": func(t *testing.T, root, p, secretFile string) {
		symlink(t, secretFile, filepath.Join(root, p))
	},
	"symlink to /dev/zero": func(t *testing.T, root, p, _ string) {
		symlink(t, "/dev/zero", filepath.Join(root, p))
	},
	"fifo": func(t *testing.T, root, p, _ string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(full, 0o600); err != nil {
			t.Fatal(err)
		}
	},
}

// TestEveryReadIsConfined puts a symlink out of the checkout, a symlink to
// /dev/zero and a FIFO in each place a render reads, and checks that the
// render fails at once, naming the repository file, never its target's
// content.
func TestEveryReadIsConfined(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: "+outsideSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	chart := map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	}
	places := []struct {
		name  string
		files map[string]string
		path  string // the hostile entry
		app   config.App
		// wantFile is the file the error names: the entry itself, or the
		// kustomization that names it.
		wantFile string
	}{
		{"plain manifest", map[string]string{"app/a.yaml": deploy}, "app/b.yaml",
			config.App{Name: "t", Path: "app"}, "app/b.yaml"},
		{"kustomization resource", map[string]string{
			"k/kustomization.yaml": "resources:\n  - deploy.yaml\n  - evil.yaml\n", "k/deploy.yaml": deploy,
		}, "k/evil.yaml", config.App{Name: "t", Path: "k"}, "k/kustomization.yaml"},
		{"kustomization itself", map[string]string{"k/deploy.yaml": deploy}, "k/kustomization.yaml",
			config.App{Name: "t", Path: "k", Render: config.RenderKustomize}, "k/kustomization.yaml"},
		{"post-render patch", map[string]string{"app/a.yaml": deploy}, "patches/p.yaml",
			config.App{Name: "t", Path: "app", Patches: []string{"patches/p.yaml"}}, "patches/p.yaml"},
		{"helm values file", chart, "chart/values-prod.yaml",
			config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"values-prod.yaml"}}}, "chart/values-prod.yaml"},
		{"chart template", chart, "chart/templates/evil.yaml",
			config.App{Name: "t", Path: "chart"}, "chart/templates/evil.yaml"},
	}
	for _, pl := range places {
		for kind, make := range hostileKinds {
			t.Run(pl.name+"/"+kind, func(t *testing.T) {
				root := writeFiles(t, pl.files)
				make(t, root, pl.path, secretFile)
				_, _, err := Render(t.Context(), root, pl.app)
				if err == nil {
					t.Fatal("render succeeded")
				}
				errs := AsErrors(err)
				if len(errs) == 0 || errs[0].File != pl.wantFile {
					t.Errorf("error %v, want it on %s", err, pl.wantFile)
				}
				if !strings.Contains(err.Error(), pl.path) {
					t.Errorf("error %v does not name %s", err, pl.path)
				}
				if strings.Contains(err.Error(), outsideSecret) || strings.Contains(err.Error(), secretFile) {
					t.Errorf("error leaks the outside file: %v", err)
				}
				if strings.Contains(err.Error(), root) {
					t.Errorf("error shows the checkout's location: %v", err)
				}
			})
		}
	}
}

// TestPathEscapesAreRefused names paths outside the checkout, lexically,
// in every app field and kustomization field that takes a path.
func TestPathEscapesAreRefused(t *testing.T) {
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	chart := map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	}
	kust := func(body string) map[string]string {
		return map[string]string{"k/kustomization.yaml": "resources:\n  - deploy.yaml\n" + body, "k/deploy.yaml": deploy}
	}
	tests := []struct {
		name  string
		files map[string]string
		app   config.App
		want  wantErr
	}{
		{"app path absolute", map[string]string{"a.yaml": deploy}, config.App{Name: "t", Path: "/etc"},
			wantErr{"/etc", 0, "leads outside the repository", ErrOutsideRepo}},
		{"app path climbs", map[string]string{"a.yaml": deploy}, config.App{Name: "t", Path: "../.."},
			wantErr{"../..", 0, "leads outside the repository", ErrOutsideRepo}},
		{"patches absolute", map[string]string{"app/a.yaml": deploy}, config.App{Name: "t", Path: "app", Patches: []string{"/etc/passwd"}},
			wantErr{".gantry.yaml", 0, "leads outside the repository", ErrOutsideRepo}},
		{"helm values climb", chart, config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"../../x.yaml"}}},
			wantErr{".gantry.yaml", 0, "leads outside the repository", ErrOutsideRepo}},
		{"helm values absolute", chart, config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"/etc/passwd"}}},
			wantErr{".gantry.yaml", 0, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize patch path", kust("patches:\n  - path: ../../../etc/passwd\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 4, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize absolute resource", kust("  - /etc/passwd\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 3, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize generator file", kust("configMapGenerator:\n  - name: c\n    files:\n      - key=../../etc/passwd\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 6, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize env file", kust("secretGenerator:\n  - name: c\n    envs:\n      - /proc/self/environ\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 6, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize crds", kust("crds:\n  - ../../crd.json\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 4, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize configurations", kust("configurations:\n  - /etc/k.yaml\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 4, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize replacements", kust("replacements:\n  - path: ../../r.yaml\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 4, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize builtin transformer path", kust("transformers:\n  - |-\n    apiVersion: builtin\n    kind: PatchTransformer\n    metadata:\n      name: p\n    path: ../../../etc/passwd\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 4, "leads outside the repository", ErrOutsideRepo}},
		{"kustomize unknown field", kust("someNewLoader:\n  - x\n"), config.App{Name: "t", Path: "k"},
			wantErr{"k/kustomization.yaml", 3, "unknown kustomization field", ErrInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			_, _, err := Render(t.Context(), root, tt.app)
			checkErrors(t, "t", err, []wantErr{tt.want})
		})
	}
}

// TestAliasBombsAddUpPerFile splits an expansion over many documents of
// one file, each under the per-file budget alone.
func TestAliasBombsAddUpPerFile(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		b.WriteString("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "\n")
		b.WriteString("data:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n")
	}
	root := writeFiles(t, map[string]string{"app/bombs.yaml": b.String()})
	app := config.App{Name: "t", Path: "app"}
	// One document expands to about 1,130 nodes; the file to 113,000.
	r := Renderer{Limits: Limits{MaxNodes: 50_000}}
	_, _, err := r.Render(t.Context(), root, app)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "app/bombs.yaml") {
		t.Errorf("render = %v, want the per-file node limit on app/bombs.yaml", err)
	}
	// The app's budget counts every file together.
	root2 := writeFiles(t, map[string]string{"app/a.yaml": b.String(), "app/b.yaml": strings.ReplaceAll(b.String(), "name: c", "name: d")})
	r = Renderer{Limits: Limits{MaxNodes: 200_000, MaxAppNodes: 150_000}}
	_, _, err = r.Render(t.Context(), root2, app)
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "in total") {
		t.Errorf("render = %v, want the app's node limit", err)
	}
	if _, _, err := (&Renderer{}).Render(t.Context(), root, app); err != nil {
		t.Errorf("default limits refuse a modest file: %v", err)
	}
}
