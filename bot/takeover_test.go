package bot

import (
	"context"
	"testing"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// TestResyncTakesOverAPlanLeftInProgress: a replica that died mid-plan
// leaves its check runs in progress and maybe half its comment. The
// resync plans that head again and completes those same runs: one run
// per check on the head, none left in progress, the comment whole.
func TestResyncTakesOverAPlanLeftInProgress(t *testing.T) {
	ctx := context.Background()
	l := startServer(t, baseFiles, "")
	pr, head, left := l.leftInProgress(t)
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	runs := l.sim.CheckRuns("acme", "ops", head)
	if len(runs) != 2 {
		t.Fatalf("%d check runs on the head, want the 2 left in progress, taken over: %+v", len(runs), runs)
	}
	for _, r := range runs {
		if r.ID != left[r.Name] || r.Status != "completed" || r.Conclusion != "success" {
			t.Errorf("%s: id %d (left %d) %s %s", r.Name, r.ID, left[r.Name], r.Status, r.Conclusion)
		}
	}
	if !l.botSays(pr, "web-config") {
		t.Errorf("no plan comment on #%d", pr)
	}
	// A second resync finds the head done: nothing runs again.
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	if n := len(l.sim.CheckRuns("acme", "ops", head)); n != 2 {
		t.Errorf("%d check runs after another resync, want 2", n)
	}
}

// TestAPlanWhoseCommentFailsLeavesItsChecksForTheResync: GitHub refuses
// the plan's comment past every retry. The checks are not completed
// beside a missing comment: they stay in progress, and the resync takes
// the head over, publishing the comment and completing the same runs.
func TestAPlanWhoseCommentFailsLeavesItsChecksForTheResync(t *testing.T) {
	ctx := context.Background()
	l := startServer(t, baseFiles, "")
	remove := l.sim.InjectFault(githubsim.ServerError(502).On("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"))
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "one", Base: "main", Title: "one",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the plan to start", func() bool { return len(l.sim.CheckRuns("acme", "ops", head)) == 2 })
	l.drain(t)
	left := map[string]int64{}
	for _, r := range l.sim.CheckRuns("acme", "ops", head) {
		if r.Status == "completed" {
			t.Errorf("%s completed although the comment was never posted: %s %q", r.Name, r.Conclusion, r.Title)
		}
		left[r.Name] = r.ID
	}
	remove()
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	for _, r := range l.sim.CheckRuns("acme", "ops", head) {
		if r.ID != left[r.Name] || r.Status != "completed" {
			t.Errorf("%s: run %d (left %d) %s", r.Name, r.ID, left[r.Name], r.Status)
		}
	}
	if !l.botSays(pr, "web-config") {
		t.Errorf("no plan comment on #%d after the resync", pr)
	}
}

// TestResyncTakesOverAPlanKilledBetweenItsChecks: the replica died after
// completing gantry/diff and before gantry/policy. The resync's plan
// completes both of those runs again and creates none beside them.
func TestResyncTakesOverAPlanKilledBetweenItsChecks(t *testing.T) {
	ctx := context.Background()
	l := startServer(t, baseFiles, "")
	_, head, left := l.leftInProgress(t)
	gh := l.gh(t)
	if err := CompleteCheck(ctx, gh.Checks, "acme", "ops", left[report.CheckDiff], report.CheckOutput{Name: report.CheckDiff, Conclusion: report.Success, Title: "t", Summary: "s"}); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	runs := l.sim.CheckRuns("acme", "ops", head)
	if len(runs) != 2 {
		t.Fatalf("%d check runs on the head, want the 2 left, taken over: %+v", len(runs), runs)
	}
	for _, r := range runs {
		if r.ID != left[r.Name] || r.Status != "completed" || r.Title == "t" {
			t.Errorf("%s: id %d (left %d) %s %q: want the run left, completed by the new plan", r.Name, r.ID, left[r.Name], r.Status, r.Title)
		}
	}
}

// leftInProgress opens a pull request whose delivery is lost (it went to
// a replica that died) after the server's start resync, and starts its
// checks as that replica did: it returns the pull request, its head and
// the runs left in progress.
func (l *live) leftInProgress(t *testing.T) (int, string, map[string]int64) {
	t.Helper()
	waitFor(t, "the start's resync", func() bool {
		select {
		case <-l.srv.resynced:
			return true
		default:
			return false
		}
	})
	l.sim.SetWebhook("", "")
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "one", Base: "main", Title: "one",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	left, err := StartChecks(context.Background(), l.gh(t).Checks, "acme", "ops", head, nil, report.CheckDiff, report.CheckPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return pr, head, left
}
