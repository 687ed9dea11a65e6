package report

import (
	"strings"
	"testing"
)

func offlineReport() Report {
	return Report{HeadSHA: "4f2c1a9e", Apps: []App{{
		Name: "web", Cluster: "prod",
		Offline: &Offline{Version: "1.34", Target: "1.31", Reason: "cluster prod is unreachable: dial tcp: connection refused", Unreachable: true,
			Checked: 3, Unchecked: []string{"ServiceMonitor web/m: not checked: no schema <!-- gantry:pr-summary -->"}, NotChecked: []string{"admission webhooks"}},
		Objects: []Object{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "api",
			Error: &Problem{Message: `.spec.replicas: expected numeric (int or float), got string`, File: "apps/web/deploy.yaml", Line: 7}}},
	}}}
}

// TestOfflineAppNeverClaimsALiveDiff: an app validated offline says so
// with its version and what was not checked, shows no counts, fails the
// diff check with its schema error annotated at the file and line, and
// its echoed texts cannot hide a marker.
func TestOfflineAppNeverClaimsALiveDiff(t *testing.T) {
	r := offlineReport()
	out := DiffCheck(r)
	if out.Conclusion != Failure {
		t.Errorf("conclusion %s, want failure on a schema error", out.Conclusion)
	}
	for _, want := range []string{
		"**Validated offline:** `web` against Kubernetes 1.34 (the nearest shipped schema to 1.31), no live diff: cluster prod is unreachable",
		"3 objects checked against the schema, 1 schema error.",
		"Not checked: ServiceMonitor web/m",
		"Only the API server checks: admission webhooks.",
		"| web | prod | – | – | – | – |",
	} {
		if !strings.Contains(out.Summary, want) {
			t.Errorf("diff check summary lacks %q:\n%s", want, out.Summary)
		}
	}
	if len(out.Annotations) != 1 || out.Annotations[0].Path != "apps/web/deploy.yaml" || out.Annotations[0].Line != 7 ||
		!strings.Contains(out.Annotations[0].Title, "rejected by the Kubernetes 1.34 schema") {
		t.Errorf("annotations %+v, want one at apps/web/deploy.yaml:7 naming the schema", out.Annotations)
	}
	parts := Comment(r, func(int) string { return "<!-- m -->" })
	body := strings.Join(parts, "\n")
	if !strings.Contains(body, "1 app validated offline") || strings.Contains(body, "no changes") {
		t.Errorf("comment headline claims a diff or hides the offline validation:\n%s", body)
	}
	if strings.Contains(body, "<!-- gantry:pr-summary -->") || strings.Contains(out.Summary, "<!-- gantry") {
		t.Errorf("a text echoed from the pull request carries a marker")
	}

	// Clean: neutral when a live diff was owed, success when the app
	// targets no cluster.
	r.Apps[0].Objects = nil
	out = DiffCheck(r)
	if out.Conclusion != Neutral || out.Title != "validated offline against Kubernetes 1.34: no live diff" {
		t.Errorf("clean app of an unreachable cluster: %s %q", out.Conclusion, out.Title)
	}
	r.Apps[0].Offline.Unreachable = false
	if out = DiffCheck(r); out.Conclusion != Success {
		t.Errorf("clean app of no cluster: %s %q", out.Conclusion, out.Title)
	}
}
