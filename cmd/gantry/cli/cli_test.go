package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/localcluster"
)

var kube *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(localcluster.Main(m, localcluster.Options{}, &kube))
}

// tree writes files into a new repository directory.
func tree(t *testing.T, files map[string]string) string {
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

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: flags\ndata:\n  a: \"1\"\n"

func TestExitCodesAndMessages(t *testing.T) {
	good := tree(t, map[string]string{
		".gantry.yaml":        "version: 1\napps:\n  - name: web\n    path: apps/web\n    namespace: web\npolicies:\n  paths: [policy]\n",
		"apps/web/cm.yaml":    cm,
		"policy/main.rego":    "package main\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tmsg := \"no ConfigMaps\"\n}\n",
		"policy/ok_test.rego": "package main\n\ntest_denies if {\n\tcount(deny) == 1 with input as {\"kind\": \"ConfigMap\"}\n}\n",
	})
	broken := tree(t, map[string]string{
		".gantry.yaml":     "version: 1\napps:\n  - name: web\n    path: apps/web\n  - name: ok\n    path: apps/ok\n",
		"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
		"apps/ok/cm.yaml":  cm,
	})
	badConfig := tree(t, map[string]string{".gantry.yaml": "version: 1\napps:\n  - name: web\n    pth: apps/web\n"})
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"version", []string{"version"}, ExitOK, "kubernetes " + config.KubeLibraryVersion(), ""},
		{"render", []string{"render", "--repo", good}, ExitOK, "name: flags\n  namespace: web", ""},
		{"render json", []string{"render", "--repo", good, "-o", "json"}, ExitOK, `"kind": "List"`, ""},
		{"render error names app, file and line; other apps still render", []string{"render", "--repo", broken}, ExitFinding, "name: flags", "app web: apps/web/cm.yaml:5"},
		{"unknown app", []string{"render", "--repo", good, "--app", "wbe"}, ExitError, "", `no app "wbe"`},
		{"bad .gantry.yaml", []string{"render", "--repo", badConfig}, ExitError, "", `.gantry.yaml:4:5: apps[0]: unknown field "pth" (did you mean "path"?)`},
		{"bad output", []string{"render", "--repo", good, "-o", "xml"}, ExitError, "", `want yaml or json`},
		{"policy deny", []string{"policy", "--repo", good}, ExitFinding, "no ConfigMaps", ""},
		{"policy test", []string{"policy", "test", "--repo", good}, ExitOK, "test_denies", ""},
		{"serve without config", []string{"serve"}, ExitError, "", "serve needs --config FILE"},
		{"serve with a missing config", []string{"serve", "--config", "/nonexistent/gantry.yaml"}, ExitError, "", "read server configuration"},
		{"sandbox takes no arguments", []string{"sandbox", "story"}, ExitError, "", `unknown command "story"`},
		{"unknown flag", []string{"diff", "--bogus"}, ExitError, "", "unknown flag: --bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, want %d\nstdout (want %q):\n%s\nstderr (want %q):\n%s", code, tt.code, tt.stdout, out, tt.stderr, errOut)
			}
		})
	}
}

func TestDiffApplyAgainstTheLocalCluster(t *testing.T) {
	ns := kube.Namespace(t)
	files := map[string]string{
		".gantry.yaml":         "version: 1\napps:\n  - name: web\n    path: apps/web\n    namespace: " + ns + "\n",
		"apps/web/cm.yaml":     cm,
		"apps/web/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: hunter2-do-not-print\n",
	}
	repo := tree(t, files)
	kc := []string{"--repo", repo, "--kubeconfig", kube.Kubeconfig}
	for _, format := range []string{"text", "markdown", "json"} {
		code, out, errOut := run(t, append([]string{"diff", "-o", format}, kc...)...)
		if code != ExitFinding || !strings.Contains(out, "flags") {
			t.Fatalf("diff -o %s before apply: exit %d, want 1 (changes)\n%s%s", format, code, out, errOut)
		}
		if strings.Contains(out+errOut, "hunter2") {
			t.Fatalf("diff -o %s printed the Secret's value:\n%s", format, out)
		}
	}
	if code, out, errOut := run(t, append([]string{"apply", "--prune"}, kc...)...); code != ExitOK || strings.Contains(out+errOut, "hunter2") {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, append([]string{"diff"}, kc...)...); code != ExitOK {
		t.Fatalf("diff after apply: exit %d, want 0 (in sync)\n%s%s", code, out, errOut)
	}
	// Removing the ConfigMap from Git makes it a deletion; apply --prune
	// deletes it.
	if err := os.Remove(filepath.Join(repo, "apps/web/cm.yaml")); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run(t, append([]string{"diff"}, kc...)...); code != ExitFinding || !strings.Contains(out, "delete") {
		t.Fatalf("diff after removal: exit %d, want 1 with a deletion\n%s", code, out)
	}
	if code, out, errOut := run(t, append([]string{"apply", "--prune"}, kc...)...); code != ExitOK || !strings.Contains(out, "deleted") {
		t.Fatalf("apply --prune: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), "flags", metav1.GetOptions{}); err == nil {
		t.Error("pruned ConfigMap still exists")
	}
	// An unreachable cluster is exit 2 with the reason.
	dead := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(dead, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "diff", "--repo", repo, "--kubeconfig", dead); code != ExitError || !strings.Contains(errOut, "127.0.0.1:1") {
		t.Errorf("diff against a dead cluster: exit %d, want 2 naming the server\n%s", code, errOut)
	}
}

// TestRefusalsNameTheSourceLineAndTheFix proves what a new user trying the
// CLI against a cluster sees: an object the API server rejects is shown
// with its file:line, a namespace neither the cluster has nor the app
// creates is said once with the fix (not once per object), and apply
// --wait waits the app's healthTimeout, printing progress meanwhile.
func TestRefusalsNameTheSourceLineAndTheFix(t *testing.T) {
	ns := kube.Namespace(t)
	missing := ns + "-absent"
	deployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: %s\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec: {containers: [{name: c, image: registry.example/api:1}]}\n"
	repo := tree(t, map[string]string{
		".gantry.yaml": "version: 1\napps:\n  - name: web\n    path: apps/web\n    namespace: " + ns + "\n    healthTimeout: 2s\n" +
			"  - name: lost\n    path: apps/lost\n    namespace: " + missing + "\n",
		"apps/web/all.yaml":  cm + "---\n" + fmt.Sprintf(deployment, "-3"),
		"apps/lost/one.yaml": cm,
		"apps/lost/two.yaml": strings.Replace(cm, "name: flags", "name: other", 1),
	})
	kc := []string{"--repo", repo, "--kubeconfig", kube.Kubeconfig}
	code, out, errOut := run(t, append([]string{"diff"}, kc...)...)
	if code != ExitError {
		t.Errorf("diff: exit %d, want 2\n%s%s", code, out, errOut)
	}
	if want := "error: apps/web/all.yaml:8: Deployment/" + ns + "/api dry-run failed: invalid: spec.replicas"; !strings.Contains(out, want) {
		t.Errorf("diff output lacks %q:\n%s", want, out)
	}
	if n := strings.Count(out, "add a Namespace object"); n != 1 || !strings.Contains(out, fmt.Sprintf("namespace %q does not exist and the app does not create it (2 objects are in it)", missing)) {
		t.Errorf("missing namespace said %d times, want once with the count:\n%s", n, out)
	}
	if strings.Contains(out, "not found") {
		t.Errorf("diff repeats the API's not-found error:\n%s", out)
	}

	// A valid Deployment that never becomes ready (this cluster runs no
	// controllers) waits the app's 2s, not five minutes.
	if err := os.WriteFile(filepath.Join(repo, "apps/web/all.yaml"), []byte(cm+"---\n"+fmt.Sprintf(deployment, "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code = Run(ctx, append([]string{"apply", "--wait", "--app", "web"}, kc...), &stdout, &stderr)
	if code != ExitFinding {
		t.Errorf("apply --wait: exit %d, want 1 (unhealthy)\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Logf("diff:\n%s\napply:\n%s%s", out, stdout.String(), stderr.String())
	if want := "still not ready at the health timeout (2s)"; !strings.Contains(stdout.String(), want) {
		t.Errorf("apply output lacks %q:\n%s", want, stdout.String())
	}
	if want := "app web: waiting for health, 1 of 2 objects ready"; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "Deployment/"+ns+"/api InProgress") {
		t.Errorf("no progress on stderr (want %q and the pending Deployment):\n%s", want, stderr.String())
	}
}
