package bot

import (
	"maps"
	"strings"
	"testing"
)

// previewPolicyFiles are previewFiles with the base branch's policy:
// a red ConfigMap is denied.
func previewPolicyFiles(rego string) map[string]string {
	files := maps.Clone(previewFiles)
	files[".gantry.yaml"] = previewRepo + "policies:\n  paths: [policy/]\n"
	files["policy/main.rego"] = rego
	return files
}

const denyRed = "package main\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tinput.data.color == \"red\"\n\tmsg := sprintf(\"ConfigMap %s: red is not allowed\", [input.metadata.name])\n}\n"

// TestPreviewIsRefusedByTheBaseBranchsPolicy: a preview runs the head in
// the cluster before review, so the policies judge it first, from the
// base branch: a pull request that denies itself a preview cannot lift
// the deny by rewriting the policy in its own head, and nothing of it
// reaches the cluster.
func TestPreviewIsRefusedByTheBaseBranchsPolicy(t *testing.T) {
	l := startServer(t, previewPolicyFiles(denyRed), previewServer)
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	red := strings.Replace(previewFiles["apps/web/cm.yaml"], "color: blue", "color: red", 1)
	ns, body := l.refusedPreview(t, "red", map[string]string{"apps/web/cm.yaml": strings.ReplaceAll(red, "NS", l.ns), "policy/main.rego": "package main\n"})
	want := "denied by policy/main.rego (deny): ConfigMap/" + l.ns + "/web-config: ConfigMap web-config: red is not allowed (apps/web/cm.yaml:1)"
	if !strings.Contains(body, want) {
		t.Errorf("the refusal does not name the deny %q:\n%s", want, body)
	}
	if !gone(t, ns) {
		t.Errorf("namespace %s was created for a preview its policy denies", ns)
	}
}

// TestPreviewIsRefusedWhenThePolicyCannotRun: a base branch whose policy
// does not compile refuses every preview, naming the file, rather than
// previewing unjudged.
func TestPreviewIsRefusedWhenThePolicyCannotRun(t *testing.T) {
	l := startServer(t, previewPolicyFiles("package main\n\ndeny contains msg if {\n\tinput.kind ==\n}\n"), previewServer)
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	green := strings.Replace(previewFiles["apps/web/cm.yaml"], "color: blue", "color: green", 1)
	ns, body := l.refusedPreview(t, "green", map[string]string{"apps/web/cm.yaml": strings.ReplaceAll(green, "NS", l.ns)})
	if !strings.Contains(body, "the policies do not load, so nothing is previewed") || !strings.Contains(body, "policy/main.rego:") {
		t.Errorf("the refusal does not say the policy failed to load, and where:\n%s", body)
	}
	if !gone(t, ns) {
		t.Errorf("namespace %s was created for a preview no policy judged", ns)
	}
}
