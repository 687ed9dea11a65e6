package bot

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// authChart is a chart whose Secret holds a generated password and whose
// ConfigMap a generated annotation; NOTES.md is left out by .helmignore,
// so changing it affects the app without changing the chart's inputs.
var authChart = map[string]string{
	".gantry.yaml": `version: 1
apps:
  - name: auth
    path: apps/auth
    render: helm
    namespace: NS
`,
	"apps/auth/Chart.yaml":  "apiVersion: v2\nname: auth\nversion: 0.1.0\n",
	"apps/auth/.helmignore": "*.md\n",
	"apps/auth/NOTES.md":    "first\n",
	"apps/auth/values.yaml": "greeting: hello\n",
	"apps/auth/templates/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: auth
data:
  password: {{ randAlphaNum 24 | b64enc | quote }}
`,
	"apps/auth/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: auth-settings
  annotations:
    checksum/random: {{ uuidv4 | quote }}
data:
  greeting: {{ .Values.greeting | quote }}
`,
}

// TestPlanSaysWhichChartFieldsAreNotDeterministic merges the chart (the
// apply creates it), then plans a change that leaves the chart's inputs
// alone: the comment and the diff check show no change and say the live
// values were kept. A change of a value then says the values are
// regenerated, and merging it replaces the password, while the first
// merge's apply and the later plan left it alone.
func TestPlanSaysWhichChartFieldsAreNotDeterministic(t *testing.T) {
	l := startServer(t, authChart, "")
	_, merge := l.mergePR(t, "install", map[string]string{"apps/auth/NOTES.md": "second\n"})
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("install: %s %s", c.Conclusion, c.Summary)
	}
	password := func() string {
		s, err := kube.Client.CoreV1().Secrets(l.ns).Get(context.Background(), "auth", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["password"])
	}
	first := password()

	open := func(branch string, files map[string]string) (int, string) {
		n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: branch, Files: withNS(files, l.ns)})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "plan of "+branch, func() bool { return l.completed(head) })
		return n, head
	}

	pr, head := open("notes", map[string]string{"apps/auth/NOTES.md": "third\n"})
	kept := "**Not deterministic:** `auth` renders fields differently every time — kept the live value: ConfigMap " + l.ns +
		"/auth-settings `.metadata.annotations[\"checksum/random\"]`; Secret " + l.ns + "/auth `password`"
	body := l.botComment(pr, "gantry")
	if !strings.Contains(body, kept) {
		t.Errorf("plan comment lacks\n%s\nin:\n%s", kept, body)
	}
	if !strings.Contains(body, "| auth | local | 0 | 0 | 0 | 2 |") {
		t.Errorf("same chart inputs, but the plan shows a change:\n%s", body)
	}
	if c := l.checks(head)[report.CheckDiff]; c.Title != "no changes" || !strings.Contains(c.Summary, kept) {
		t.Errorf("diff check: %q\n%s", c.Title, c.Summary)
	}
	if password() != first {
		t.Fatal("a plan changed the live password")
	}

	pr, _ = open("greeting", map[string]string{"apps/auth/values.yaml": "greeting: bonjour\n"})
	regenerated := "⚠️ regenerated, because the chart's inputs changed: ConfigMap " + l.ns +
		"/auth-settings `.metadata.annotations[\"checksum/random\"]`; Secret " + l.ns + "/auth `password`"
	if body := l.botComment(pr, "gantry"); !strings.Contains(body, regenerated) {
		t.Errorf("plan comment lacks\n%s\nin:\n%s", regenerated, body)
	}
	sha, err := l.sim.MergePR("maria", "acme", "ops", pr)
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, sha); c.Conclusion != "success" {
		t.Fatalf("greeting: %s %s", c.Conclusion, c.Summary)
	}
	if password() == first {
		t.Error("the chart's inputs changed, but the apply kept the old generated password")
	}
}
