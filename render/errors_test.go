package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

// wantErr is one expected *Error: its location, a fragment of its
// message, and its cause.
type wantErr struct {
	File  string
	Line  int
	Msg   string
	Cause error
}

// checkErrors compares the *Errors in err with want, in order.
func checkErrors(t *testing.T, app string, err error, want []wantErr) {
	t.Helper()
	if err == nil {
		t.Fatalf("render succeeded, want %d error(s)", len(want))
	}
	got := AsErrors(err)
	type loc struct {
		File string
		Line int
	}
	var gotLocs, wantLocs []loc
	for _, g := range got {
		gotLocs = append(gotLocs, loc{g.File, g.Line})
	}
	for _, w := range want {
		wantLocs = append(wantLocs, loc{w.File, w.Line})
	}
	if diff := cmp.Diff(wantLocs, gotLocs); diff != "" {
		t.Fatalf("error locations (-want +got):\n%s\nerror: %v", diff, err)
	}
	for i, w := range want {
		g := got[i]
		if g.App != app {
			t.Errorf("error %d names app %q, want %q", i, g.App, app)
		}
		if !strings.Contains(g.Msg, w.Msg) {
			t.Errorf("error %d = %q, want it to contain %q", i, g.Msg, w.Msg)
		}
		if w.Cause != nil && !errors.Is(g, w.Cause) {
			t.Errorf("error %d = %v, want cause %v", i, g, w.Cause)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	tests := []struct {
		name  string
		files map[string]string
		app   config.App
		want  []wantErr
	}{
		{
			name: "document without kind, and a second bad file: both reported",
			files: map[string]string{
				"app/a.yaml": deploy + "---\napiVersion: v1\nmetadata:\n  name: x\n",
				"app/b.yaml": "---\nfoo: bar\n",
			},
			app: config.App{Name: "t", Path: "app", Render: config.RenderYAML},
			want: []wantErr{
				{"app/a.yaml", 6, "has no kind", ErrInvalid},
				{"app/b.yaml", 2, "no apiVersion and kind", ErrInvalid},
			},
		},
		{
			name:  "excluded files are not read",
			files: map[string]string{"app/a.yaml": deploy, "app/ci/x.yaml": "foo: bar\n", "app/bad.yaml": "kind: [\n"},
			app:   config.App{Name: "t", Path: "app", Exclude: []string{"ci/**"}},
			want:  []wantErr{{"app/bad.yaml", 1, "parse yaml", ErrInvalid}},
		},
		{
			name:  "duplicate key",
			files: map[string]string{"app/a.yaml": deploy + "spec:\n  replicas: 1\n  replicas: 2\n"},
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/a.yaml", 7, `duplicate key "replicas" (first at line 6)`, ErrInvalid}},
		},
		{
			name:  "object without a name",
			files: map[string]string{"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\n"},
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/a.yaml", 1, "has no metadata.name", ErrInvalid}},
		},
		{
			name:  "the same object twice",
			files: map[string]string{"app/a.yaml": deploy, "app/b.yaml": "# again\n" + deploy},
			app:   config.App{Name: "t", Path: "app"},
			want:  []wantErr{{"app/b.yaml", 2, "rendered twice (also at app/a.yaml:1)", ErrInvalid}},
		},
		{
			name:  "app path is not a directory",
			files: map[string]string{"app/a.yaml": deploy},
			app:   config.App{Name: "t", Path: "nothing-here"},
			want:  []wantErr{{"nothing-here", 0, "not a directory", ErrInvalid}},
		},
		{
			name: "helm template error names template and line",
			files: map[string]string{
				"chart/Chart.yaml":          "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"chart/templates/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ .Values.missing.key }}\n",
				"chart/templates/_help.tpl": "",
			},
			app:  config.App{Name: "t", Path: "chart"},
			want: []wantErr{{"chart/templates/cm.yaml", 6, "nil pointer evaluating", ErrInvalid}},
		},
		{
			name: "helm fail names template and line",
			files: map[string]string{
				"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n{{ fail \"set .Values.x\" }}\n",
			},
			app:  config.App{Name: "t", Path: "chart"},
			want: []wantErr{{"chart/templates/cm.yaml", 5, "set .Values.x", ErrInvalid}},
		},
		{
			name: "helm dependency not vendored",
			files: map[string]string{
				"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example.com\n",
				"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			},
			app:  config.App{Name: "t", Path: "chart"},
			want: []wantErr{{"chart/Chart.yaml", 5, "dependency redis is not vendored under charts/", ErrInvalid}},
		},
		{
			name: "helm values file with a duplicate key",
			files: map[string]string{
				"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
				"chart/prod.yaml":         "a: 1\na: 2\n",
			},
			app:  config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"prod.yaml"}}},
			want: []wantErr{{"chart/prod.yaml", 2, `duplicate key "a"`, ErrInvalid}},
		},
		{
			name: "kustomize resource that does not exist",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\n  - missing.yaml\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 3, `"missing.yaml" does not exist in the repository`, ErrInvalid}},
		},
		{
			name: "kustomize build error",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\npatches:\n  - path: nope.yaml\n",
				"k/deploy.yaml":        deploy,
				"k/nope.yaml":          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nope\n",
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 0, "kustomize build k: ", nil}},
		},
		{
			name: "kustomize base's missing file: the base's kustomization and line, not a remote base",
			files: map[string]string{
				"overlay/kustomization.yaml": "resources:\n  - ../base\n",
				"base/kustomization.yaml":    "resources:\n  - deploy.yaml\n  - missing.yaml\n",
				"base/deploy.yaml":           deploy,
			},
			app:  config.App{Name: "t", Path: "overlay"},
			want: []wantErr{{"base/kustomization.yaml", 3, `resources entry "missing.yaml" does not exist in the repository`, ErrInvalid}},
		},
		{
			name: "kustomize base directory that does not exist",
			files: map[string]string{
				"overlay/kustomization.yaml": "resources:\n  - ../nobase\n",
			},
			app:  config.App{Name: "t", Path: "overlay"},
			want: []wantErr{{"overlay/kustomization.yaml", 2, `resources entry "../nobase" does not exist in the repository`, ErrInvalid}},
		},
		{
			name: "kustomize patch file that does not exist: the kustomization's line, not kustomize's output",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\npatches:\n  - path: nope.yaml\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 4, `patches path entry "nope.yaml" does not exist in the repository`, ErrInvalid}},
		},
		{
			name: "kustomize strategic-merge patch file that does not exist",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\npatchesStrategicMerge:\n  - nope.yaml\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 4, `patchesStrategicMerge entry "nope.yaml" does not exist`, ErrInvalid}},
		},
		{
			name: "kustomize patch written as a bare file name",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\npatches:\n  - nope.yaml\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 4, `patches entry "nope.yaml" is a string, not an item: name a file with "- path: nope.yaml", and k/nope.yaml does not exist`, ErrInvalid}},
		},
		{
			name: "kustomize patch file named under patch: instead of path:",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\npatches:\n  - target: {kind: Deployment}\n    patch: nope.yaml\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 5, `name a file with "path: nope.yaml" (k/nope.yaml does not exist in the repository either)`, ErrInvalid}},
		},
		{
			name: "kustomize's own multi-line error comes out on one line",
			files: map[string]string{
				"k/kustomization.yaml": "resources:\n  - deploy.yaml\npatches:\n  - patch: |\n      just some text\n      more text\n",
				"k/deploy.yaml":        deploy,
			},
			app:  config.App{Name: "t", Path: "k"},
			want: []wantErr{{"k/kustomization.yaml", 0, "unable to parse SM or JSON patch", nil}},
		},
		{
			name: "helm values file that does not exist: its .gantry.yaml line, relative to the chart",
			files: map[string]string{
				".gantry.yaml":            "version: 1\napps:\n  - name: other\n    path: chart\n  - name: t\n    path: chart\n    helm:\n      values:\n        - prod.yaml\n        - missing.yaml\n",
				"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
				"chart/prod.yaml":         "a: 1\n",
			},
			app:  config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"prod.yaml", "missing.yaml"}}},
			want: []wantErr{{".gantry.yaml", 10, `helm.values entry "missing.yaml": chart/missing.yaml does not exist; values files are relative to the chart directory chart`, ErrInvalid}},
		},
		{
			name: "helm values file leading outside: its .gantry.yaml line",
			files: map[string]string{
				".gantry.yaml":            "version: 1\napps:\n  - name: t\n    path: chart\n    helm:\n      values: [../../x.yaml]\n",
				"chart/Chart.yaml":        "apiVersion: v2\nname: c\nversion: 0.1.0\n",
				"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
			},
			app:  config.App{Name: "t", Path: "chart", Helm: &config.Helm{Values: []string{"../../x.yaml"}}},
			want: []wantErr{{".gantry.yaml", 6, "leads outside the repository", ErrOutsideRepo}},
		},
		{
			name: "patch without a target object",
			files: map[string]string{
				"app/a.yaml":         deploy,
				"patches/drift.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n",
			},
			app:  config.App{Name: "t", Path: "app", Patches: []string{"patches/"}},
			want: []wantErr{{"patches/drift.yaml", 1, "patch targets Deployment default/api, which the app does not render", ErrInvalid}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeFiles(t, tt.files)
			_, _, err := Render(t.Context(), root, tt.app)
			checkErrors(t, tt.app.Name, err, tt.want)
			for _, e := range AsErrors(err) {
				if strings.Contains(e.Msg, "\n") {
					t.Errorf("error is more than one line: %q", e.Msg)
				}
			}
			if err != nil && strings.Contains(err.Error(), root) {
				t.Errorf("error shows the checkout's absolute path: %v", err)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{App: "web", File: "apps/web/a.yaml", Line: 3, Msg: "duplicate key \"a\""}
	if diff := cmp.Diff(`app web: apps/web/a.yaml:3: duplicate key "a"`, e.Error()); diff != "" {
		t.Errorf("Error() (-want +got):\n%s", diff)
	}
	joined := errors.Join(e, &Error{App: "web", Msg: "x"})
	if diff := cmp.Diff(2, len(AsErrors(joined))); diff != "" {
		t.Errorf("AsErrors (-want +got):\n%s", diff)
	}
}

// TestMissingLocalIsNotRemote keeps the two refusals apart: a local entry
// that is missing is never reported as remote, and a remote one always is.
func TestMissingLocalIsNotRemote(t *testing.T) {
	tests := []struct {
		ref    string
		remote bool
	}{
		{"missing.yaml", false},
		{"missing/", false},
		{"./sub/missing.yaml", false},
		{"https://github.com/x/y", true},
		{"github.com/x/y", true},
		{"git@github.com:x/y.git", true},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			root := writeFiles(t, map[string]string{"k/kustomization.yaml": "resources:\n  - " + tt.ref + "\n"})
			_, _, err := Render(t.Context(), root, config.App{Name: "t", Path: "k"})
			if got := errors.Is(err, ErrRemote); got != tt.remote {
				t.Fatalf("errors.Is(err, ErrRemote) = %v, want %v: %v", got, tt.remote, err)
			}
			want := "is remote"
			if !tt.remote {
				want = "does not exist in the repository"
			}
			if msg := err.Error(); !strings.Contains(msg, "k/kustomization.yaml:2: resources entry") || !strings.Contains(msg, want) {
				t.Errorf("error = %v, want the kustomization's line 2 and %q", err, want)
			}
		})
	}
}
