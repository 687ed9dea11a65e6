package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testServer knows clusters prod and staging.
func testServer(t *testing.T) *Server {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret", "kc-prod", "kc-staging"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := ParseServer("server.yaml", []byte(`
github: {appID: 7, privateKeyFile: key.pem, webhookSecretFile: secret}
clusters:
  - {name: prod, kubeconfig: kc-prod}
  - {name: staging, kubeconfig: kc-staging}
defaultCluster: staging
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// repoTree makes a repository with the given files.
func repoTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func TestLoadRepoErrors(t *testing.T) {
	tree := map[string]string{
		"apps/web/deploy.yaml":                "",
		"apps/api/kustomization.yaml":         "resources: []\n",
		"charts/web/Chart.yaml":               "name: web\n",
		"policy/deny.rego":                    "",
		"apps/web/values-prod.yaml":           "",
		"apps/notadir.yaml":                   "",
		"drift-patches/web.yaml":              "",
		"apps/web/overlays/prod/kustomize.go": "",
	}
	tests := []struct {
		name string
		yaml string
		want []string // error lines, exactly
	}{{
		name: "unknown field with suggestion",
		yaml: "version: 1\napps:\n  - name: web\n    path: apps/web\n    namesapce: web\n",
		want: []string{`.gantry.yaml:5:5: apps[0]: unknown field "namesapce" (did you mean "namespace"?)`},
	}, {
		name: "unknown top-level field without a close match",
		yaml: "version: 1\napps: []\nfrobnicate: true\n",
		want: []string{`.gantry.yaml:3:1: unknown field "frobnicate"`},
	}, {
		name: "wrong types",
		yaml: "version: \"1\"\napps:\n  - name: web\n    path: apps/web\n    prune: yes\n    whenModified: charts/web/**\n",
		want: []string{
			`.gantry.yaml:1:10: version: want a whole number, got string "1"`,
			`.gantry.yaml:5:12: apps[0].prune: want true or false, got string "yes"`,
			`.gantry.yaml:6:19: apps[0].whenModified: want a list, got string "charts/web/**"`,
		},
	}, {
		name: "path leaves the repository",
		yaml: "version: 1\napps:\n  - name: web\n    path: apps/../../etc\n  - name: abs\n    path: /etc\n",
		want: []string{
			`.gantry.yaml:4:11: apps[0].path: "apps/../../etc" leaves the repository`,
			`.gantry.yaml:6:11: apps[1].path: "/etc" must be relative to the repository root`,
		},
	}, {
		name: "path missing or not a directory",
		yaml: "version: 1\napps:\n  - name: web\n    path: apps/nope\n  - name: file\n    path: apps/notadir.yaml\n  - name: nopath\n",
		want: []string{
			`.gantry.yaml:4:11: apps[0].path: "apps/nope" does not exist in the repository`,
			`.gantry.yaml:6:11: apps[1].path: "apps/notadir.yaml" is not a directory`,
			`.gantry.yaml:7:5: apps[2].path: missing: the app's directory, relative to the repository root`,
		},
	}, {
		name: "duplicate app names",
		yaml: "version: 1\napps:\n  - name: web\n    path: apps/web\n  - name: web\n    path: apps/api\n",
		want: []string{`.gantry.yaml:5:11: apps[1].name: "web" is already the name of apps[0] (line 3)`},
	}, {
		name: "unknown cluster",
		yaml: "version: 1\napps:\n  - name: web\n    path: apps/web\n    cluster: prd\n",
		want: []string{`.gantry.yaml:5:14: apps[0].cluster: "prd" is not a cluster of this gantry server (it knows "prod", "staging") (did you mean "prod"?)`},
	}, {
		name: "enumerations",
		yaml: "version: 1\napps:\n  - name: web\n    path: apps/web\n    render: kustomise\n    drift: auto\n    apply: on-merged\n",
		want: []string{
			`.gantry.yaml:5:13: apps[0].render: "kustomise" is not one of yaml, kustomize, helm (did you mean "kustomize"?)`,
			`.gantry.yaml:6:12: apps[0].drift: "auto" is not one of pr, remediate, notify, off`,
			`.gantry.yaml:7:12: apps[0].apply: "on-merged" is not one of on-merge, on-command (did you mean "on-merge"?)`,
		},
	}, {
		name: "bad names, version, duplicate key",
		yaml: "version: 2\napps:\n  - name: Web_Prod\n    path: apps/web\n    path: apps/api\n",
		want: []string{
			`.gantry.yaml:1:10: version: 2 is not supported: this build reads version 1`,
			`.gantry.yaml:3:11: apps[0].name: "Web_Prod" must be lower-case letters, digits and '-', at most 50 characters`,
			`.gantry.yaml:5:5: apps[0].path: given twice (first at line 4)`,
		},
	}, {
		name: "helm settings on a kustomize app, bad ignore rule, bad duration",
		yaml: "version: 1\napps:\n  - name: api\n    path: apps/api\n    render: kustomize\n    helm: {releaseName: x}\n    ignore:\n      - kind: Deployment\n      - pointers: [spec/replicas]\n    healthTimeout: soon\n",
		want: []string{
			`.gantry.yaml:6:11: apps[0].helm: only for ` + "`render: helm`" + `, but this app renders with kustomize`,
			`.gantry.yaml:8:9: apps[0].ignore[0]: ignores nothing: give pointers or managers`,
			`.gantry.yaml:9:20: apps[0].ignore[1].pointers[0]: "spec/replicas" is not a JSON pointer (it starts with /, e.g. /spec/replicas)`,
			`.gantry.yaml:10:20: apps[0].healthTimeout: want a duration such as "90s" or "5m", got "soon"`,
		},
	}, {
		name: "syntax error",
		yaml: "version: 1\napps:\n  - name: web\n   path: apps/web\n",
		want: []string{`.gantry.yaml:2: invalid YAML: did not find expected '-' indicator`},
	}, {
		name: "missing version",
		yaml: "apps:\n  - name: web\n    path: apps/web\n",
		want: []string{`.gantry.yaml:1:1: version: missing: this build reads ` + "`version: 1`"},
	}, {
		name: "policy path must exist inside the repository",
		yaml: "version: 1\napps: []\npolicies:\n  paths: [policy/, ../policy]\n",
		want: []string{`.gantry.yaml:4:20: policies.paths[1]: "../policy" leaves the repository`},
	}}
	srv := testServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{RepoFileName: tt.yaml}
			for k, v := range tree {
				files[k] = v
			}
			_, err := LoadRepo(repoTree(t, files), srv)
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			var fe *FieldError
			if err != nil && !errors.As(err, &fe) {
				t.Errorf("error %T does not unwrap to *FieldError", err)
			}
		})
	}
}

func TestLoadRepoValidAppliesDefaults(t *testing.T) {
	root := repoTree(t, map[string]string{
		RepoFileName: `version: 1
apps:
  - name: web-prod
    path: apps/web/overlays/prod/
    cluster: prod
    namespace: web
    patches: [drift-patches/]
    whenModified: ["charts/web/**"]
  - name: chart
    path: charts/web
    helm:
      values: [values-prod.yaml]
      set: {replicas: 3, image.tag: "1.2"}
  - name: plain
    path: apps/plain
    prune: false
    drift: notify
    apply: on-command
    healthTimeout: 90s
policies:
  paths: [policy/]
`,
		"apps/web/overlays/prod/kustomization.yaml": "resources: []\n",
		"charts/web/Chart.yaml":                     "name: web\n",
		"apps/plain/cm.yaml":                        "",
		"drift-patches/.keep":                       "",
		"policy/main.rego":                          "",
	})
	got, err := LoadRepo(root, testServer(t))
	if err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	want := []App{{
		Name: "web-prod", Path: "apps/web/overlays/prod", Render: RenderKustomize, Cluster: "prod", Namespace: "web",
		Patches: []string{"drift-patches/"}, WhenModified: []string{"charts/web/**"},
		Prune: &yes, Drift: DriftPR, Apply: ApplyOnMerge, OnFailure: OnFailureRevertPR, HealthTimeout: Duration(DefaultHealthTimeout),
	}, {
		Name: "chart", Path: "charts/web", Render: RenderHelm, Cluster: "staging", Namespace: "default",
		Helm:  &Helm{ReleaseName: "chart", Values: []string{"values-prod.yaml"}, Set: map[string]string{"replicas": "3", "image.tag": "1.2"}, KubeVersion: KubeLibraryVersion()},
		Prune: &yes, Drift: DriftPR, Apply: ApplyOnMerge, OnFailure: OnFailureRevertPR, HealthTimeout: Duration(DefaultHealthTimeout),
	}, {
		Name: "plain", Path: "apps/plain", Render: RenderYAML, Cluster: "staging", Namespace: "default",
		Prune: &no, Drift: DriftNotify, Apply: ApplyOnCommand, OnFailure: OnFailureRevertPR, HealthTimeout: Duration(90e9),
	}}
	if diff := cmp.Diff(want, got.Apps); diff != "" {
		t.Errorf("apps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(Policies{Paths: []string{"policy/"}, Namespaces: []string{"main"}}, got.Policies); diff != "" {
		t.Errorf("policies (-want +got):\n%s", diff)
	}
}

func TestLoadRepoSymlinkOutOfRepository(t *testing.T) {
	root := repoTree(t, map[string]string{RepoFileName: "version: 1\napps:\n  - name: web\n    path: apps/web\n"})
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "apps", "web")); err != nil {
		t.Fatal(err)
	}
	_, err := LoadRepo(root, nil)
	want := []string{`.gantry.yaml:4:11: apps[0].path: "apps/web" leads outside the repository through a symbolic link`}
	if diff := cmp.Diff(want, errorLines(err)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
