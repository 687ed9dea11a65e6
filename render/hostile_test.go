package render

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/config"
)

// symlink creates link -> target, failing the test when it cannot.
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// aliasBomb is the "billion laughs" in YAML: nine levels of ten aliases.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n")
	b.WriteString("  a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for i := 1; i <= 9; i++ {
		p := "*a" + string(rune('0'+i-1))
		b.WriteString("  a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" + strings.Repeat(p+",", 9) + p + "]\n")
	}
	return b.String()
}

// deepNesting is a document nested n levels deep in flow sequences.
func deepNesting(n int) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nx: " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n"
}

func TestRenderHostileInput(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	chart := map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	}
	with := func(base map[string]string, extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name  string
		files map[string]string
		setup func(t *testing.T, root string)
		app   config.App
		want  []wantErr
	}{
		{
			name:  "app path escapes the repository",
			files: map[string]string{"app/a.yaml": deploy},
			app:   config.App{Name: "t", Path: "../../etc"},
			want:  []wantErr{{"../../etc", 0, "leads outside the repository", ErrOutsideRepo}},
		},
		{
			name:  "plain yaml symlink to a file outside",
			files: map[string]string{"app/a.yaml": deploy},
			setup: func(t *testing.T, root string) { symlink(t, secret, filepath.Join(root, "app/link.yaml")) },
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/link.yaml", 0, "symlink that leads outside", ErrOutsideRepo}},
		},
		{
			name:  "plain yaml symlink to a directory outside",
			files: map[string]string{"app/a.yaml": deploy},
			setup: func(t *testing.T, root string) { symlink(t, outside, filepath.Join(root, "app/dir")) },
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/dir", 0, "outside the repository", ErrOutsideRepo}},
		},
		{
			name:  "app directory is a symlink outside",
			files: map[string]string{"README": ""},
			setup: func(t *testing.T, root string) { symlink(t, outside, filepath.Join(root, "app")) },
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app", 0, "outside the repository", ErrOutsideRepo}},
		},
		{
			name: "kustomize resource climbs out of the repository",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\n  - ../../../../../../etc\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 3, "leads outside the repository", ErrOutsideRepo}},
		},
		{
			name: "kustomize resource is a symlink outside",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\n  - link.yaml\n",
				"k/deploy.yaml":        deploy,
			},
			setup: func(t *testing.T, root string) { symlink(t, secret, filepath.Join(root, "k/link.yaml")) },
			app:   config.App{Name: "t", Path: "k"},
			want:  []wantErr{{"k/kustomization.yaml", 3, "outside the repository", ErrOutsideRepo}},
		},
		{
			name: "kustomize generator reads a file outside",
			files: map[string]string{
				"k/kustomization.yaml": "configMapGenerator:\n  - name: c\n    files:\n      - passwd\n",
			},
			setup: func(t *testing.T, root string) { symlink(t, secret, filepath.Join(root, "k/passwd")) },
			app:   config.App{Name: "t", Path: "k"},
			want:  []wantErr{{"k/kustomization.yaml", 4, "k/passwd is a symlink that leads outside the repository", ErrOutsideRepo}},
		},
		{
			name: "kustomize remote base",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\n  - github.com/kubernetes-sigs/kustomize//examples/multibases?ref=v3.3.1\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 3, "is remote", ErrRemote}},
		},
		{
			name: "kustomize remote file over https",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - https://raw.githubusercontent.com/acme/x/main/deploy.yaml\n",
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 2, "is remote", ErrRemote}},
		},
		{
			name: "kustomize remote openapi schema and crds",
			files: map[string]string{
				"k/kustomization.yaml": "crds:\n  - https://example.com/crd.json\nopenapi:\n  path: http://example.com/schema.json\n",
			},
			app: config.App{Name: "t", Path: "k"},
			want: []wantErr{
				{"k/kustomization.yaml", 2, "is remote", ErrRemote},
				{"k/kustomization.yaml", 4, "openapi: a custom schema", ErrInvalid},
			},
		},
		{
			name: "kustomize exec plugin",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\ntransformers:\n  - plugin.yaml\n",
				"k/deploy.yaml":        deploy,
				"k/plugin.yaml":        "apiVersion: someteam.example.com/v1\nkind: SedTransformer\nmetadata:\n  name: sed\nargsOneLiner: s/a/b/\n",
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/plugin.yaml", 1, "plugin someteam.example.com/v1 SedTransformer is not allowed", ErrPlugin}},
		},
		{
			name: "kustomize container function",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\ngenerators:\n  - |-\n    apiVersion: example.com/v1\n    kind: Gen\n    metadata:\n      name: g\n      annotations:\n        config.kubernetes.io/function: |\n          container:\n            image: evil/fn:latest\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 4, "KRM function", ErrPlugin}},
		},
		{
			name: "kustomize helmCharts",
			files: map[string]string{
				"k/kustomization.yaml": "helmCharts:\n  - name: redis\n    repo: https://charts.example.com\n    version: 1.0.0\n",
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 2, "render: helm", ErrPlugin}},
		},
		{
			name: "kustomize resource with duplicate keys",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\n",
				"k/deploy.yaml":        deploy + "  name: again\n",
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/deploy.yaml", 5, `duplicate key "name"`, ErrInvalid}},
		},
		{
			name:  "alias bomb",
			files: map[string]string{"app/bomb.yaml": aliasBomb()},
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/bomb.yaml", 6, "alias bomb", ErrLimit}},
		},
		{
			name: "alias bomb in a kustomize resource",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - bomb.yaml\n",
				"k/bomb.yaml":          aliasBomb(),
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/bomb.yaml", 6, "alias bomb", ErrLimit}},
		},
		{
			name:  "deep nesting",
			files: map[string]string{"app/deep.yaml": deepNesting(5000)},
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/deep.yaml", 5, "nests deeper than", ErrLimit}},
		},
		{
			name:  "50 MB file",
			files: map[string]string{"app/a.yaml": deploy},
			setup: func(t *testing.T, root string) {
				f, err := os.Create(filepath.Join(root, "app/huge.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := f.Truncate(50 << 20); err != nil {
					t.Fatal(err)
				}
			},
			app:  config.App{Name: "t", Path: "app"},
			want: []wantErr{{"app/huge.yaml", 0, "over the limit", ErrLimit}},
		},
		{
			name:  "helm template symlinked outside",
			files: chart,
			setup: func(t *testing.T, root string) { symlink(t, secret, filepath.Join(root, "chart/templates/link.yaml")) },
			app:   config.App{Name: "t", Path: "chart"},
			want:  []wantErr{{"chart/templates/link.yaml", 0, "outside the repository", ErrOutsideRepo}},
		},
		{
			name:  "helm values file outside the repository",
			files: chart,
			app:   config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"../../../../../../etc/hostname"}}},
			want:  []wantErr{{".gantry.yaml", 0, "leads outside the repository", ErrOutsideRepo}},
		},
		{
			name:  "patches outside the repository",
			files: with(map[string]string{"app/a.yaml": deploy}, nil),
			app:   config.App{Name: "t", Path: "app", Patches: []string{"../../etc/"}},
			want:  []wantErr{{".gantry.yaml", 0, "leads outside the repository", ErrOutsideRepo}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			if tt.setup != nil {
				tt.setup(t, root)
			}
			start := time.Now()
			_, _, err := Render(t.Context(), root, tt.app)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("refusal took %v, want it fast", d)
			}
			checkErrors(t, tt.app.Name, err, tt.want)
			if err != nil && (strings.Contains(err.Error(), "name: stolen") || strings.Contains(err.Error(), outside)) {
				t.Errorf("error leaks a file outside: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), root) {
				t.Errorf("error shows the checkout's absolute path: %v", err)
			}
		})
	}
}
