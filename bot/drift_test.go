package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// commentedDeployment is the web Deployment with comments a drift pull
// request must keep.
func commentedDeployment(image string) string {
	return "# The web front end.\n" + strings.Replace(deployment(image, false), "  replicas: 1\n", "  replicas: 1 # scaled by hand in incidents\n", 1)
}

// edit changes the live web Deployment as another field manager would.
func (l *live) edit(t *testing.T, manager string, f func(*appsv1.Deployment)) {
	t.Helper()
	// The deployment controller writes the object too: retried on a
	// conflict, as kubectl edit is by hand.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := kube.Client.AppsV1().Deployments(l.ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		f(d)
		_, err = kube.Client.AppsV1().Deployments(l.ns).Update(context.Background(), d, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// driftCheck runs the drift comparison of every app, as the resync does.
func (l *live) driftCheck(t *testing.T) {
	t.Helper()
	if err := l.srv.pipe.Drift(context.Background(), Job{Kind: JobDrift, InstallationID: l.inst, Owner: "acme", Repo: "ops", BaseRef: "main"}); err != nil {
		t.Fatal(err)
	}
}

// driftPR is the open drift pull request of app, or nil.
func (l *live) driftPR(t testing.TB, app string) *github.PullRequest {
	t.Helper()
	prs, _, err := l.gh(t).PullRequests.List(context.Background(), "acme", "ops", &github.PullRequestListOptions{State: "open", Head: "acme:gantry/drift/" + app})
	if err != nil {
		t.Fatal(err)
	}
	if len(prs) == 0 {
		return nil
	}
	return prs[0]
}

func (l *live) fileAt(t *testing.T, ref, path string) string {
	t.Helper()
	fc, _, _, err := l.gh(t).Repositories.GetContents(context.Background(), "acme", "ops", path, &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := fc.GetContent()
	return s
}

func TestDriftPRWritesTheLiveStateAndMergingAcceptsIt(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": commentedDeployment("nginx:1")})
	l.applied(t, first)
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
	l.driftCheck(t)
	pr := l.driftPR(t, "web")
	if pr == nil {
		t.Fatal("no drift pull request")
	}
	var d driftPayload
	if !l.srv.pipe.Seal.Open(marker.KindDrift, marker.Scope("acme", "ops", pr.GetNumber()), pr.GetBody(), &d) || d.App != "web" || d.Commit != pr.GetHead().GetSHA() {
		t.Errorf("the drift pull request is not sealed as gantry's: %+v", d)
	}
	for _, want := range []string{"spec.template.spec.containers[name=web].image", `"nginx:1"`, `"nginx:9"`, "kubectl-edit", "**Merge** to accept"} {
		if !strings.Contains(pr.GetBody(), want) {
			t.Errorf("the drift body lacks %q:\n%s", want, pr.GetBody())
		}
	}
	if len(pr.Labels) != 1 || pr.Labels[0].GetName() != DriftLabel {
		t.Errorf("labels %v", pr.Labels)
	}
	// The YAML edited in place: the new image, the comments kept.
	if got, want := l.fileAt(t, "gantry/drift/web", "apps/web/deploy.yaml"), withNS(map[string]string{"f": commentedDeployment("nginx:9")}, l.ns)["f"]; got != want {
		t.Errorf("deploy.yaml on the drift branch:\n%s\nwant:\n%s", got, want)
	}
	// A second comparison with the same drift updates nothing.
	l.driftCheck(t)
	if again := l.driftPR(t, "web"); again.GetNumber() != pr.GetNumber() || again.GetHead().GetSHA() != pr.GetHead().GetSHA() {
		t.Errorf("the same drift made a second pull request #%d or moved the branch", again.GetNumber())
	}
	if l.botComment(pr.GetNumber(), "The drift changed") != "" {
		t.Error("the same drift was announced as a change")
	}
	// Further drift updates the same pull request and says so.
	l.edit(t, "kubectl-scale", func(d *appsv1.Deployment) { d.Spec.Replicas = ptrInt32(3) })
	l.driftCheck(t)
	if again := l.driftPR(t, "web"); again.GetNumber() != pr.GetNumber() || !strings.Contains(again.GetBody(), "spec.replicas") {
		t.Errorf("further drift did not update #%d:\n%s", pr.GetNumber(), again.GetBody())
	}
	if l.botComment(pr.GetNumber(), "The drift changed") == "" {
		t.Error("the update of the drift pull request was not commented")
	}
	pr = l.driftPR(t, "web")
	// Merging accepts: the apply changes no value of the spec (it takes
	// the fields' ownership back and stamps its annotation) and says so in
	// the record.
	before, err := kube.Client.AppsV1().Deployments(l.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sha, err := l.sim.MergePR("maria", "acme", "ops", pr.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, sha); c.Conclusion != "success" {
		t.Fatalf("apply of the accepted drift: %s %q", c.Conclusion, c.Title)
	}
	last, _ := l.records(t, "web").Last()
	if last.Trigger != cluster.TriggerAcceptDrift || last.Counts[cluster.ChangeCreated] != 0 || last.Result != cluster.ResultSucceeded {
		t.Errorf("record of the accepted drift %+v", last)
	}
	after, err := kube.Client.AppsV1().Deployments(l.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || !equality.Semantic.DeepEqual(before.Spec, after.Spec) {
		t.Errorf("accepting the drift changed the Deployment's spec (%v):\n%+v\n%+v", err, before.Spec, after.Spec)
	}
	if got := l.image(t); got != "nginx:9" {
		t.Errorf("image %q after accepting, want nginx:9", got)
	}
	if got := l.fileAt(t, "main", "apps/web/deploy.yaml"); !strings.Contains(got, "replicas: 3 # scaled by hand in incidents") {
		t.Errorf("deploy.yaml after accepting:\n%s", got)
	}
	l.driftCheck(t)
	if pr := l.driftPR(t, "web"); pr != nil {
		t.Errorf("drift pull request #%d after the drift was accepted", pr.GetNumber())
	}
}

func TestClosingADriftPRRestoresTheCluster(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
	if err := kube.Client.CoreV1().ConfigMaps(l.ns).Delete(context.Background(), "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	l.driftCheck(t)
	pr := l.driftPR(t, "web")
	if pr == nil || !strings.Contains(pr.GetBody(), "ConfigMap/"+l.ns+"/web-config` | (the whole object) | present | deleted") {
		t.Fatalf("drift pull request %v:\n%s", pr.GetNumber(), pr.GetBody())
	}
	if _, _, _, err := l.gh(t).Repositories.GetContents(context.Background(), "acme", "ops", "apps/web/cm.yaml", &github.RepositoryContentGetOptions{Ref: "gantry/drift/web"}); err == nil {
		t.Error("the deleted ConfigMap's file is still on the drift branch")
	}
	if err := l.sim.ClosePR("maria", "acme", "ops", pr.GetNumber()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the restore comment", func() bool {
		return l.botComment(pr.GetNumber(), "Closed without merging: ↩️ restored `web`") != ""
	})
	if got := l.image(t); got != "nginx:1" {
		t.Errorf("image %q after closing, want nginx:1 restored", got)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("web-config not restored: %v", err)
	}
	if last, _ := l.records(t, "web").Last(); last.Trigger != cluster.TriggerRestoreDrift {
		t.Errorf("record %+v", last)
	}
}

func TestDriftOnlyInFieldsGitSetsAndADriftUndoneClosesItsPR(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	// What other controllers own — an annotation and an env var Git does
	// not set, as a mutating webhook injects — is not drift.
	l.edit(t, "sidecar-injector", func(d *appsv1.Deployment) {
		d.Annotations["injector.example/status"] = "injected"
		d.Spec.Template.Spec.Containers[0].Env = append(d.Spec.Template.Spec.Containers[0].Env, corev1EnvVar("INJECTED", "1"))
	})
	l.driftCheck(t)
	if pr := l.driftPR(t, "web"); pr != nil {
		t.Fatalf("a drift pull request for fields Git does not set:\n%s", pr.GetBody())
	}
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
	l.driftCheck(t)
	pr := l.driftPR(t, "web")
	if pr == nil {
		t.Fatal("no drift pull request for the image")
	}
	// Undone by hand: the pull request closes and says why.
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1" })
	l.driftCheck(t)
	if open := l.driftPR(t, "web"); open != nil {
		t.Error("the drift pull request stayed open after the drift was undone")
	}
	if l.botComment(pr.GetNumber(), "The drift is gone") == "" {
		t.Error("the closed drift pull request does not say why")
	}
}

func TestRemediateRestoresAtOnceAndRecordsIt(t *testing.T) {
	files := map[string]string{".gantry.yaml": strings.Replace(applyRepo, "healthTimeout: 40s", "healthTimeout: 40s\n    drift: remediate", 1),
		"apps/web/cm.yaml": configMap("web-config", "one"), "apps/api/cm.yaml": configMap("api-config", "one")}
	l := startServer(t, files, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	for range 2 {
		l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
		l.driftCheck(t)
		if got := l.image(t); got != "nginx:1" {
			t.Fatalf("image %q, want nginx:1 restored at once", got)
		}
	}
	if pr := l.driftPR(t, "web"); pr != nil {
		t.Error("remediate mode opened a drift pull request")
	}
	// Each remediation stays visible in the records.
	n := 0
	for _, r := range l.records(t, "web").History {
		if r.Trigger == cluster.TriggerRemediate && r.Result == cluster.ResultSucceeded {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d remediations recorded, want 2", n)
	}
}

func TestDriftWhileGantryWasDownIsFoundAtStart(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	l.stop()
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
	l2 := restartServer(t, l)
	l2.drain(t)
	if pr := l2.driftPR(t, "web"); pr == nil {
		t.Fatal("the resync at start found no drift")
	}
}

func corev1EnvVar(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func ptrInt32(v int32) *int32 { return &v }

// TestTheWatchTurnsEditsIntoOneDriftPR: no resync, no call: the watch sees
// another manager's edits, and flapping edits make one pull request that
// ends holding the last value.
func TestTheWatchTurnsEditsIntoOneDriftPR(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	for _, img := range []string{"nginx:7", "nginx:8", "nginx:9"} {
		l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = img })
	}
	waitFor(t, "a drift pull request with the last image", func() bool {
		pr := l.driftPR(t, "web")
		return pr != nil && strings.Contains(pr.GetBody(), `"nginx:9"`)
	})
	prs, _, err := l.gh(t).PullRequests.List(context.Background(), "acme", "ops", &github.PullRequestListOptions{State: "all"})
	if err != nil {
		t.Fatal(err)
	}
	drift := 0
	for _, pr := range prs {
		if strings.HasPrefix(pr.GetHead().GetRef(), "gantry/drift/") {
			drift++
		}
	}
	if drift != 1 {
		t.Errorf("%d drift pull requests for one burst of edits, want 1", drift)
	}
}

// TestAChangeOverAScaledDeploymentTakesTheReplicasBack: after `kubectl
// scale`, a pull request changing the same Deployment plans without a
// conflict error and its merge applies, taking the replicas back.
func TestAChangeOverAScaledDeploymentTakesTheReplicasBack(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false)})
	l.applied(t, first)
	sc, err := kube.Client.AppsV1().Deployments(l.ns).GetScale(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = 4
	if _, err := kube.Client.AppsV1().Deployments(l.ns).UpdateScale(context.Background(), "web", sc, metav1.UpdateOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "v2", Base: "main", Title: "v2",
		Files: withNS(map[string]string{"apps/web/deploy.yaml": deployment("nginx:2", false)}, l.ns)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	if c := l.checks(head)[report.CheckDiff]; c.Conclusion != "success" {
		t.Fatalf("the plan over a scaled Deployment: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if !l.botSays(n, "taken by kubectl") {
		t.Errorf("the plan does not say who took the replicas:\n%s", l.summary(n))
	}
	sha, err := l.sim.MergePR("maria", "acme", "ops", n)
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, sha); c.Conclusion != "success" {
		t.Fatalf("apply over a scaled Deployment: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	d, err := kube.Client.AppsV1().Deployments(l.ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 1 || d.Spec.Template.Spec.Containers[0].Image != "nginx:2" {
		t.Errorf("after the apply: replicas %d image %s (%v), want 1 and nginx:2", *d.Spec.Replicas, d.Spec.Template.Spec.Containers[0].Image, err)
	}
}

// TestKustomizeDriftBecomesAPatchRegisteredInTheModel: a Kustomize app's
// drift is written as a strategic-merge patch file, registered in
// .gantry.yaml; merging it makes Git render the live state.
func TestKustomizeDriftBecomesAPatchRegisteredInTheModel(t *testing.T) {
	files := map[string]string{
		".gantry.yaml":                "version: 1\n# the web front end, built with Kustomize\napps:\n  - name: web\n    path: apps/web\n    namespace: NS\n",
		"apps/web/kustomization.yaml": "resources: [deploy.yaml]\n",
		"apps/web/deploy.yaml":        deployment("nginx:1", false),
	}
	l := startServer(t, files, "")
	_, first := l.mergePR(t, "touch", map[string]string{"apps/web/kustomization.yaml": "resources: [deploy.yaml]\nlabels:\n- pairs: {team: web}\n"})
	if c := l.applied(t, first); c.Conclusion != "success" {
		t.Fatalf("apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
	l.driftCheck(t)
	pr := l.driftPR(t, "web")
	if pr == nil {
		t.Fatal("no drift pull request")
	}
	model := l.fileAt(t, "gantry/drift/web", ".gantry.yaml")
	if !strings.Contains(model, "# the web front end, built with Kustomize") || !strings.Contains(model, "patches/web/drift.yaml") {
		t.Errorf(".gantry.yaml on the drift branch:\n%s", model)
	}
	if patch := l.fileAt(t, "gantry/drift/web", "patches/web/drift.yaml"); !strings.Contains(patch, "image: nginx:9") || !strings.Contains(patch, "name: web") {
		t.Errorf("the drift patch:\n%s", patch)
	}
	sha, err := l.sim.MergePR("maria", "acme", "ops", pr.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, sha); c.Conclusion != "success" {
		t.Fatalf("apply of the accepted drift: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	if got := l.image(t); got != "nginx:9" {
		t.Errorf("image %q after accepting, want nginx:9", got)
	}
	l.driftCheck(t)
	if pr := l.driftPR(t, "web"); pr != nil {
		t.Errorf("drift pull request #%d after the patch was merged", pr.GetNumber())
	}
}

// TestDriftPRLeftAsAPlaceholderIsCompleted: a replica killed between
// opening a drift pull request and sealing its body leaves the bot's
// placeholder open on the branch; the next comparison completes that pull
// request (sealed, labelled) instead of failing to open a second one.
func TestDriftPRLeftAsAPlaceholderIsCompleted(t *testing.T) {
	l := startServer(t, applyFiles, "")
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": commentedDeployment("nginx:1")})
	l.applied(t, first)
	l.edit(t, "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:9" })
	// What the dead replica left: its branch and its placeholder.
	if _, err := l.sim.Push("alice", "acme", "ops", "gantry/drift/web", map[string]string{"x": "y"}, nil, "half"); err != nil {
		t.Fatal(err)
	}
	left, _, err := l.gh(t).PullRequests.Create(context.Background(), "acme", "ops", &github.NewPullRequest{Title: github.String("drift"),
		Head: github.String("gantry/drift/web"), Base: github.String("main"), Body: github.String(placeholderBody)})
	if err != nil {
		t.Fatal(err)
	}
	l.driftCheck(t)
	prs, _, err := l.gh(t).PullRequests.List(context.Background(), "acme", "ops", &github.PullRequestListOptions{State: "open", Head: "acme:gantry/drift/web"})
	if err != nil || len(prs) != 1 {
		t.Fatalf("open drift pull requests %d, %v: want the one left, completed", len(prs), err)
	}
	pr := prs[0]
	var d driftPayload
	if pr.GetNumber() != left.GetNumber() || !l.srv.pipe.Seal.Open(marker.KindDrift, marker.Scope("acme", "ops", pr.GetNumber()), pr.GetBody(), &d) || d.App != "web" {
		t.Errorf("#%d (left #%d) is not completed as gantry's drift pull request: %+v\n%s", pr.GetNumber(), left.GetNumber(), d, pr.GetBody())
	}
	if len(pr.Labels) != 1 || pr.Labels[0].GetName() != DriftLabel {
		t.Errorf("labels %v", pr.Labels)
	}
	// The same text in a pull request someone else opened is not the
	// bot's: never taken for one.
	if _, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "gantry/drift/api", Base: "main", Title: "x", Body: placeholderBody,
		Files: map[string]string{"z": "z"}}); err != nil {
		t.Fatal(err)
	}
	if got, err := l.srv.pipe.placeholderPR(context.Background(), l.gh(t), Job{Owner: "acme", Repo: "ops"}, "gantry/drift/api"); err != nil || got != nil {
		t.Errorf("alice's pull request was taken for the bot's placeholder: #%d %v", got.GetNumber(), err)
	}
}
