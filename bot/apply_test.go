package bot

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

const applyRepo = `version: 1
apps:
  - name: web
    path: apps/web
    namespace: NS
    healthTimeout: 40s
  - name: api
    path: apps/api
    namespace: NS
    apply: on-command
`

// deployment is the web app's Deployment; a never-ready one's pods run
// but never pass readiness (see the local cluster's kwok stages).
func deployment(image string, neverReady bool) string {
	extra := ""
	if neverReady {
		extra = "\n        gantry.test/never-ready: \"true\""
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels:
        app: web%s
    spec:
      containers:
      - name: web
        image: %s
`, extra, image)
}

func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

var applyFiles = map[string]string{
	".gantry.yaml":     applyRepo,
	"apps/web/cm.yaml": configMap("web-config", "one"),
	"apps/api/cm.yaml": configMap("api-config", "one"),
}

// mergePR opens a pull request changing files, waits for its plan, and
// merges it; it returns the number and the merge commit.
func (l *live) mergePR(t *testing.T, branch string, files map[string]string, deletes ...string) (int, string) {
	t.Helper()
	n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: branch, Files: withNS(files, l.ns), Delete: deletes})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan of "+branch, func() bool { return l.completed(head) })
	sha, err := l.sim.MergePR("maria", "acme", "ops", n)
	if err != nil {
		t.Fatal(err)
	}
	return n, sha
}

// applied waits for the gantry/apply check run on sha to complete and
// returns it.
func (l *live) applied(t *testing.T, sha string) githubsim.CheckRun {
	t.Helper()
	waitFor(t, "gantry/apply on "+shortSHA(sha), func() bool { return l.checks(sha)[report.CheckApply].Status == "completed" })
	return l.checks(sha)[report.CheckApply]
}

func (l *live) records(t *testing.T, app string) *cluster.Records {
	t.Helper()
	c, err := l.pipe.Clusters.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Records(context.Background(), "acme/ops", app)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (l *live) botComment(pr int, sub string) string {
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" && strings.Contains(c.Body, sub) {
			return c.Body
		}
	}
	return ""
}

func (l *live) gh(t testing.TB) *github.Client {
	t.Helper()
	gh, err := l.pipe.GitHub.Client(l.inst)
	if err != nil {
		t.Fatal(err)
	}
	return gh
}

func (l *live) image(t *testing.T) string {
	t.Helper()
	d, err := kube.Client.AppsV1().Deployments(l.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func TestMergeAppliesCommentsAndReleasesTheLock(t *testing.T) {
	l := startServer(t, applyFiles, "")
	pr, merge := l.mergePR(t, "web-v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false), "apps/web/cm.yaml": configMap("web-config", "two")})
	c := l.applied(t, merge)
	if c.Conclusion != "success" || c.Title != "1 app applied and healthy" {
		t.Fatalf("gantry/apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	waitFor(t, "apply comment", func() bool { return l.botComment(pr, "gantry: applied at") != "" })
	body := l.botComment(pr, "gantry: applied at")
	// web: the Deployment and the ConfigMap created; api (on-command) untouched.
	if !strings.Contains(body, "| `web` | `local` | ✅ applied | 2 | 0 | 0 | 0 |") || !strings.Contains(body, "| healthy |") || strings.Contains(body, "`api`") {
		t.Errorf("apply comment:\n%s", body)
	}
	if got := l.image(t); got != "nginx:1" {
		t.Errorf("image %q", got)
	}
	last, ok := l.records(t, "web").Last()
	if !ok || last.Commit != merge || last.Result != cluster.ResultSucceeded || last.PR != pr || last.Trigger != cluster.TriggerMerge || last.Counts[cluster.ChangeCreated] != 2 {
		t.Errorf("record %+v", last)
	}
	if _, ok := l.records(t, "api").Last(); ok {
		t.Error("the on-command app api was applied by a merge")
	}
	cl, _ := l.pipe.Clusters.Get("local")
	waitFor(t, "lock released", func() bool {
		lk, err := cl.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "web"})
		return err == nil && lk == nil
	})
	// A resync finds the head applied: nothing runs again.
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	if n := len(l.records(t, "web").History); n != 1 {
		t.Errorf("%d records after a resync of an applied head, want 1", n)
	}
}

func TestUnhealthyMergeOpensARevertPullRequestThatRestores(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, good := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	if c := l.applied(t, good); c.Conclusion != "success" {
		t.Fatalf("first apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	// The bad rollout: pods that never become ready, with a short health
	// timeout so the test does not wait long.
	bad, merge := l.mergePR(t, "v2", map[string]string{
		"apps/web/deploy.yaml": deployment("nginx:2", true),
		".gantry.yaml":         strings.Replace(applyRepo, "healthTimeout: 40s", "healthTimeout: 4s", 1),
	})
	c := l.applied(t, merge)
	if c.Conclusion != "failure" || c.Title != "1 of 1 apps failed" || !strings.Contains(c.Summary, "⏳ unhealthy") {
		t.Fatalf("gantry/apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	last, _ := l.records(t, "web").Last()
	if last.Result != cluster.ResultUnhealthy || last.Commit != merge || !strings.Contains(last.Revert, "/pull/") {
		t.Errorf("record %+v", last)
	}
	// The revert pull request: on gantry/revert/<sha>, sealed, labelled,
	// saying what went wrong, restoring the Deployment of the good commit.
	gh := l.gh(t)
	branch := "gantry/revert/" + shortSHA(merge)
	prs, _, err := gh.PullRequests.List(context.Background(), "acme", "ops", &github.PullRequestListOptions{State: "open", Head: "acme:" + branch})
	if err != nil || len(prs) != 1 {
		t.Fatalf("revert pull requests %v, %v", prs, err)
	}
	rp := prs[0]
	var payload revertPayload
	if !l.pipe.Seal.Open(marker.KindRevert, marker.Scope("acme", "ops", rp.GetNumber()), rp.GetBody(), &payload) || payload.After != merge || payload.Before != good {
		t.Errorf("revert body is not sealed for it: %+v\n%s", payload, rp.GetBody())
	}
	for _, want := range []string{"not healthy: Deployment/" + l.ns + "/web", fmt.Sprintf("merged in #%d", bad), "apps/web/deploy.yaml", "never merges this pull request"} {
		if !strings.Contains(rp.GetBody(), want) {
			t.Errorf("revert body lacks %q:\n%s", want, rp.GetBody())
		}
	}
	if len(rp.Labels) != 1 || rp.Labels[0].GetName() != RevertLabel {
		t.Errorf("labels %v", rp.Labels)
	}
	waitFor(t, "apply comment", func() bool { return l.botComment(bad, "apply failed at") != "" })
	if body := l.botComment(bad, "apply failed at"); !strings.Contains(body, "revert pull request: "+rp.GetHTMLURL()) {
		t.Errorf("the merged PR's comment does not link the revert:\n%s", body)
	}
	// Merging the revert applies the previous state through the normal path.
	sha, err := l.sim.MergePR("maria", "acme", "ops", rp.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, sha); c.Conclusion != "success" {
		t.Fatalf("apply of the revert: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if got := l.image(t); got != "nginx:1" {
		t.Errorf("image after the revert %q, want nginx:1", got)
	}
	// The delivery metrics: three deployments, one failed and restored.
	metrics := l.get(t, l.url+"/metrics")
	labels := `{app="web",cluster="local",repository="acme/ops"}`
	for _, want := range []string{"gantry_deployments" + labels + " 3", "gantry_change_failure_rate" + labels + " 0.333"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(metrics, "web"))
		}
	}
	for _, name := range []string{"gantry_lead_time_seconds", "gantry_time_to_restore_seconds"} {
		if strings.Contains(metrics, name+labels+" 0\n") || !strings.Contains(metrics, name+labels) {
			t.Errorf("%s is not measured:\n%s", name, grepLines(metrics, name))
		}
	}
}

// get returns the body of a GET that must answer 200.
func (l *live) get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

func TestResyncAppliesALostPushAndMergesApplyInOrder(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	// Two merges whose pushes arrive together, the newer first: the
	// newer head is applied, never the older one after it.
	l.sim.HoldDeliveries()
	n2, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "v2", Base: "main", Title: "v2", Files: map[string]string{"apps/web/deploy.yaml": deployment("nginx:2", false)}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := l.sim.MergePR("maria", "acme", "ops", n2)
	if err != nil {
		t.Fatal(err)
	}
	n3, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "v3", Base: "main", Title: "v3", Files: map[string]string{"apps/web/deploy.yaml": deployment("nginx:3", false)}})
	if err != nil {
		t.Fatal(err)
	}
	third, err := l.sim.MergePR("maria", "acme", "ops", n3)
	if err != nil {
		t.Fatal(err)
	}
	l.sim.ReleaseDeliveries(func(ds []githubsim.Delivery) []githubsim.Delivery {
		for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
			ds[i], ds[j] = ds[j], ds[i]
		}
		return ds
	})
	l.applied(t, third)
	if err := l.sim.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	if got := l.image(t); got != "nginx:3" {
		t.Errorf("image %q after both merges, want nginx:3", got)
	}
	hist := l.records(t, "web").History
	if hist[0].Commit != third {
		t.Errorf("newest record is of %s, want the newest head %s", shortSHA(hist[0].Commit), shortSHA(third))
	}
	for _, h := range hist[1:] {
		if h.Commit == second && h.Started.After(hist[0].Started) {
			t.Errorf("the older head was applied after the newer one")
		}
	}
	// Both pull requests hear of the apply that covers them.
	waitFor(t, "apply comment", func() bool { return l.botComment(n2, "applied at") != "" })
	for _, n := range []int{n2, n3} {
		if l.botComment(n, "gantry: applied at `"+shortSHA(third)) == "" {
			t.Errorf("#%d has no comment on the apply of %s", n, shortSHA(third))
		}
	}
}

func TestResyncAppliesAPushWhoseWebhookWasLost(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	l.sim.SetWebhook("", "") // every delivery is lost
	head, err := l.sim.Push("maria", "acme", "ops", "main", map[string]string{"apps/web/deploy.yaml": deployment("nginx:4", false)}, nil, "hotfix")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, head); c.Conclusion != "success" {
		t.Fatalf("resync's apply: %s %q", c.Conclusion, c.Title)
	}
	if got := l.image(t); got != "nginx:4" {
		t.Errorf("image %q, want nginx:4", got)
	}
	if last, _ := l.records(t, "web").Last(); last.Trigger != cluster.TriggerResync || last.Commit != head {
		t.Errorf("record %+v", last)
	}
}

func TestMergePrunesAndTheEmptyRenderGuardHolds(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "two", map[string]string{"apps/web/extra.yaml": configMap("web-extra", "x")})
	l.applied(t, first)
	pr, second := l.mergePR(t, "drop", nil, "apps/web/extra.yaml")
	if c := l.applied(t, second); c.Conclusion != "success" {
		t.Fatalf("prune apply: %s %q", c.Conclusion, c.Title)
	}
	waitFor(t, "apply comment", func() bool { return l.botComment(pr, "applied at") != "" })
	if body := l.botComment(pr, "applied at"); !strings.Contains(body, "| `web` | `local` | ✅ applied | 0 | 0 | 1 |") {
		t.Errorf("prune comment:\n%s", body)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "web-extra", metav1.GetOptions{}); err == nil {
		t.Error("web-extra survived the prune")
	}
	// Every object of web gone: an empty render deletes nothing.
	_, third := l.mergePR(t, "empty", map[string]string{"apps/web/cm.yaml": "# emptied by mistake\n"})
	c := l.applied(t, third)
	if c.Conclusion != "failure" || !strings.Contains(c.Summary, "render is empty; refusing to prune every object of the app") {
		t.Errorf("empty render: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("the empty render deleted web-config: %v", err)
	}
	// Removing the app from .gantry.yaml is a decision the plan says out
	// loud: its object stays.
	n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "drop-web", Base: "main", Title: "drop web",
		Files: withNS(map[string]string{".gantry.yaml": "version: 1\napps:\n  - {name: api, path: apps/api, namespace: NS, apply: on-command}\n"}, l.ns)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	if !l.botSays(n, "**Removed from .gantry.yaml:** `web`: its 1 object in cluster `local` stays there after the merge") {
		t.Errorf("the plan does not say what removing web leaves:\n%s", l.summary(n))
	}
}

func TestApplyRecordsSurviveARestart(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	l.stop()
	// A new server, with nothing in memory, reads the history from the
	// cluster: its start-up resync applies nothing again, and its page
	// lists the apply.
	l2 := restartServer(t, l)
	if err := l2.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	l2.drain(t)
	if n := len(l2.records(t, "web").History); n != 1 {
		t.Errorf("%d records after a restart, want 1", n)
	}
	page := l2.index(t)
	if !strings.Contains(page, shortSHA(first)) || !strings.Contains(page, "succeeded") {
		t.Errorf("the page does not list the apply of %s:\n%s", shortSHA(first), page)
	}
}

// index is the pages' index.
func (l *live) index(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(l.webURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %d %v", resp.StatusCode, err)
	}
	return string(body)
}

// drain waits until the server's queue has nothing waiting or running.
func (l *live) drain(t *testing.T) {
	t.Helper()
	q := l.srv.queue
	waitFor(t, "an idle queue", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		return len(q.lanes) == 0
	})
}

func TestOnFailureRollbackAppliesTheLastHealthyStateAtOnce(t *testing.T) {
	files := map[string]string{".gantry.yaml": strings.Replace(applyRepo, "healthTimeout: 40s", "healthTimeout: 40s\n    onFailure: rollback", 1), "apps/web/cm.yaml": configMap("web-config", "one"), "apps/api/cm.yaml": configMap("api-config", "one")}
	l := startServer(t, files, "")
	_, good := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	if c := l.applied(t, good); c.Conclusion != "success" {
		t.Fatalf("first apply: %s %q", c.Conclusion, c.Title)
	}
	bad, merge := l.mergePR(t, "v2", map[string]string{
		"apps/web/deploy.yaml": deployment("nginx:2", true),
		".gantry.yaml":         strings.Replace(files[".gantry.yaml"], "healthTimeout: 40s", "healthTimeout: 4s", 1),
	})
	if c := l.applied(t, merge); c.Conclusion != "failure" {
		t.Fatalf("bad apply: %s %q", c.Conclusion, c.Title)
	}
	// Rolled back before anyone merges the revert: the cluster runs the
	// last healthy image again, recorded as a rollback.
	if got := l.image(t); got != "nginx:1" {
		t.Errorf("image after the rollback %q, want nginx:1", got)
	}
	last, _ := l.records(t, "web").Last()
	if last.Trigger != cluster.TriggerRollback || last.Result != cluster.ResultSucceeded {
		t.Errorf("newest record %+v, want a healthy rollback", last)
	}
	waitFor(t, "apply comment", func() bool { return l.botComment(bad, "apply failed at") != "" })
	if body := l.botComment(bad, "apply failed at"); !strings.Contains(body, "rolled back at once (onFailure: rollback)") {
		t.Errorf("the comment does not say it rolled back:\n%s", body)
	}
}
