package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/fixtures/localcluster"
)

// hookOpts bounds every wait of the hook tests; the bound is a guard
// against a hung test, never an assertion.
func hookOpts() ApplyOptions {
	return ApplyOptions{Repository: testRepo, Prune: true, Health: WaitOptions{Timeout: 2 * time.Minute, Interval: 250 * time.Millisecond}}
}

// hookJob is a Job hook of a chart: annotations as Helm's, one container
// of image; fail makes its pod exit 1.
func hookJob(name, annotations, image string, fail bool) string {
	labels := ""
	if fail {
		labels = `metadata: {labels: {` + localcluster.FailLabel + `: "true"}}`
	}
	return `
apiVersion: batch/v1
kind: Job
metadata:
  name: ` + name + `
  annotations: {` + annotations + `}
spec:
  backoffLimit: 0
  template:
    ` + labels + `
    spec:
      restartPolicy: Never
      containers: [{name: c, image: "` + image + `"}]
`
}

func configMap(name, annotations string) string {
	return `
apiVersion: v1
kind: ConfigMap
metadata: {name: ` + name + `, annotations: {` + annotations + `}}
data: {k: v}
`
}

func docs(parts ...string) string { return strings.Join(parts, "\n---\n") }

// revision is the object's resourceVersion as a number. Against etcd it
// is the revision of the object's last write, one counter for the whole
// cluster, so comparing two objects' revisions orders their last writes.
func revision(ctx context.Context, t *testing.T, kind, ns, name string) int64 {
	t.Helper()
	var obj metav1.Object
	var err error
	switch kind {
	case "Job":
		obj, err = cluster.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	case "ConfigMap":
		obj, err = cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	case "Deployment":
		obj, err = cluster.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	default:
		t.Fatalf("no revision for kind %s", kind)
	}
	if err != nil {
		t.Fatalf("%s %s/%s: %v", kind, ns, name, err)
	}
	rv := obj.GetResourceVersion()
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		t.Fatalf("%s %s/%s resourceVersion %q: %v", kind, ns, name, rv, err)
	}
	return n
}

func hookResults(cs *ChangeSet) []string {
	var out []string
	for _, h := range cs.Hooks {
		out = append(out, h.HookPlan.String()+": "+string(h.Result))
	}
	return out
}

// TestHookJobRecreatedWhenItsImageChanges is the ingress-nginx upgrade:
// a pre-install/pre-upgrade Job hook whose image changes between two
// applies. Patched, its immutable template fails both the dry-run and the
// apply; as a hook it is shown without a dry-run and recreated.
func TestHookJobRecreatedWhenItsImageChanges(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	chart := func(tag string) string {
		return docs(
			hookJob("certgen", `helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "-5", helm.sh/hook-delete-policy: before-hook-creation`, "certgen:"+tag, false),
			configMap("controller", ""))
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, chart("v1")), hookOpts())
	if err != nil {
		t.Fatal(err)
	}
	jobRef := "Job/" + ns + "/certgen"
	if d := cmp.Diff([]string{"pre-install " + jobRef + " (weight -5): succeeded"}, hookResults(cs)); d != "" {
		t.Fatalf("first apply hooks (-want +got):\n%s", d)
	}
	first, err := cluster.Client.BatchV1().Jobs(ns).Get(ctx, "certgen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Inventory(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range inv.Objects {
		if r.Kind == "Job" {
			t.Errorf("the hook %s is in the inventory", r)
		}
	}

	upgrade := objects(t, ns, chart("v2"))
	set, err := c.Diff(ctx, app, upgrade, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	d := find(set, jobRef)
	if d.Error != "" || d.Action != ActionUpdate || !strings.Contains(d.Note, "pre-upgrade (weight -5)") ||
		!strings.Contains(d.Diff, "image: certgen:v1") || !strings.Contains(d.Diff, "image: certgen:v2") {
		t.Fatalf("diff of the hook: %+v", d)
	}
	if d := cmp.Diff([]HookPlan{{Object: job(ns, "certgen"), Phase: PreUpgrade, Weight: -5, Policies: []DeletePolicy{BeforeHookCreation}}}, set.Hooks); d != "" {
		t.Errorf("planned hooks (-want +got):\n%s", d)
	}
	if set.HasErrors() {
		t.Errorf("diff has errors: %+v", set)
	}

	cs, err = c.Apply(ctx, app, upgrade, hookOpts())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"pre-upgrade " + jobRef + " (weight -5): succeeded"}, hookResults(cs)); d != "" {
		t.Fatalf("upgrade hooks (-want +got):\n%s", d)
	}
	second, err := cluster.Client.BatchV1().Jobs(ns).Get(ctx, "certgen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if second.UID == first.UID {
		t.Error("the hook Job was not recreated: same UID")
	}
	if img := second.Spec.Template.Spec.Containers[0].Image; img != "certgen:v2" {
		t.Errorf("image %s, want certgen:v2", img)
	}
}

// TestHooksRunAroundTheObjects checks the order of a first install: the
// pre-install Job completed before the app's objects were written, and
// the post-install Job was created after them.
func TestHooksRunAroundTheObjects(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	objs := objects(t, ns, docs(
		hookJob("pre", `helm.sh/hook: pre-install`, "pre:1", false),
		configMap("main", ""),
		hookJob("post", `helm.sh/hook: post-install`, "post:1", false),
	))
	cs, err := c.Apply(ctx, app, objs, hookOpts())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"pre-install Job/" + ns + "/pre (weight 0): succeeded", "post-install Job/" + ns + "/post (weight 0): succeeded"}
	if d := cmp.Diff(want, hookResults(cs)); d != "" {
		t.Fatalf("hooks (-want +got):\n%s", d)
	}
	pre, main, post := revision(ctx, t, "Job", ns, "pre"), revision(ctx, t, "ConfigMap", ns, "main"), revision(ctx, t, "Job", ns, "post")
	if !(pre < main && main < post) {
		t.Errorf("last writes at revisions pre %d, main %d, post %d: want the pre hook complete before main is created, post after", pre, main, post)
	}
}

func TestHookSucceededDeletesTheJob(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	objs := objects(t, ns, docs(
		hookJob("once", `helm.sh/hook: pre-install, helm.sh/hook-delete-policy: hook-succeeded`, "once:1", false),
		hookJob("kept", `helm.sh/hook: pre-install`, "kept:1", false),
		configMap("main", "")))
	cs, err := c.Apply(ctx, app, objs, hookOpts())
	if err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for _, h := range cs.Hooks {
		deleted[h.Object.Name] = h.Deleted
	}
	if d := cmp.Diff(map[string]bool{"once": true, "kept": false}, deleted); d != "" {
		t.Errorf("deleted by policy (-want +got):\n%s", d)
	}
	if _, err := cluster.Client.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the hook-succeeded Job is still there (err %v)", err)
	}
	if _, err := cluster.Client.BatchV1().Jobs(ns).Get(ctx, "kept", metav1.GetOptions{}); err != nil {
		t.Errorf("the before-hook-creation Job is gone: %v", err)
	}
}

// TestFailingHookStopsTheApply: a pre-install Job that fails stops the
// apply before the app's objects, with an error naming the hook, its
// phase and the Job's failure; the SyncFail hook runs, the post hook not.
func TestFailingHookStopsTheApply(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	objs := objects(t, ns, docs(
		hookJob("migrate", `helm.sh/hook: pre-install, helm.sh/hook-delete-policy: hook-succeeded`, "migrate:1", true),
		configMap("main", ""),
		configMap("on-failure", `argocd.argoproj.io/hook: SyncFail`),
		hookJob("post", `helm.sh/hook: post-install`, "post:1", false),
	))
	cs, err := c.Apply(ctx, app, objs, hookOpts())
	if !errors.Is(err, ErrHookFailed) {
		t.Fatalf("error %v, want ErrHookFailed", err)
	}
	for _, want := range []string{"Job/" + ns + "/migrate", "pre-install", "BackoffLimitExceeded"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if exists(t, ns, "main") {
		t.Error("the app's ConfigMap was applied after its pre hook failed")
	}
	if !exists(t, ns, "on-failure") {
		t.Error("the SyncFail hook did not run")
	}
	if _, err := cluster.Client.BatchV1().Jobs(ns).Get(ctx, "migrate", metav1.GetOptions{}); err != nil {
		t.Errorf("the failed Job, hook-succeeded only, is gone: %v", err)
	}
	want := []string{
		"pre-install Job/" + ns + "/migrate (weight 0): failed",
		"SyncFail ConfigMap/" + ns + "/on-failure (weight 0): succeeded",
		"post-install Job/" + ns + "/post (weight 0): not run",
	}
	if d := cmp.Diff(want, hookResults(cs)); d != "" {
		t.Errorf("hooks (-want +got):\n%s", d)
	}
	if got := changes(cs)["ConfigMap/"+ns+"/main"]; got != string(ChangeNotApplied) {
		t.Errorf("main is %q in the ChangeSet, want not applied", got)
	}
}

// TestSyncWavesApplyInOrder: wave -1 before wave 0, and wave 1 only once
// wave 0's Deployment is healthy.
func TestSyncWavesApplyInOrder(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	deploy := strings.Replace(strings.Split(deploymentDocs("web", false), "\n---\n")[0],
		"metadata: {name: web}", `metadata: {name: web, annotations: {argocd.argoproj.io/sync-wave: "0"}}`, 1)
	objs := objects(t, ns, docs(
		configMap("last", `argocd.argoproj.io/sync-wave: "1"`),
		deploy,
		configMap("first", `argocd.argoproj.io/sync-wave: "-1"`),
	))
	if _, err := c.Apply(ctx, app, objs, hookOpts()); err != nil {
		t.Fatal(err)
	}
	first, web, last := revision(ctx, t, "ConfigMap", ns, "first"), revision(ctx, t, "Deployment", ns, "web"), revision(ctx, t, "ConfigMap", ns, "last")
	if !(first < web && web < last) {
		t.Errorf("last writes at revisions first %d, web %d, last %d: want wave -1, then wave 0 healthy (its last status write), then wave 1", first, web, last)
	}
}

// TestHooksNeverPruned: a Job an earlier apply recorded as an ordinary
// object becomes a hook; it leaves the inventory without being pruned,
// and stays when it is no longer rendered. An app of hooks alone counts
// as empty.
func TestHooksNeverPruned(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	plain := hookJob("setup", ``, "setup:1", false)
	hook := hookJob("setup", `helm.sh/hook: post-upgrade`, "setup:1", false)
	if _, err := c.Apply(ctx, app, objects(t, ns, docs(plain, configMap("main", ""))), hookOpts()); err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, objects(t, ns, docs(hook, configMap("main", ""))), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(set)["Job/"+ns+"/setup"]; got == string(ActionDelete) || got == "error" {
		t.Errorf("diff shows the Job, now a hook, as %s", got)
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, docs(hook, configMap("main", ""))), hookOpts())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"post-upgrade Job/" + ns + "/setup (weight 0): succeeded"}, hookResults(cs)); d != "" {
		t.Errorf("hooks (-want +got):\n%s", d)
	}
	if got, ok := changes(cs)["Job/"+ns+"/setup"]; ok {
		t.Errorf("the hook is an object of the ChangeSet: %s", got)
	}
	inv, err := c.Inventory(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"ConfigMap/" + ns + "/main"}, refStrings(inv.Objects)); d != "" {
		t.Errorf("inventory (-want +got):\n%s", d)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, configMap("main", "")), hookOpts()); err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.Client.BatchV1().Jobs(ns).Get(ctx, "setup", metav1.GetOptions{}); err != nil {
		t.Errorf("the hook Job was pruned: %v", err)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, hook), hookOpts()); !errors.Is(err, ErrEmptyRender) {
		t.Errorf("an app of hooks only: error %v, want ErrEmptyRender", err)
	}
}

func refStrings(refs []ObjectRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out
}

// TestBadHookAnnotationChangesNothing: a hook weight that is not an
// integer fails the diff and the apply before anything is written, naming
// the object and the annotation.
func TestBadHookAnnotationChangesNothing(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	objs := objects(t, ns, docs(
		hookJob("migrate", `helm.sh/hook: pre-install, helm.sh/hook-weight: "first"`, "migrate:1", false),
		configMap("main", "")))
	want := "Job/" + ns + `/migrate: annotation helm.sh/hook-weight: "first" is not an integer`
	set, err := c.Diff(ctx, app, objs, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if set.Error != want {
		t.Errorf("diff error %q, want %q", set.Error, want)
	}
	if _, err := c.Apply(ctx, app, objs, hookOpts()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("apply error %v, want it to hold %q", err, want)
	}
	if exists(t, ns, "main") {
		t.Error("the apply wrote objects before refusing the annotation")
	}
}
