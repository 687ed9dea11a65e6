package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDiffOffline: gantry diff --offline validates without a cluster (the
// kubeconfig given does not exist), exits 1 on a schema error printed
// with its file and line and the server's field path, and 0 when every
// object passes; the kind without a schema is listed either way.
func TestDiffOffline(t *testing.T) {
	files := map[string]string{
		".gantry.yaml":      "version: 1\napps:\n  - name: web\n    path: apps/web\n",
		"apps/web/cm.yaml":  cm,
		"apps/web/sm.yaml":  "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata:\n  name: web\n",
		"apps/web/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: Balanced\n  ports: [{port: 80}]\n",
	}
	bad := tree(t, files)
	code, out, errOut := run(t, "diff", "--offline", "--kube-version", "1.31", "--repo", bad, "--kubeconfig", "/nonexistent")
	if code != ExitFinding {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFinding, out, errOut)
	}
	for _, want := range []string{
		"web: validated offline against Kubernetes 1.34: 2 objects checked, 1 schema errors",
		`apps/web/svc.yaml:1: Service default/web: spec.type: Unsupported value: "Balanced": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
		"ServiceMonitor default/web: not checked: no schema for monitoring.coreos.com/v1 ServiceMonitor",
		"Only the API server checks: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	files["apps/web/svc.yaml"] = strings.Replace(files["apps/web/svc.yaml"], "Balanced", "ClusterIP", 1)
	good := tree(t, files)
	code, out, _ = run(t, "diff", "--offline", "--repo", good, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s", code, out)
	}
	var doc struct {
		Apps []struct {
			App       string
			Checked   int
			Problems  []any
			Unchecked []string
		}
		NotChecked []string
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if len(doc.Apps) != 1 || doc.Apps[0].Checked != 2 || len(doc.Apps[0].Problems) != 0 || len(doc.Apps[0].Unchecked) != 1 || len(doc.NotChecked) == 0 {
		t.Errorf("-o json: %+v", doc)
	}
}
