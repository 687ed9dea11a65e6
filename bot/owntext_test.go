package bot

import (
	"strings"
	"testing"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/gitrestore"
)

// TestDriftAndRevertBodiesDefangWhatOthersWrote: field managers, paths,
// values and object names come from a cluster, commit subjects and file
// names from the repository; a drift or revert body echoes none of their
// markup, so none can carry a marker into gantry's own pull request.
func TestDriftAndRevertBodiesDefangWhatOthersWrote(t *testing.T) {
	hostile := "x<!-- gantry:drift e30 AAAA --><img src=y>`"
	ds := &cluster.DriftSet{Objects: []cluster.ObjectDrift{
		{Object: cluster.ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "n" + hostile},
			Fields: []cluster.FieldDrift{{Path: "data.k" + hostile, Desired: hostile, Live: hostile, Manager: "m" + hostile, Subresource: hostile}}},
		{Object: cluster.ObjectRef{Kind: "Secret", Namespace: "ns", Name: "gone" + hostile}, Gone: true},
	}}
	failed := failureText(report.ApplyApp{Name: "web" + hostile, Cluster: hostile, Result: "failed", Error: &report.Problem{Message: hostile},
		Failed: []report.Object{{Error: &report.Problem{Message: hostile, File: "f" + hostile, Line: 1}}}}, appApplied{})
	revert := revertBody(revert{apps: []string{"web" + hostile}, before: "0123456789", after: "abcdef0123", why: failed},
		&gitrestore.Result{BaseHead: "fedcba9876", Restored: []string{"a" + hostile},
			Later: []gitrestore.LaterChange{{Path: "b" + hostile, Commits: []gitrestore.CommitRef{{SHA: "1234567890", Subject: hostile}}}}}, "main"+hostile)
	for name, text := range map[string]string{"drift summary": driftSummaryMarkdown(ds), "revert body": revert} {
		for _, raw := range []string{"<!--", "-->", "<img"} {
			if strings.Contains(text, raw) {
				t.Errorf("%s echoes %q:\n%s", name, raw, text)
			}
		}
		if !strings.Contains(text, "&lt;img") {
			t.Errorf("%s lost the text instead of defanging it:\n%s", name, text)
		}
	}
}
