package bot

import (
	"context"
	"testing"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// TestPlanOfAHeadPushedPastIsCancelled: a run whose checkout finds the
// pull request already pushed past its head (the newer push's delivery
// not yet there to cancel it) completes its checks as cancelled and posts
// no comment: its result would be stale. It used to fail both checks with
// "ref moved past the requested commit" and post that as the PR's comment.
func TestPlanOfAHeadPushedPastIsCancelled(t *testing.T) {
	e := newE2E(t, baseFiles)
	pr, old, err := e.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "change", Base: "main", Title: "change",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.Push("alice", "acme", "ops", "change", map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: purple\n"}, nil, "purple"); err != nil {
		t.Fatal(err)
	}
	if err := e.pipe.Plan(context.Background(), Job{Kind: JobPlan, InstallationID: e.inst, Owner: "acme", Repo: "ops", PR: pr, HeadSHA: old, BaseRef: "main"}); err != nil {
		t.Fatal(err)
	}
	for name, c := range e.checks(old) {
		if c.Status != "completed" || c.Conclusion != "cancelled" {
			t.Errorf("%s on the old head: %s %s %q, want completed cancelled", name, c.Status, c.Conclusion, c.Summary)
		}
	}
	if len(e.checks(old)) != 2 {
		t.Errorf("%d check runs on the old head, want %s and %s", len(e.checks(old)), report.CheckDiff, report.CheckPolicy)
	}
	for _, c := range e.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" {
			t.Errorf("the stale run commented:\n%s", c.Body)
		}
	}
}
