package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/localcluster"
	"github.com/gantryops/gantry/fixtures/soak"
)

// gateDeployment is wave 0 of the app: a Deployment no controller rolls
// out (the second cluster runs none), so the apply waits on its health
// until the test, acting as the controller, marks it available. That wait
// is where the test takes the API server down: deterministically mid-apply.
const gateDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: gate
spec:
  replicas: 1
  selector:
    matchLabels: {app: gate}
  template:
    metadata:
      labels: {app: gate}
    spec:
      containers:
      - {name: gate, image: registry.example/gate:1}
`

// wavedConfigMaps is n ConfigMaps bulk-0 … in sync wave 1, applied only
// after wave 0 is healthy.
func wavedConfigMaps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bulk-%d\n  annotations: {argocd.argoproj.io/sync-wave: \"1\"}\ndata:\n  i: %q\n", i, fmt.Sprint(i))
	}
	return b.String()
}

// markAvailable sets the Deployment's status as a rolled-out controller
// would, so kstatus finds it Current.
func markAvailable(ctx context.Context, c *localcluster.Cluster, ns, name string) error {
	d, err := c.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
		}}
	_, err = c.Client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
	return err
}

// TestSoakAPIServerDownMidApply: a merge's apply is waiting on its first
// wave's health when the cluster's API server goes down. The gantry/apply
// check fails naming what was applied (wave 0) and what was not (every
// ConfigMap of wave 1); the apply record, written once the server is
// back, says the same; and the next resync applies the head again and
// converges, with no second merge.
func TestSoakAPIServerDownMidApply(t *testing.T) {
	bulk, down := soak.Scale(200, 2000), soak.Scale(3*time.Second, 20*time.Second)
	ctx := context.Background()
	// A cluster of this test's own: the package's shared one must stay up.
	c2, err := localcluster.Start(ctx, localcluster.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c2.Stop(); err != nil {
			t.Error(err)
		}
	})
	files := map[string]string{
		".gantry.yaml":     "version: 1\napps:\n  - {name: web, path: apps/web, namespace: NS, healthTimeout: 10m}\n",
		"apps/web/cm.yaml": configMap("web-config", "one"),
	}
	e := newE2E(t, files)
	if _, err := c2.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l := serve(t, e, fmt.Sprintf("clusters: [{name: local, kubeconfig: %q}]\n", c2.Kubeconfig))
	state, err := cluster.NewClient(c2.Config, cluster.DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	records := func() []cluster.ApplyRecord {
		t.Helper()
		rs, err := state.Records(ctx, "acme/ops", "web")
		if err != nil {
			t.Fatal(err)
		}
		return rs.History
	}

	c := soak.Start()
	pr, head := l.mergePR(t, "bulk", map[string]string{"apps/web/gate.yaml": gateDeployment, "apps/web/bulk.yaml": wavedConfigMaps(bulk)})
	// Wave 0 applied, the apply waiting on its health: the server goes.
	waitFor(t, "wave 0 applied", func() bool {
		_, gerr := c2.Client.AppsV1().Deployments(e.ns).Get(ctx, "gate", metav1.GetOptions{})
		_, cerr := c2.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, "web-config", metav1.GetOptions{})
		return gerr == nil && cerr == nil
	})
	if rs := records(); len(rs) != 1 || rs[0].Result != cluster.ResultRunning || rs[0].Commit != head {
		t.Fatalf("records before the outage: %+v, want one running apply of %s", rs, shortSHA(head))
	}
	if err := c2.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	time.Sleep(down)
	if err := c2.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	outage := time.Since(stopped)
	// gantry writes the apply's record once the server is back (within
	// 30 s), then completes the check.
	waitFor(t, "gantry/apply on "+shortSHA(head), func() bool { return l.checks(head)[report.CheckApply].Status == "completed" })
	failed := l.checks(head)[report.CheckApply]

	// The check says what was and was not applied, and why.
	var lost []string
	for _, want := range []string{"| `web` | `local` | ❌ failed | 2 |", fmt.Sprintf("%d objects not applied (the wait for wave health failed): ConfigMap/%s/bulk-", bulk, e.ns),
		"connection refused", "no revert is opened"} {
		if failed.Conclusion != "failure" || !strings.Contains(failed.Summary, want) {
			lost = append(lost, fmt.Sprintf("gantry/apply during the outage lacks %q: %s %q\n%s", want, failed.Conclusion, failed.Title, failed.Summary))
		}
	}
	waitFor(t, "apply comment", func() bool { return l.botComment(pr, "apply failed at") != "" })
	// The record, written once the server is back, says the same.
	l.drain(t)
	rs := records()
	if len(rs) != 1 || rs[0].Result != cluster.ResultFailed || !rs[0].Interrupted || rs[0].Counts[cluster.ChangeCreated] != 2 || rs[0].Counts[cluster.ChangeNotApplied] != bulk {
		lost = append(lost, fmt.Sprintf("record after the outage: %+v, want one failed, interrupted, 2 created and %d not applied", rs, bulk))
	}
	// An outage is no fault of the change: no revert pull request.
	if prs, _, err := l.gh(t).PullRequests.List(ctx, "acme", "ops", nil); err != nil || len(prs) != 0 {
		lost = append(lost, fmt.Sprintf("%d open pull requests after the outage (%v), want none (no revert)", len(prs), err))
	}

	// The resync applies the head again; a controller rolls the gate out.
	if err := markAvailable(ctx, c2, e.ns, "gate"); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(ctx); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	var row soak.Row
	c.End(&row)
	rs = records()
	if len(rs) != 2 || rs[0].Commit != head || rs[0].Result != cluster.ResultSucceeded || rs[0].Trigger != cluster.TriggerResync {
		lost = append(lost, fmt.Sprintf("records after the resync: %d, newest %+v; want the failed apply and a resync's success at %s", len(rs), rs[0], shortSHA(head)))
	}
	cms, err := c2.Client.CoreV1().ConfigMaps(e.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "bulk-") {
			n++
		}
	}
	if n != bulk {
		lost = append(lost, fmt.Sprintf("%d of %d wave-1 ConfigMaps after the resync", n, bulk))
	}
	if got := l.gantryComments(pr, "gantry: applied at `"+shortSHA(head)); got != 1 {
		lost = append(lost, fmt.Sprintf("#%d has %d comments on the resync's apply, want 1", pr, got))
	}
	if got := l.checkRunsNamed(head, report.CheckApply); got != 2 {
		lost = append(lost, fmt.Sprintf("%d gantry/apply check runs on the head, want the failed one and the resync's", got))
	}
	if main, _, err := l.gh(t).Repositories.GetBranch(ctx, "acme", "ops", "main", 1); err != nil || main.GetCommit().GetSHA() != head {
		lost = append(lost, "main moved: the resync's apply needed another merge")
	}
	for _, x := range lost {
		t.Error(x)
	}
	if errs := l.sim.Errors(); len(errs) > 0 {
		t.Errorf("the simulator saw invalid requests: %v", errs)
	}
	row.Scenario = "API server down mid-apply"
	row.Load = fmt.Sprintf("1 merge applying %d objects in 2 waves", bulk+2)
	row.Faults = fmt.Sprintf("kube-apiserver stopped during the wave-0 health wait, back after %.0f s", outage.Seconds())
	row.Outcome = "apply failed naming the applied and unapplied objects; the next resync converged"
	row.Lost = "none"
	if len(lost) > 0 {
		row.Lost = strings.Join(lost, "; ")
	}
	soak.Report(t, row)
}
