package hatest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

const webApp = `version: 1
apps:
  - name: web
    path: apps/web
    namespace: NS
`

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: registry.example/web:1.0.0
`

// TestLeaderKilledMidApplyLosesNothing: the leader is SIGKILLed while a
// merge's apply waits for health (its record says running, its
// gantry/apply check is in progress). Once the follower leads, the
// merge head's one gantry/apply run is completed as a success, the
// cluster holds the merged objects, the app's records hold the apply as
// succeeded and none as running, and the merged pull request holds no
// lock.
func TestLeaderKilledMidApplyLosesNothing(t *testing.T) {
	clock := soak.Start()
	ctx := context.Background()
	e, first := twoReplicas(t, map[string]string{".gantry.yaml": webApp, "apps/web/cm.yaml": configMap("web-config", "color", "blue")})

	// A first merge, applied whole: gantry adopts the app.
	pr1, head1 := e.openPR("green", map[string]string{"apps/web/cm.yaml": configMap("web-config", "color", "green")})
	waitFor(t, "#1's plan", func() bool { return e.planned(head1) })
	e.mergeApplied(pr1)

	// The second merge adds a Deployment. No controller runs in this
	// cluster, so it is not healthy and the apply waits.
	pr2, head2 := e.openPR("deploy", map[string]string{"apps/web/deploy.yaml": deployment,
		"apps/web/cm.yaml": configMap("web-config", "color", "purple")})
	waitFor(t, "#2's plan", func() bool { return e.planned(head2) })
	if got := e.lockHolder("web"); got != pr2 {
		t.Fatalf("web's lock is held by #%d before the merge, want #%d", got, pr2)
	}
	merge2, err := e.sim.MergePR("alice", owner, repo, pr2)
	if err != nil {
		t.Fatal(err)
	}
	deploys := kube.Client.AppsV1().Deployments(e.ns)
	waitFor(t, "#2's apply waiting for health", func() bool {
		rec, err := e.lastRecord("web")
		if err != nil || rec.Commit != merge2 || rec.Result != cluster.ResultRunning {
			return false
		}
		_, err = deploys.Get(ctx, "web", metav1.GetOptions{})
		return err == nil && e.status(merge2, report.CheckApply) == "in_progress"
	})
	rs := e.runs(merge2, report.CheckApply)
	if len(rs) != 1 {
		t.Fatalf("%d gantry/apply runs on the merge before the kill, want 1", len(rs))
	}
	left := rs[0].ID

	first.kill(t)
	killed := time.Now()
	// The rollout the missing controller would report.
	d, err := deploys.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}}
	if _, err := deploys.UpdateStatus(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	second := e.leader()
	if second == first {
		t.Fatal("the killed replica is ready")
	}
	waitFor(t, "gantry/apply on the merge completed", func() bool { return e.status(merge2, report.CheckApply) == "completed" })
	t.Logf("killed → gantry/apply completed by the follower %s (Lease 3s; measured, not asserted)", time.Since(killed).Round(time.Millisecond))

	rs = e.runs(merge2, report.CheckApply)
	if len(rs) != 1 || rs[0].ID != left || rs[0].Conclusion != "success" {
		t.Errorf("gantry/apply on the merge: %+v, want the one run %d the dead replica left, completed success", rs, left)
	}
	cm, err := kube.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil || cm.Data["color"] != "purple" {
		t.Errorf("web-config after the takeover: %v %v, want color purple", cm.Data, err)
	}
	if _, err := deploys.Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("the merged Deployment: %v", err)
	}
	records, err := e.state.Records(ctx, owner+"/"+repo, "web")
	if err != nil {
		t.Fatal(err)
	}
	if last, ok := records.Last(); !ok || last.Commit != merge2 || last.Result != cluster.ResultSucceeded || last.PR != pr2 {
		t.Errorf("web's last apply record: %+v, want merge %.7s of #%d succeeded", last, merge2, pr2)
	}
	for _, r := range records.History {
		if r.Result == cluster.ResultRunning {
			t.Errorf("record %s (%.7s) is left running: the apply it names ended with its replica", r.ID, r.Commit)
		}
	}
	applied := 0
	for _, c := range e.botComments(pr2) {
		if strings.HasPrefix(c.Body, "### ✅ gantry: applied at `"+merge2[:7]+"`") {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("#2 has %d comments saying it was applied, want 1", applied)
	}
	waitFor(t, "the merged #2's lock released", func() bool { return e.lockHolder("web") == 0 })
	e.report(t, clock, soak.Row{Scenario: "gantry killed mid-apply", Load: "2 replicas; 2 merges of one app",
		Faults: "SIGKILL of the leader while the apply waits for health", Outcome: "the follower completed the same gantry/apply run; record succeeded, none left running; one comment; lock released", Lost: "none"})
}

// TestLeaderKilledBeforeTheFirstApplyIsRecorded: the leader is SIGKILLed
// inside the first merge's apply of an app gantry never applied, after
// its gantry/apply check started and before any record exists. The push
// that started it is gone with the replica; the follower still applies
// the merge (the check left in progress says a push reached this head)
// and completes that check.
func TestLeaderKilledBeforeTheFirstApplyIsRecorded(t *testing.T) {
	clock := soak.Start()
	ctx := context.Background()
	e, first := twoReplicas(t, map[string]string{".gantry.yaml": webApp, "apps/web/cm.yaml": configMap("web-config", "color", "blue")})

	pr1, head1 := e.openPR("green", map[string]string{"apps/web/cm.yaml": configMap("web-config", "color", "green")})
	waitFor(t, "#1's plan", func() bool { return e.planned(head1) })
	// The apply reads the merged pull request's first commit (for lead
	// time) after starting its check and before applying anything.
	hits, remove := e.sim.InjectCountedFault(githubsim.Slow(time.Hour).On("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/commits").Times(1))
	defer remove()
	merge, err := e.sim.MergePR("alice", owner, repo, pr1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the apply inside its stalled request", func() bool { return hits() == 1 })
	rs := e.runs(merge, report.CheckApply)
	if len(rs) != 1 || rs[0].Status != "in_progress" {
		t.Fatalf("gantry/apply on the merge before the kill: %+v, want one in progress", rs)
	}
	if _, err := e.lastRecord("web"); !errors.Is(err, errNoRecord) {
		t.Fatalf("web has a record before the kill (%v): the kill must come before it", err)
	}
	left := rs[0].ID

	first.kill(t)
	e.leader()
	waitFor(t, "gantry/apply on the merge completed", func() bool { return e.status(merge, report.CheckApply) == "completed" })

	rs = e.runs(merge, report.CheckApply)
	if len(rs) != 1 || rs[0].ID != left || rs[0].Conclusion != "success" {
		t.Errorf("gantry/apply on the merge: %+v, want the one run %d the dead replica left, completed success", rs, left)
	}
	cm, err := kube.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil || cm.Data["color"] != "green" {
		t.Errorf("web-config after the takeover: %v %v, want the merge's color green", cm.Data, err)
	}
	if last, err := e.lastRecord("web"); err != nil || last.Commit != merge || last.Result != cluster.ResultSucceeded {
		t.Errorf("web's last record: %+v %v, want the merge %.7s succeeded", last, err, merge)
	}
	waitFor(t, "the merged #1's lock released", func() bool { return e.lockHolder("web") == 0 })
	e.report(t, clock, soak.Row{Scenario: "gantry killed before the first apply record", Load: "2 replicas; the first merge of an app",
		Faults: "SIGKILL of the leader after gantry/apply started, before any record", Outcome: "the follower applied the merge and completed the same check", Lost: "none"})
}
