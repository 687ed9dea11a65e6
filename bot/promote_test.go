package bot

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/promote"
)

// overlayFiles is a staging → prod chain of Kustomize overlays over one
// base: the overlays differ in prefix and replicas, and share the image.
func overlayFiles(soak string, neverReady bool) map[string]string {
	return map[string]string{
		".gantry.yaml": `version: 1
apps:
  - name: web-staging
    path: apps/web/overlays/staging
    namespace: NS
    healthTimeout: 20s
    promote: {to: web-prod, soak: ` + soak + `}
  - name: web-prod
    path: apps/web/overlays/prod
    namespace: NS
    healthTimeout: 20s
`,
		"apps/web/base/kustomization.yaml":             "resources:\n- deploy.yaml\n",
		"apps/web/base/deploy.yaml":                    deployment("ghcr.io/acme/web:1.0", neverReady),
		"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.41"),
		"apps/web/overlays/prod/kustomization.yaml":    prodOverlay,
		// A file of prod's directory that leads out of it: a promotion
		// never reads or writes through it.
		"apps/web/overlays/prod/notes.yaml":    githubsim.SymlinkPrefix + "../../../../ops/private.yaml",
		"apps/web/overlays/staging/notes.yaml": "owner: web-team\n",
		"ops/private.yaml":                     "owner: web-team\ntoken: do-not-leak\n",
	}
}

func stagingOverlay(tag string) string {
	return `resources:
- ../../base
namePrefix: staging-
images:
- name: ghcr.io/acme/web
  newTag: "` + tag + `"
`
}

const prodOverlay = `# prod: the same image as staging, once staging proved it
resources:
- ../../base
namePrefix: prod-
replicas:
- name: web
  count: 2
images:
- name: ghcr.io/acme/web
  newTag: "1.41" # promoted from staging
`

// promotions reads an app's promotions from the test cluster.
func (l *live) promotions(t *testing.T, app string) []cluster.Promotion {
	t.Helper()
	c, err := l.pipe.Clusters.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.Promotions(context.Background(), "acme/ops", app)
	if err != nil {
		t.Fatal(err)
	}
	return ps.List
}

// promoteAt runs the promotion job as if the clock read now.
func (l *live) promoteAt(now time.Time) (time.Time, error) {
	return l.srv.pipe.Promote(context.Background(), Job{Kind: JobPromote, InstallationID: l.inst, Owner: "acme", Repo: "ops", BaseRef: "main"}, now)
}

// branchPRs are the pull requests, open or closed, from branch.
func (l *live) branchPRs(t *testing.T, branch string) []*github.PullRequest {
	t.Helper()
	prs, _, err := l.gh(t).PullRequests.List(context.Background(), "acme", "ops", &github.PullRequestListOptions{State: "all", Head: "acme:" + branch})
	if err != nil {
		t.Fatal(err)
	}
	return prs
}

// prFiles are the files a pull request changes.
func (l *live) prFiles(t *testing.T, n int) []string {
	t.Helper()
	fs, _, err := l.gh(t).PullRequests.ListFiles(context.Background(), "acme", "ops", n, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.GetFilename())
	}
	return out
}

// TestPromotionOfAKustomizeOverlay: a change merged to staging's overlay
// is applied, soaks, and becomes a pull request making the same change to
// prod's overlay, with the evidence; its plan shows prod's change; running
// again (the resync, a replica taking over) or after it is closed opens
// no second one. prod's file that leads outside its directory is left.
func TestPromotionOfAKustomizeOverlay(t *testing.T) {
	l := startServer(t, overlayFiles("1h", false), "")
	pr, merge := l.mergePR(t, "bump", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42"),
		"apps/web/overlays/staging/notes.yaml": "owner: platform-team\n"})
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("gantry/apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	ps := l.promotions(t, "web-staging")
	if len(ps) != 1 || ps[0].State != cluster.PromotionSoaking || ps[0].Commit != merge || ps[0].To != "web-prod" {
		t.Fatalf("promotions after the apply: %+v", ps)
	}
	due := ps[0].Due
	// The apply check says the soak began, and when it ends.
	if c := l.checks(merge)[report.CheckApply]; !strings.Contains(c.Summary, "⏳ promotion to web-prod: soaking for 1h0m0s, until "+due.UTC().Format("15:04:05 UTC")) {
		t.Errorf("the apply check does not say the promotion soaks:\n%s", c.Summary)
	}
	if got := due.Sub(ps[0].Healthy); got != time.Hour {
		t.Errorf("soak recorded %s, want 1h", got)
	}
	branch := "gantry/promote/web-prod/" + shortSHA(merge)

	// Before the soak ends: nothing, and the job says when to come back.
	next, err := l.promoteAt(due.Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !next.Equal(due) || len(l.branchPRs(t, branch)) != 0 {
		t.Fatalf("before the soak ended: next %s (want %s), pull requests %d", next, due, len(l.branchPRs(t, branch)))
	}

	// The soak ends: health is read again and the pull request opens.
	start := time.Now()
	if _, err := l.promoteAt(due.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("the promotion job (3 checkouts, health, merge, push, pull request) took %s", time.Since(start).Round(time.Millisecond))
	prs := l.branchPRs(t, branch)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests on %s, want 1", len(prs), branch)
	}
	p := prs[0]
	if got := l.prFiles(t, p.GetNumber()); strings.Join(got, ",") != "apps/web/overlays/prod/kustomization.yaml" {
		t.Errorf("the promotion changes %v, want prod's kustomization.yaml only", got)
	}
	want := strings.Replace(prodOverlay, `newTag: "1.41"`, `newTag: "1.42"`, 1)
	if got := l.fileAt(t, branch, "apps/web/overlays/prod/kustomization.yaml"); got != want {
		t.Errorf("prod's overlay on the branch:\n%s\nwant (staging's change, prod's comments, replicas and prefix kept):\n%s", got, want)
	}
	if got := l.fileAt(t, branch, "ops/private.yaml"); !strings.Contains(got, "do-not-leak") || strings.Contains(got, "platform-team") {
		t.Errorf("the file behind prod's link changed: %q", got)
	}
	body := p.GetBody()
	var d promotePayload
	if !l.pipe.Seal.Open(marker.KindPromote, marker.Scope("acme", "ops", p.GetNumber()), body, &d) || d.Commit != merge || d.Branch != branch {
		t.Errorf("the body does not open with gantry's sealed promotion marker: %+v\n%s", d, body)
	}
	for _, s := range []string{"promote `web-staging` → `web-prod`", "/pull/" + strconv.Itoa(pr), "/runs/", "/commit/" + merge, "1h0m0s asked, 1h0m1s observed",
		"1 object healthy", "`images[name=ghcr.io/acme/web].newTag`: `\"1.41\"` → `\"1.42\"`",
		"`apps/web/overlays/prod/notes.yaml`: `leads outside web-prod's directory (a symbolic link)", "gantry never merges a promotion pull request"} {
		if !strings.Contains(body, s) {
			t.Errorf("the body lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "do-not-leak") {
		t.Errorf("the body shows the file behind the link:\n%s", body)
	}
	if ps := l.promotions(t, "web-staging"); ps[0].State != cluster.PromotionOpened || ps[0].Number != p.GetNumber() {
		t.Errorf("promotion after opening: %+v", ps[0])
	}
	waitFor(t, "comment on the staging pull request", func() bool { return l.botComment(pr, "to promote this change") != "" })

	// It is an ordinary pull request: gantry plans it, showing prod's change.
	waitFor(t, "plan of the promotion", func() bool { return l.completed(p.GetHead().GetSHA()) })
	if s := l.summary(p.GetNumber()); !strings.Contains(s, "web-prod") || !strings.Contains(s, "ghcr.io/acme/web:1.42") {
		t.Errorf("the promotion's plan does not show prod's change:\n%s", s)
	}

	// Again, as the resync and a replica taking over run it: no second.
	if _, err := l.promoteAt(due.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := l.sim.ClosePR("maria", "acme", "ops", p.GetNumber()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.promoteAt(due.Add(2 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if prs := l.branchPRs(t, branch); len(prs) != 1 || prs[0].GetState() != "closed" {
		t.Errorf("after running again and closing: %d pull requests, want the one, closed", len(prs))
	}
}

// TestPromotionOfHelmValues: a chart with one values file per
// environment; the key staging's values changed is changed in prod's,
// with prod's comments; merging the promotion applies prod.
func TestPromotionOfHelmValues(t *testing.T) {
	files := map[string]string{
		".gantry.yaml": `version: 1
apps:
  - name: web-staging
    path: charts/web
    namespace: NS
    healthTimeout: 20s
    helm: {releaseName: staging, values: [values-staging.yaml]}
    promote: {to: web-prod, soak: 0s}
  - name: web-prod
    path: charts/web
    namespace: NS
    healthTimeout: 20s
    helm: {releaseName: prod, values: [values-prod.yaml]}
`,
		"charts/web/Chart.yaml":               "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"charts/web/values.yaml":              "image: {repository: ghcr.io/acme/web, tag: \"1.0\"}\nreplicas: 1\n",
		"charts/web/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-web\ndata:\n  image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n  replicas: {{ .Values.replicas | quote }}\n",
		"charts/web/values-staging.yaml":      "image:\n  tag: \"1.41\"\n",
		"charts/web/values-prod.yaml":         "# prod values: reviewed by the on-call\nreplicas: 3\nimage:\n  tag: \"1.41\" # the release in prod\n",
	}
	l := startServer(t, files, "")
	pr, merge := l.mergePR(t, "bump", map[string]string{"charts/web/values-staging.yaml": "image:\n  tag: \"1.42\"\n"})
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("gantry/apply: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	// soak: 0s: the server opens it after the apply, by itself.
	branch := "gantry/promote/web-prod/" + shortSHA(merge)
	waitFor(t, "the promotion pull request", func() bool {
		ps := l.promotions(t, "web-staging")
		return len(ps) == 1 && ps[0].State == cluster.PromotionOpened
	})
	prs := l.branchPRs(t, branch)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests on %s, want 1", len(prs), branch)
	}
	p := prs[0]
	if got := l.prFiles(t, p.GetNumber()); strings.Join(got, ",") != "charts/web/values-prod.yaml" {
		t.Errorf("the promotion changes %v, want values-prod.yaml only", got)
	}
	want := "# prod values: reviewed by the on-call\nreplicas: 3\nimage:\n  tag: \"1.42\" # the release in prod\n"
	if got := l.fileAt(t, branch, "charts/web/values-prod.yaml"); got != want {
		t.Errorf("values-prod.yaml on the branch:\n%s\nwant:\n%s", got, want)
	}
	if body := p.GetBody(); !strings.Contains(body, "`charts/web/values-prod.yaml` `image.tag`: `\"1.41\"` → `\"1.42\"`") || !strings.Contains(body, "/pull/"+strconv.Itoa(pr)) {
		t.Errorf("body:\n%s", body)
	}
	waitFor(t, "plan of the promotion", func() bool { return l.completed(p.GetHead().GetSHA()) })
	if s := l.summary(p.GetNumber()); !strings.Contains(s, "web-prod") || !strings.Contains(s, "ghcr.io/acme/web:1.42") {
		t.Errorf("the promotion's plan does not show prod's change:\n%s", s)
	}
	// Merged by a human, it is an ordinary merge: prod is applied.
	prodMerge, err := l.sim.MergePR("maria", "acme", "ops", p.GetNumber())
	if err != nil {
		t.Fatal(err)
	}
	if c := l.applied(t, prodMerge); c.Conclusion != "success" {
		t.Fatalf("gantry/apply of the promotion: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "prod-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["image"] != "ghcr.io/acme/web:1.42" || cm.Data["replicas"] != "3" {
		t.Errorf("prod after the promotion's merge: %v", cm.Data)
	}
	if rs := l.records(t, "web-prod"); rs.History[0].Commit != prodMerge || !rs.History[0].Good() {
		t.Errorf("web-prod's last apply: %+v", rs.History[0])
	}
}

// TestNoPromotionOfAnUnhealthyApply: staging's apply is not healthy, so
// nothing soaks and no promotion pull request is ever opened.
func TestNoPromotionOfAnUnhealthyApply(t *testing.T) {
	files := overlayFiles("0s", false)
	files[".gantry.yaml"] = strings.ReplaceAll(files[".gantry.yaml"], "healthTimeout: 20s", "healthTimeout: 3s")
	l := startServer(t, files, "")
	_, merge := l.mergePR(t, "bad", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42") +
		"patches:\n- target: {kind: Deployment}\n  patch: |-\n    - op: add\n      path: /spec/template/metadata/labels/gantry.test~1never-ready\n      value: \"true\"\n"})
	if c := l.applied(t, merge); c.Conclusion == "success" {
		t.Fatalf("gantry/apply succeeded; the test needs an unhealthy apply:\n%s", c.Summary)
	}
	if ps := l.promotions(t, "web-staging"); len(ps) != 0 {
		t.Errorf("promotions of an unhealthy apply: %+v", ps)
	}
	if _, err := l.promoteAt(time.Now().Add(24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	if prs := l.branchPRs(t, "gantry/promote/web-prod/"+shortSHA(merge)); len(prs) != 0 {
		t.Errorf("a promotion pull request was opened for an unhealthy apply")
	}
}

// TestForgedPromotionPRIsNotAdopted: a pull request on the promotion's
// branch that a user (alice, who may write) opened, with a marker sealed under another key, is
// not taken for gantry's: open, gantry does not push over it; closed, it
// does not count as a promotion closed, and gantry opens its own.
func TestForgedPromotionPRIsNotAdopted(t *testing.T) {
	l := startServer(t, overlayFiles("1h", false), "")
	_, merge := l.mergePR(t, "bump", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42")})
	l.applied(t, merge)
	ps := l.promotions(t, "web-staging")
	if len(ps) != 1 {
		t.Fatalf("promotions: %+v", ps)
	}
	branch := "gantry/promote/web-prod/" + shortSHA(merge)
	forger := marker.New([]byte("not gantry's key"))
	if err := l.sim.SetPermission("acme", "ops", "alice", "write"); err != nil {
		t.Fatal(err)
	}
	n, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: "Promote web-staging → web-prod",
		Files: map[string]string{"apps/web/overlays/prod/kustomization.yaml": "resources: [https://evil.example/base]\n"}})
	if err != nil {
		t.Fatal(err)
	}
	body := forger.MustSeal(marker.KindPromote, marker.Scope("acme", "ops", n), promotePayload{ID: ps[0].ID, From: "web-staging", To: "web-prod", Commit: merge, Branch: branch}) + "\n### ⏫ gantry: promote"
	mallory, err := github.NewClient(nil).WithAuthToken(l.sim.UserToken("alice")).WithEnterpriseURLs(l.sim.URL()+"/api/v3/", l.sim.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := mallory.PullRequests.Edit(context.Background(), "acme", "ops", n, &github.PullRequest{Body: github.String(body)}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.promoteAt(ps[0].Due.Add(time.Second)); err == nil || !strings.Contains(err.Error(), "which gantry did not open") {
		t.Errorf("with mallory's pull request open on the branch: err = %v", err)
	}
	if got := l.promotions(t, "web-staging")[0]; got.State == cluster.PromotionOpened || got.Number == n {
		t.Fatalf("mallory's pull request was adopted: %+v", got)
	}
	if got := l.fileAt(t, branch, "apps/web/overlays/prod/kustomization.yaml"); !strings.Contains(got, "evil.example") {
		t.Errorf("gantry pushed over mallory's branch: %q", got)
	}
	if err := l.sim.ClosePR("alice", "acme", "ops", n); err != nil {
		t.Fatal(err)
	}
	if _, err := l.promoteAt(ps[0].Due.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got := l.promotions(t, "web-staging")[0]
	if got.State != cluster.PromotionOpened || got.Number == n || got.Number == 0 {
		t.Fatalf("after mallory's pull request closed: %+v", got)
	}
	if f := l.fileAt(t, branch, "apps/web/overlays/prod/kustomization.yaml"); strings.Contains(f, "evil.example") || !strings.Contains(f, `newTag: "1.42"`) {
		t.Errorf("the promotion branch holds:\n%s", f)
	}
}

// TestPromotionCarriesEveryChangeSinceTheLastOne: a second change to
// staging before the first one's soak ends supersedes it, starts the soak
// again, and its pull request carries both changes.
func TestPromotionCarriesEveryChangeSinceTheLastOne(t *testing.T) {
	l := startServer(t, overlayFiles("1h", false), "")
	first, m1 := l.mergePR(t, "bump", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42")})
	l.applied(t, m1)
	second, m2 := l.mergePR(t, "label", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42") + "commonAnnotations:\n  team: web\n"})
	l.applied(t, m2)
	ps := l.promotions(t, "web-staging")
	if len(ps) != 2 || ps[0].Commit != m2 || ps[0].State != cluster.PromotionSoaking || ps[1].State != cluster.PromotionSuperseded || ps[0].Base != ps[1].Base {
		t.Fatalf("promotions after two applies: %+v", ps)
	}
	if _, err := l.promoteAt(ps[1].Due.Add(time.Second)); err != nil { // the first's soak end: nothing
		t.Fatal(err)
	}
	if prs := l.branchPRs(t, "gantry/promote/web-prod/"+shortSHA(m1)); len(prs) != 0 {
		t.Fatalf("the superseded promotion opened a pull request")
	}
	if _, err := l.promoteAt(ps[0].Due.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	branch := "gantry/promote/web-prod/" + shortSHA(m2)
	prs := l.branchPRs(t, branch)
	if len(prs) != 1 {
		t.Fatalf("%d pull requests on %s", len(prs), branch)
	}
	f := l.fileAt(t, branch, "apps/web/overlays/prod/kustomization.yaml")
	if !strings.Contains(f, `newTag: "1.42" # promoted from staging`) || !strings.Contains(f, "commonAnnotations:\n  team: web\n") || !strings.Contains(f, "count: 2") {
		t.Errorf("prod's overlay does not carry both changes:\n%s", f)
	}
	body := prs[0].GetBody()
	if !strings.Contains(body, "/pull/"+strconv.Itoa(first)) || !strings.Contains(body, "/pull/"+strconv.Itoa(second)) {
		t.Errorf("the body does not link both pull requests:\n%s", body)
	}
}

// TestNoPromotionWhenUnhealthyAtTheSoakEnd: staging applied healthy, then
// stopped being healthy before its soak ended: health is read again at
// the end, the promotion is abandoned, and the merged pull request says
// why.
func TestNoPromotionWhenUnhealthyAtTheSoakEnd(t *testing.T) {
	l := startServer(t, overlayFiles("1h", false), "")
	pr, merge := l.mergePR(t, "bump", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42")})
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("gantry/apply: %s\n%s", c.Conclusion, c.Summary)
	}
	// Someone rolls staging to pods that never become ready.
	d, err := kube.Client.AppsV1().Deployments(l.ns).Get(context.Background(), "staging-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Labels["gantry.test/never-ready"] = "true"
	if _, err := kube.Client.AppsV1().Deployments(l.ns).Update(context.Background(), d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	ps := l.promotions(t, "web-staging")
	start := time.Now()
	if _, err := l.promoteAt(ps[0].Due.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("the health check at the soak's end took %s", time.Since(start).Round(time.Millisecond))
	got := l.promotions(t, "web-staging")[0]
	if got.State != cluster.PromotionAbandoned || !strings.Contains(got.Reason, "was not healthy at the end of the soak") {
		t.Errorf("promotion: %+v", got)
	}
	if prs := l.branchPRs(t, "gantry/promote/web-prod/"+shortSHA(merge)); len(prs) != 0 {
		t.Errorf("a promotion pull request was opened for an app unhealthy at the soak's end")
	}
	if c := l.botComment(pr, "did not promote"); !strings.Contains(c, "was not healthy at the end of the soak") {
		t.Errorf("the merged pull request is not told why: %q", c)
	}
}

// TestPromotionTakenOverAfterAReplicaDied: a replica died after opening
// the promotion's pull request and before sealing it and recording it. The
// next replica completes that pull request from the records at its start:
// sealed, the same number, no second one.
func TestPromotionTakenOverAfterAReplicaDied(t *testing.T) {
	l := startServer(t, overlayFiles("1h", false), "")
	_, merge := l.mergePR(t, "bump", map[string]string{"apps/web/overlays/staging/kustomization.yaml": stagingOverlay("1.42")})
	l.applied(t, merge)
	l.stop()
	branch := "gantry/promote/web-prod/" + shortSHA(merge)
	// What the dead replica left: the promotion "opening", its branch,
	// and a pull request the bot opened with the placeholder body.
	c, err := l.pipe.Clusters.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdatePromotions(context.Background(), "acme/ops", "web-staging", func(ps *cluster.Promotions) bool {
		ps.List[0].State, ps.List[0].Branch = cluster.PromotionOpening, branch
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.sim.Push("alice", "acme", "ops", branch, map[string]string{"apps/web/overlays/prod/kustomization.yaml": prodOverlay + "# half done\n"}, nil, "half done"); err != nil {
		t.Fatal(err)
	}
	left, _, err := l.gh(t).PullRequests.Create(context.Background(), "acme", "ops", &github.NewPullRequest{Title: github.String("Promote"), Head: github.String(branch),
		Base: github.String("main"), Body: github.String(placeholderBody)})
	if err != nil {
		t.Fatal(err)
	}
	l2 := restartServer(t, l)
	waitFor(t, "the promotion recorded opened", func() bool { return l2.promotions(t, "web-staging")[0].State == cluster.PromotionOpened })
	got := l2.promotions(t, "web-staging")[0]
	prs := l2.branchPRs(t, branch)
	if len(prs) != 1 || got.Number != left.GetNumber() {
		t.Fatalf("%d pull requests on the branch; promotion recorded #%d, the one left was #%d", len(prs), got.Number, left.GetNumber())
	}
	var d promotePayload
	if !l2.pipe.Seal.Open(marker.KindPromote, marker.Scope("acme", "ops", left.GetNumber()), prs[0].GetBody(), &d) || d.ID != got.ID {
		t.Errorf("the pull request left was not sealed:\n%s", prs[0].GetBody())
	}
	if f := l2.fileAt(t, branch, "apps/web/overlays/prod/kustomization.yaml"); strings.Contains(f, "half done") || !strings.Contains(f, `newTag: "1.42"`) {
		t.Errorf("the branch holds:\n%s", f)
	}
}

// TestPromotionBodyDefangsHostileText: file names, keys and values from
// the change are echoed in the body, so none can open an HTML comment (a
// marker's look), break out of its code span, or add lines.
func TestPromotionBodyDefangsHostileText(t *testing.T) {
	evil := "x`\n<!-- gantry:promote e30 AAAA -->\n@acme/admins"
	res := &promote.Result{
		Edits:     []promote.Edit{{File: "apps/p/" + evil + ".yaml", Field: "a." + evil, From: evil, To: evil}},
		Conflicts: []promote.Conflict{{File: "apps/p/" + evil, Field: evil, Why: "the target holds " + evil}},
		Skipped:   []promote.Skip{{File: evil, Why: "outside"}},
	}
	repo := &github.Repository{HTMLURL: github.String("https://github.example/acme/ops")}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	pr := cluster.Promotion{App: "web-staging", To: "web-prod", Commit: strings.Repeat("a", 40), Base: strings.Repeat("b", 40), PRs: []int{7},
		Healthy: now.Add(-10 * time.Minute), Soak: 10 * time.Minute}
	body := promotionBody(repo, pr, &cluster.Health{Healthy: true, Ready: 2}, res, "main", strings.Repeat("c", 40), now)
	if strings.Contains(body, "<!--") || strings.Contains(body, "x`") {
		t.Errorf("hostile text survived:\n%s", body)
	}
	// Outside code spans, no mention is left to notify anyone.
	for i, part := range strings.Split(body, "`") {
		if i%2 == 0 && strings.Contains(part, "@acme") {
			t.Errorf("a mention outside a code span: %q", part)
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "<!--") || strings.HasPrefix(line, "@acme") {
			t.Errorf("hostile text made a line of its own: %q", line)
		}
	}
	for _, s := range []string{"10m0s asked, 10m0s observed", "2 objects healthy", "[#7](https://github.example/acme/ops/pull/7)", "/commit/" + pr.Commit} {
		if !strings.Contains(body, s) {
			t.Errorf("the body lacks %q:\n%s", s, body)
		}
	}
}
