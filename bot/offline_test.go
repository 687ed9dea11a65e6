package bot

import (
	"os"
	"strings"
	"testing"

	"github.com/gantryops/gantry/bot/report"
)

const offlineRepo = `version: 1
apps:
  - name: web
    path: apps/web
    namespace: NS
  - name: tools
    path: apps/tools
    namespace: NS
    cluster: none
policies:
  paths: [policy/]
`

const widgetCRDFile = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.offline.gantry.dev}
spec:
  group: offline.gantry.dev
  scope: Namespaced
  names: {kind: Widget, plural: widgets}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string, enum: [small, large]}
`

// killCluster points the pipeline's only cluster at a port nothing
// listens on.
func killCluster(t *testing.T, e *e2e) {
	t.Helper()
	dead := t.TempDir() + "/kubeconfig"
	if err := os.WriteFile(dead, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: x}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.pipe.Config.Clusters[0].Kubeconfig = dead
	e.pipe.Config.Clusters[0].KubeVersion = "v1.31.0"
	e.pipe.Clusters = NewClusters(e.pipe.Config)
}

// TestPlanClusterDownValidatesOffline: an app whose cluster is down and
// an app that targets none are validated offline. Each schema error is a
// failed-check annotation on its object's file and line, a custom object
// is judged by the CRD in the repository, policies still judge the
// rendered objects, and nothing claims a live diff.
func TestPlanClusterDownValidatesOffline(t *testing.T) {
	e := newE2E(t, map[string]string{
		".gantry.yaml":        offlineRepo,
		"apps/web/cm.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: blue\n",
		"apps/tools/crd.yaml": widgetCRDFile,
		"apps/tools/w.yaml":   "apiVersion: offline.gantry.dev/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: small}\n",
		"policy/main.rego":    baseFiles["policy/main.rego"],
	})
	killCluster(t, e)
	pr, head := e.openPR(map[string]string{
		"apps/web/deploy.yaml": "# the web server\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: \"two\"\n" +
			"  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: nginx}]}\n",
		"apps/tools/w.yaml":  "apiVersion: offline.gantry.dev/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: medium}\n",
		"apps/tools/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tools\ndata:\n  color: red\n",
		"apps/tools/sm.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: tools\n",
	})
	c := e.checks(head)[report.CheckDiff]
	if c.Conclusion != "failure" {
		t.Errorf("diff check %s %q, want failure on schema errors", c.Conclusion, c.Title)
	}
	want := map[string]string{
		"apps/web/deploy.yaml:2": ".spec.replicas: expected numeric (int or float), got string",
		"apps/tools/w.yaml:1":    `spec.size: Unsupported value: "medium": supported values: "small", "large"`,
	}
	for _, a := range c.Annotations {
		loc := a.Path + ":" + itoa(a.StartLine)
		if msg, ok := want[loc]; ok && strings.Contains(a.Message, msg) && strings.Contains(a.Title, "rejected by the Kubernetes 1.34 schema") {
			delete(want, loc)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing annotations %v in %+v", want, c.Annotations)
	}
	for _, s := range []string{
		"**Validated offline:** `web` against Kubernetes 1.34 (the nearest shipped schema to v1.31.0), no live diff: cluster local could not be reached",
		"**Validated offline:** `tools` against Kubernetes 1.34, no live diff: the app targets no cluster (cluster: none). 3 objects checked",
		"Not checked: ServiceMonitor NS/tools: not checked: no schema for monitoring.coreos.com/v1 ServiceMonitor",
		"Only the API server checks: the server's own validation",
	} {
		if !strings.Contains(strings.ReplaceAll(c.Summary, e.ns, "NS"), s) {
			t.Errorf("diff check summary lacks %q:\n%s", s, c.Summary)
		}
	}
	body := e.summary(pr)
	if !strings.Contains(body, "2 apps validated offline") || strings.Contains(body, "no changes") || strings.Contains(body, "diffed in") {
		t.Errorf("the comment claims a live diff or hides the offline validation:\n%s", body)
	}
	if p := e.checks(head)[report.CheckPolicy]; p.Conclusion != "failure" || p.Title != "1 deny" {
		t.Errorf("policies did not judge the offline app's objects: %s %q", p.Conclusion, p.Title)
	}
	if errs := e.sim.Errors(); len(errs) > 0 {
		t.Errorf("GitHub simulator: %v", errs)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
