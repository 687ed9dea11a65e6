package bot

import (
	"context"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
)

// TestResyncEndsTheRecordOfAnApplyCutShort: a replica killed mid-apply
// leaves the app's record running at the head. The resync applies the
// head again and its record replaces that one: one record for the
// apply, ended, none left running.
func TestResyncEndsTheRecordOfAnApplyCutShort(t *testing.T) {
	ctx := context.Background()
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/cm.yaml": configMap("web-config", "two")})
	l.applied(t, first)
	l.sim.SetWebhook("", "") // the push reached the replica that died
	head, err := l.sim.Push("maria", "acme", "ops", "main", withNS(map[string]string{"apps/web/cm.yaml": configMap("web-config", "three")}, l.ns), nil, "three")
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.pipe.Clusters.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	dead := cluster.ApplyRecord{ID: "dead-run", Repository: "acme/ops", App: "web", Cluster: "local", Trigger: cluster.TriggerMerge,
		Commit: head, By: "maria", Result: cluster.ResultRunning, Started: time.Now().UTC()}
	if err := c.Record(ctx, dead); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := l.applied(t, head); got.Conclusion != "success" {
		t.Fatalf("resync's apply: %s %q", got.Conclusion, got.Title)
	}
	rs := l.records(t, "web")
	if len(rs.History) != 2 {
		t.Errorf("%d records, want 2 (the first merge's, and the one cut short, ended): %+v", len(rs.History), rs.History)
	}
	for _, r := range rs.History {
		if r.Result == cluster.ResultRunning {
			t.Errorf("record %s of %s left running", r.ID, shortSHA(r.Commit))
		}
	}
	if last, _ := rs.Last(); last.ID != dead.ID || last.Commit != head || last.Result != cluster.ResultSucceeded {
		t.Errorf("last record %+v, want %s at %s succeeded", last, dead.ID, shortSHA(head))
	}
}

// TestResyncAppliesTheFirstPushOfAnAppWhoseRunDied: a replica killed
// after starting gantry/apply on a push and before any record took the
// push's before with it. The resync still applies the apps that push
// changed and gantry never applied, completing the check left behind.
func TestResyncAppliesTheFirstPushOfAnAppWhoseRunDied(t *testing.T) {
	ctx := context.Background()
	l := startServer(t, applyFiles, "")
	l.sim.SetWebhook("", "") // the push reached the replica that died
	head, err := l.sim.Push("maria", "acme", "ops", "main", withNS(map[string]string{"apps/web/cm.yaml": configMap("web-config", "two")}, l.ns), nil, "two")
	if err != nil {
		t.Fatal(err)
	}
	left, err := StartChecks(ctx, l.gh(t).Checks, "acme", "ops", head, nil, report.CheckApply)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, head); c.ID != left[report.CheckApply] || c.Conclusion != "success" {
		t.Errorf("gantry/apply: run %d %s %q, want the run %d left in progress, success", c.ID, c.Conclusion, c.Title, left[report.CheckApply])
	}
	if last, _ := l.records(t, "web").Last(); last.Commit != head || !last.Good() {
		t.Errorf("web's last record %+v, want %s applied", last, shortSHA(head))
	}
	if rs := l.records(t, "api").History; len(rs) != 0 {
		t.Errorf("api, which the push did not change, was applied: %+v", rs)
	}
}
