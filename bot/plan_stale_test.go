package bot

import (
	"context"
	"errors"
	"testing"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// TestPlanOfAHeadPushedPastIsCancelled: a run for a head the pull request
// was already pushed past (the newer push's delivery not yet there to
// cancel it) publishes nothing stale: found when it reads the pull
// request, it is not processed; found at the checkout (pushed in between),
// its checks complete as cancelled. It used to fail both checks with "ref
// moved past the requested commit" and post that as the PR's comment.
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
	var skipped *NotProcessedError
	if err := e.pipe.Plan(context.Background(), Job{Kind: JobPlan, InstallationID: e.inst, Owner: "acme", Repo: "ops", PR: pr, HeadSHA: old, BaseRef: "main"}); err != nil && !errors.As(err, &skipped) {
		t.Fatal(err)
	}
	for name, c := range e.checks(old) {
		if c.Status != "completed" || c.Conclusion != "cancelled" {
			t.Errorf("%s on the old head: %s %s %q, want completed cancelled", name, c.Status, c.Conclusion, c.Summary)
		}
	}
	if n := len(e.checks(old)); (skipped != nil && n != 0) || (skipped == nil && n != 2) {
		t.Errorf("%d check runs on the old head (skipped: %v), want none when skipped, else %s and %s cancelled", n, skipped, report.CheckDiff, report.CheckPolicy)
	}
	for _, c := range e.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" {
			t.Errorf("the stale run commented:\n%s", c.Body)
		}
	}
}
