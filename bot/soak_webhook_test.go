package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

// soakApps is a repository of n on-merge apps a00, a01, …, each one
// ConfigMap (<app>-config, value "v0") in the test's namespace, so pull
// requests touching different apps never share a lock.
func soakApps(n int) map[string]string {
	var model strings.Builder
	model.WriteString("version: 1\napps:\n")
	files := map[string]string{}
	for i := range n {
		app := fmt.Sprintf("a%02d", i)
		fmt.Fprintf(&model, "  - {name: %s, path: apps/%s, namespace: NS}\n", app, app)
		files["apps/"+app+"/cm.yaml"] = configMap(app+"-config", "v0")
	}
	files[".gantry.yaml"] = model.String()
	return files
}

// gantryComments counts gantry's comments on pr containing sub.
func (l *live) gantryComments(pr int, sub string) int {
	n := 0
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" && strings.Contains(c.Body, sub) {
			n++
		}
	}
	return n
}

// checkRunsNamed counts the check runs named name on sha.
func (l *live) checkRunsNamed(sha, name string) int {
	n := 0
	for _, r := range l.sim.CheckRuns("acme", "ops", sha) {
		if r.Name == name {
			n++
		}
	}
	return n
}

// TestSoakWebhookLost: while gantry is down, pull requests are opened and
// others merged, and every delivery of them is lost. The restarted
// server's resync plans each open pull request exactly once and applies
// the merged head exactly once for each merged app, commenting once on
// each merged pull request; a second resync does nothing more.
func TestSoakWebhookLost(t *testing.T) {
	opened, merged := soak.Scale(4, 20), soak.Scale(4, 20)
	apps := opened + merged
	l := startServer(t, soakApps(apps), "")
	// gantry adopts every app at the first push that changes them all.
	adopt := map[string]string{}
	for i := range apps {
		adopt[fmt.Sprintf("apps/a%02d/cm.yaml", i)] = configMap(fmt.Sprintf("a%02d-config", i), "v1")
	}
	_, first := l.mergePR(t, "adopt", adopt)
	if c := l.applied(t, first); c.Conclusion != "success" {
		t.Fatalf("adoption: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	l.drain(t)

	c := soak.Start()
	l.stop()
	l.sim.SetWebhook("http://127.0.0.1:1/webhooks", hookSecret) // gantry unreachable
	type pull struct {
		n          int
		app, head  string
		mergedInto string
	}
	var open, done []pull
	for i := range apps {
		app := fmt.Sprintf("a%02d", i)
		n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "lost-" + app, Base: "main", Title: "lost " + app,
			Files: withNS(map[string]string{"apps/" + app + "/cm.yaml": configMap(app+"-config", "v2")}, l.ns)})
		if err != nil {
			t.Fatal(err)
		}
		p := pull{n: n, app: app, head: head}
		if i < opened {
			open = append(open, p)
			continue
		}
		if p.mergedInto, err = l.sim.MergePR("maria", "acme", "ops", n); err != nil {
			t.Fatal(err)
		}
		done = append(done, p)
	}
	head := done[len(done)-1].mergedInto
	if err := l.sim.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, d := range l.sim.Deliveries() {
		if d.Status == 0 && d.Err != nil {
			lost++
		}
	}
	if lost < apps+merged { // at least an opened per pull request and a push per merge
		t.Fatalf("%d deliveries lost, want at least %d", lost, apps+merged)
	}

	// gantry returns: its resync at start finds the work.
	l = restartServer(t, l)
	for _, p := range open {
		waitFor(t, "resync's plan of #"+fmt.Sprint(p.n), func() bool { return l.completed(p.head) })
	}
	if a := l.applied(t, head); a.Conclusion != "success" {
		t.Fatalf("resync's apply: %s %q\n%s", a.Conclusion, a.Title, a.Summary)
	}
	l.drain(t)
	// Nothing more from another resync: every pull request's check runs
	// exist, every app is applied at the head.
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	var row soak.Row
	c.End(&row)

	var dup []string
	for _, p := range open {
		for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
			if n := l.checkRunsNamed(p.head, name); n != 1 {
				dup = append(dup, fmt.Sprintf("#%d has %d %s check runs", p.n, n, name))
			}
		}
		if n := l.gantryComments(p.n, "### gantry"); n != 1 {
			dup = append(dup, fmt.Sprintf("#%d has %d plan comments", p.n, n))
		}
	}
	if n := l.checkRunsNamed(head, report.CheckApply); n != 1 {
		dup = append(dup, fmt.Sprintf("%d gantry/apply check runs on the head", n))
	}
	for _, p := range done {
		rs := l.records(t, p.app).History
		if len(rs) != 2 || rs[0].Commit != head || rs[0].Trigger != cluster.TriggerResync || rs[0].Result != cluster.ResultSucceeded {
			dup = append(dup, fmt.Sprintf("%s: %d records, newest %+v; want the adoption and one resync apply of %s", p.app, len(rs), rs[0], shortSHA(head)))
		}
		if n := l.gantryComments(p.n, "applied at `"+shortSHA(head)); n != 1 {
			dup = append(dup, fmt.Sprintf("#%d has %d apply comments", p.n, n))
		}
		cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), p.app+"-config", metav1.GetOptions{})
		if err != nil || cm.Data["value"] != "v2" {
			dup = append(dup, fmt.Sprintf("%s-config not at v2: %v %v", p.app, cm.Data, err))
		}
	}
	for _, p := range open {
		if n := len(l.records(t, p.app).History); n != 1 {
			dup = append(dup, fmt.Sprintf("%s (its pull request open) has %d records, want the adoption alone", p.app, n))
		}
	}
	for _, d := range dup {
		t.Error(d)
	}
	if errs := l.sim.Errors(); len(errs) > 0 {
		t.Errorf("the simulator saw invalid requests: %v", errs)
	}
	row.Scenario = "webhook lost"
	row.Load = fmt.Sprintf("%d PRs opened and %d merged while gantry was unreachable (%d deliveries lost)", opened, merged, lost)
	row.Faults = "gantry stopped, webhook URL refusing connections"
	row.Outcome = fmt.Sprintf("the restart's resync planned %d PRs and applied %d apps at the head, each once", opened, merged)
	row.Lost = "none"
	soak.Report(t, row)
}

// TestAPushAdoptsAnAppWhoseFirstPushWasLost: the push that first changes
// an app adopts it; when that push's apply is lost (its webhook here; a
// job skipped for a newer head, or failed, alike), the next push adopts
// it still, since a commit after the branch's last apply changed it, and
// its pull request hears of the apply.
func TestAPushAdoptsAnAppWhoseFirstPushWasLost(t *testing.T) {
	l := startServer(t, soakApps(2), "")
	_, first := l.mergePR(t, "a00-v1", map[string]string{"apps/a00/cm.yaml": configMap("a00-config", "v1")})
	l.applied(t, first)
	l.sim.SetWebhook("", "") // the first change of a01 is lost
	lost, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "a01-v1", Base: "main", Title: "a01",
		Files: withNS(map[string]string{"apps/a01/cm.yaml": configMap("a01-config", "v1")}, l.ns)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.sim.MergePR("maria", "acme", "ops", lost); err != nil {
		t.Fatal(err)
	}
	if err := l.sim.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.sim.SetWebhook(l.url+"/webhooks", hookSecret)
	_, head := l.mergePR(t, "a00-v2", map[string]string{"apps/a00/cm.yaml": configMap("a00-config", "v2")})
	if c := l.applied(t, head); c.Conclusion != "success" {
		t.Fatalf("gantry/apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if last, ok := l.records(t, "a01").Last(); !ok || last.Commit != head || last.Result != cluster.ResultSucceeded {
		t.Errorf("a01's record: %+v, %v; want adopted at %s", last, ok, shortSHA(head))
	}
	if cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "a01-config", metav1.GetOptions{}); err != nil || cm.Data["value"] != "v1" {
		t.Errorf("a01-config: %v", err)
	}
	waitFor(t, "apply comment on #"+fmt.Sprint(lost), func() bool { return l.botComment(lost, "applied at `"+shortSHA(head)) != "" })
}
