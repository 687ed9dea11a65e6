package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/preview"
)

const previewRepo = `version: 1
apps:
  - name: web
    path: apps/web
    namespace: NS
  - name: api
    path: apps/api
    namespace: NS
`

// previewFiles: web is a Deployment, a Service and a ConfigMap naming
// api's Service by its cluster DNS name.
var previewFiles = map[string]string{
	".gantry.yaml":      previewRepo,
	"apps/web/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  api: http://api.NS.svc.cluster.local:8080\n  color: blue\n",
	"apps/web/svc.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
	"apps/web/dep.yaml": deployment("nginx:1.27", false),
	"apps/api/cm.yaml":  configMap("api-config", "one"),
}

const previewServer = "previews: {enabled: true, clusters: [local], ttl: 24h}\n"

// previewComment is gantry's preview comment on pr, "" when there is none.
func (l *live) previewComment(pr int) string {
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" && strings.HasPrefix(c.Body, "<!-- gantry:preview ") {
			return c.Body
		}
	}
	return ""
}

// gone says whether namespace ns is deleted or being deleted.
func gone(t *testing.T, ns string) bool {
	n, err := kube.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return n.DeletionTimestamp != nil
}

// cleanupNamespace deletes ns when the test ends, whatever it left, and
// waits until it is gone: the next test's pull request of the same number
// gets the same preview namespace.
func cleanupNamespace(t *testing.T, ns string) {
	t.Cleanup(func() {
		_ = kube.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		waitFor(t, "namespace "+ns+" gone", func() bool {
			_, err := kube.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
	})
}

func TestPreviewCommandAppliesUpdatesOnPushAndDeletesOnClose(t *testing.T) {
	l := startServer(t, previewFiles, previewServer)
	for login, role := range map[string]string{"alice": "write", "maria": "maintain"} {
		if err := l.sim.SetPermission("acme", "ops", login, role); err != nil {
			t.Fatal(err)
		}
	}
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "green", Base: "main", Title: "green",
		Files: map[string]string{"apps/web/cm.yaml": strings.ReplaceAll(previewFiles["apps/web/cm.yaml"], "NS", l.ns) + "  extra: one\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	ns := preview.Namespace("acme/ops", pr, "web")
	cleanupNamespace(t, ns)

	// The author may push, but the server's default permissions keep
	// previews, like applies, to maintainers.
	l.answer(t, "alice", pr, "/gantry preview", "❌ not allowed: your role on acme/ops is \"write\"")
	if !gone(t, ns) {
		t.Fatalf("namespace %s exists after a refused command", ns)
	}

	l.answer(t, "maria", pr, "/gantry preview", "") // the 👀 and then the preview comment
	waitFor(t, "the preview comment", func() bool { return strings.Contains(l.previewComment(pr), "✅ healthy") })
	body := l.previewComment(pr)
	for _, want := range []string{"### gantry · previews of #", "| `web` | `" + ns + "` | `local` | ✅ healthy | `" + head[:7] + "` | `web." + ns + ".svc.cluster.local:80` |"} {
		if !strings.Contains(body, want) {
			t.Errorf("preview comment lacks %q:\n%s", want, body)
		}
	}
	ctx := context.Background()
	n, err := kube.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels[cluster.RepositoryLabel] != cluster.RepositoryHash("acme/ops") || n.Annotations[cluster.RepositoryAnnotation] != "acme/ops" ||
		n.Labels[cluster.PreviewPRLabel] == "" || n.Labels[cluster.PreviewAppLabel] != "web" || n.Labels["pod-security.kubernetes.io/enforce"] != "baseline" {
		t.Errorf("preview namespace does not carry the repository's identity: %v %v", n.Labels, n.Annotations)
	}
	if _, err := kube.Client.CoreV1().ResourceQuotas(ns).Get(ctx, cluster.PreviewGuardName, metav1.GetOptions{}); err != nil {
		t.Errorf("no ResourceQuota in the preview: %v", err)
	}
	if _, err := kube.Client.CoreV1().LimitRanges(ns).Get(ctx, cluster.PreviewGuardName, metav1.GetOptions{}); err != nil {
		t.Errorf("no LimitRange in the preview: %v", err)
	}
	cm, err := kube.Client.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://api." + ns + ".svc.cluster.local:8080"; cm.Data["api"] != want || cm.Data["extra"] != "one" {
		t.Errorf("preview ConfigMap data %v: want api %q and the head's extra", cm.Data, want)
	}
	// Production was not touched.
	if _, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(ctx, "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the app's own namespace got web-config: %v", err)
	}

	// A push updates the preview and its comment.
	second, err := l.sim.Push("alice", "acme", "ops", "green", map[string]string{"apps/web/cm.yaml": strings.ReplaceAll(previewFiles["apps/web/cm.yaml"], "NS", l.ns) + "  extra: two\n"}, nil, "two")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the preview updated", func() bool {
		cm, err := kube.Client.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
		return err == nil && cm.Data["extra"] == "two"
	})
	waitFor(t, "the comment updated", func() bool { return strings.Contains(l.previewComment(pr), "`"+second[:7]+"`") })
	if n := strings.Count(strings.Join(commentBodies(l, pr), "\n"), "<!-- gantry:preview "); n != 1 {
		t.Errorf("%d preview comments, want one edited in place", n)
	}

	// Closing deletes the namespace and says so.
	if err := l.sim.ClosePR("alice", "acme", "ops", pr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the preview deleted", func() bool { return gone(t, ns) })
	waitFor(t, "the comment says so", func() bool {
		return strings.Contains(l.previewComment(pr), "🗑️ deleted") && strings.Contains(l.previewComment(pr), "the pull request closed")
	})
	if errs := l.sim.Errors(); len(errs) > 0 {
		t.Errorf("simulator errors: %v", errs)
	}
}

func commentBodies(l *live, pr int) []string {
	var out []string
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		out = append(out, c.Body)
	}
	return out
}

// refusedPreview opens a pull request changing files, has maria (who
// must maintain the repository) ask for web's preview once it is planned,
// and returns the preview namespace and gantry's preview comment once it
// says the preview was refused. The namespace is deleted when the test
// ends, whatever became of it.
func (l *live) refusedPreview(t *testing.T, branch string, files map[string]string) (string, string) {
	t.Helper()
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: branch, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	ns := preview.Namespace("acme/ops", pr, "web")
	cleanupNamespace(t, ns)
	l.answer(t, "maria", pr, "/gantry preview web", "")
	waitFor(t, "the refusal", func() bool { return strings.Contains(l.previewComment(pr), "⛔ refused") })
	return ns, l.previewComment(pr)
}

func TestPreviewRefusesWhatWouldEscapeItsNamespace(t *testing.T) {
	files := map[string]string{
		".gantry.yaml":     previewRepo,
		"apps/web/cm.yaml": configMap("web-config", "one"),
		"apps/api/cm.yaml": configMap("api-config", "one"),
	}
	l := startServer(t, files, previewServer)
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	// The pull request's render grants itself cluster-admin, cluster-wide
	// and in its namespace, and brings a quota of its own.
	evil := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: web-`admin`<!--\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default, namespace: NS}]\n" +
		"---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n  name: web-admin\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: default}]\n" +
		"---\napiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: gantry-preview\nspec: {hard: {pods: '1000'}}\n"
	ns, body := l.refusedPreview(t, "evil", map[string]string{"apps/web/rbac.yaml": strings.ReplaceAll(evil, "NS", l.ns)})
	for _, want := range []string{
		"- ClusterRoleBinding/web-'admin'&lt;!--: cluster-scoped: a preview creates objects in its own namespace only",
		`- RoleBinding/` + l.ns + `/web-admin: binds the ClusterRole "cluster-admin", which the server does not allow previews to bind (previews.clusterRoles)`,
		"- ResourceQuota/" + l.ns + "/gantry-preview: a preview's quota and limits are the server's",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("refusal lacks %q:\n%s", want, body)
		}
	}
	if strings.Count(body, "<!--") != 1 {
		t.Errorf("the comment carries an HTML comment besides its marker:\n%s", body)
	}
	if !gone(t, ns) {
		t.Errorf("namespace %s was created for a refused preview", ns)
	}
	if _, err := kube.Client.RbacV1().ClusterRoleBindings().Get(context.Background(), "web-`admin`<!--", metav1.GetOptions{}); err == nil {
		t.Error("the ClusterRoleBinding was applied")
	}
}

func TestPreviewNeverTakesOverANamespaceItDoesNotOwn(t *testing.T) {
	l := startServer(t, previewFiles, previewServer)
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "b", Base: "main", Title: "b",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "two")}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	// Another pull request's preview (or anyone's namespace) already has
	// the name: an app name crafted to reach it, or a hash collision.
	ns := preview.Namespace("acme/ops", pr, "api")
	cleanupNamespace(t, ns)
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{
		cluster.PreviewLabel: "true", cluster.PreviewPRLabel: "999", cluster.PreviewAppLabel: "api", cluster.RepositoryLabel: cluster.RepositoryHash("acme/ops")},
		Annotations: map[string]string{cluster.RepositoryAnnotation: "acme/ops"}}}
	if _, err := kube.Client.CoreV1().Namespaces().Create(context.Background(), other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.answer(t, "maria", pr, "/gantry preview api", "")
	waitFor(t, "the refusal", func() bool { return strings.Contains(l.previewComment(pr), "⛔ refused") })
	if body := l.previewComment(pr); !strings.Contains(body, "exists and is not this preview's: it is never taken over") {
		t.Errorf("refusal does not say why:\n%s", body)
	}
	n, err := kube.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil || n.Labels[cluster.PreviewPRLabel] != "999" {
		t.Errorf("the other namespace was changed: %v %v", n.Labels, err)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), "api-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("api-config was applied into a namespace the preview does not own: %v", err)
	}
	// `/gantry preview off` does not delete it either: it is not this
	// pull request's.
	l.answer(t, "maria", pr, "/gantry preview off", "this pull request has no preview.")
	if gone(t, ns) {
		t.Error("preview off deleted another's namespace")
	}
}

func TestPreviewQuotasAndForksAreRefused(t *testing.T) {
	l := startServer(t, previewFiles, "previews: {enabled: true, clusters: [local], maxPerRepository: 1, maxObjects: 2}\n")
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "q", Base: "main", Title: "q",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "two"), "apps/web/cm.yaml": configMap("web-config", "two")}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	cleanupNamespace(t, preview.Namespace("acme/ops", pr, "api"))
	cleanupNamespace(t, preview.Namespace("acme/ops", pr, "web"))
	l.answer(t, "maria", pr, "/gantry preview", "")
	waitFor(t, "the comment", func() bool { return strings.Contains(l.previewComment(pr), "⛔ refused") })
	body := l.previewComment(pr)
	// api (one object) fits; web (three) is over maxObjects; and with api's
	// preview the repository is at maxPerRepository.
	for _, want := range []string{
		"| `api` | `" + preview.Namespace("acme/ops", pr, "api") + "` | `local` | ✅ healthy |",
		"the app renders 3 objects, more than the 2 a preview may hold (previews.maxObjects)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("comment lacks %q:\n%s", want, body)
		}
	}
	if !gone(t, preview.Namespace("acme/ops", pr, "web")) {
		t.Error("web's preview was created over maxObjects")
	}
	// A second pull request finds the repository's one preview taken.
	pr2, head2, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "q2", Base: "main", Title: "q2",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "three")}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head2) })
	cleanupNamespace(t, preview.Namespace("acme/ops", pr2, "api"))
	l.answer(t, "maria", pr2, "/gantry preview", "")
	waitFor(t, "the quota refusal", func() bool {
		return strings.Contains(l.previewComment(pr2), "quota: acme/ops already has 1 preview, the most the server allows (previews.maxPerRepository)")
	})
	if !gone(t, preview.Namespace("acme/ops", pr2, "api")) {
		t.Error("a preview was created over maxPerRepository")
	}
	// A fork's head never runs in the cluster.
	fork, err := l.sim.Fork("mallory", "acme", "ops")
	if err != nil {
		t.Fatal(err)
	}
	pr3, _, err := l.sim.OpenPR("mallory", "acme", "ops", githubsim.PullOptions{Head: "evil", HeadRepo: fork, Base: "main", Title: "evil",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "evil")}})
	if err != nil {
		t.Fatal(err)
	}
	l.answer(t, "maria", pr3, "/gantry preview api", "❌ a pull request from a fork is never previewed")
	if !gone(t, preview.Namespace("acme/ops", pr3, "api")) {
		t.Error("a fork's pull request was previewed")
	}
}

// label delivers the pull_request event of login adding (or removing) the
// label on pr, as GitHub sends it, after labelling the pull request (as
// maria: the simulator lets writers label; GitHub lets triagers too).
func (l *live) label(t *testing.T, login string, pr int, action, name string) {
	t.Helper()
	gh, err := github.NewClient(nil).WithAuthToken(l.sim.UserToken("maria")).WithEnterpriseURLs(l.sim.URL()+"/api/v3/", l.sim.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	if action == "labeled" {
		req, err := gh.NewRequest("POST", fmt.Sprintf("repos/acme/ops/issues/%d/labels", pr), map[string][]string{"labels": {name}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gh.Do(context.Background(), req, nil); err != nil {
			t.Fatal(err)
		}
	}
	var opened []byte
	for _, d := range l.sim.Deliveries() {
		if d.Event == "pull_request" && d.Action == "opened" && strings.Contains(string(d.Payload), fmt.Sprintf(`"number":%d,`, pr)) {
			opened = d.Payload
		}
	}
	if opened == nil {
		t.Fatalf("no opened delivery of #%d", pr)
	}
	var ev map[string]any
	if err := json.Unmarshal(opened, &ev); err != nil {
		t.Fatal(err)
	}
	ev["action"] = action
	ev["label"] = map[string]any{"id": 1, "node_id": "L_1", "url": l.sim.URL() + "/labels/x", "name": name, "color": "ededed", "default": false, "description": ""}
	sender, _ := ev["sender"].(map[string]any)
	sender["login"] = login
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	l.sim.Deliver("pull_request", payload)
}

func TestPreviewLabelAndTheResyncDeletingWhatIsStale(t *testing.T) {
	l := startServer(t, previewFiles, previewServer)
	for login, role := range map[string]string{"tom": "triage", "maria": "maintain"} {
		if err := l.sim.SetPermission("acme", "ops", login, role); err != nil {
			t.Fatal(err)
		}
	}
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "lbl", Base: "main", Title: "label",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "two")}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	api := preview.Namespace("acme/ops", pr, "api")
	web := preview.Namespace("acme/ops", pr, "web")
	cleanupNamespace(t, api)
	cleanupNamespace(t, web)
	// Labelling is a command by whoever labels: triage may label, but
	// previews take maintain.
	l.label(t, "tom", pr, "labeled", "gantry/preview")
	waitFor(t, "the refusal", func() bool { return l.botSays(pr, "@tom adding the label `gantry/preview`: ❌ not allowed") })
	if !gone(t, api) {
		t.Fatal("a triager's label made a preview")
	}
	// A maintainer's label previews the affected app, api.
	l.label(t, "maria", pr, "labeled", "gantry/preview")
	waitFor(t, "api's preview", func() bool {
		return strings.Contains(l.previewComment(pr), "| `api` | `"+api+"` | `local` | ✅ healthy |")
	})
	// With the label on, a push that changes web previews web too.
	if _, err := l.sim.Push("alice", "acme", "ops", "lbl", map[string]string{"apps/web/cm.yaml": configMap("web-config", "labelled")}, nil, "web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web's preview", func() bool {
		cm, err := kube.Client.CoreV1().ConfigMaps(web).Get(context.Background(), "web-config", metav1.GetOptions{})
		return err == nil && cm.Data["value"] == "labelled"
	})
	// Removing the label deletes both.
	l.label(t, "maria", pr, "unlabeled", "gantry/preview")
	waitFor(t, "previews deleted", func() bool { return gone(t, api) && gone(t, web) })

	// The resync deletes a preview past its TTL...
	if _, err := l.sim.Comment("maria", "acme", "ops", pr, "/gantry preview api"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "api's preview again", func() bool {
		n, err := kube.Client.CoreV1().Namespaces().Get(context.Background(), api, metav1.GetOptions{})
		return err == nil && n.DeletionTimestamp == nil && n.Annotations[cluster.PreviewHeadAnnotation] != ""
	})
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"2020-01-01T00:00:00Z"}}}`, cluster.PreviewUpdatedAnnotation)
	if _, err := kube.Client.CoreV1().Namespaces().Patch(context.Background(), api, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !gone(t, api) {
		t.Error("the resync kept a preview past its TTL")
	}
	if body := l.previewComment(pr); !strings.Contains(body, "🗑️ deleted") || !strings.Contains(body, "no update for 24 hours") {
		t.Errorf("the comment does not say the preview expired:\n%s", body)
	}
	// ...and one whose pull request closed while the delivery was lost.
	waitFor(t, "api's old namespace gone", func() bool {
		_, err := kube.Client.CoreV1().Namespaces().Get(context.Background(), api, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	if _, err := l.sim.Comment("maria", "acme", "ops", pr, "/gantry preview api"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "api's preview a third time", func() bool {
		n, err := kube.Client.CoreV1().Namespaces().Get(context.Background(), api, metav1.GetOptions{})
		return err == nil && n.DeletionTimestamp == nil
	})
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if gone(t, api) {
		t.Fatal("the resync deleted a fresh preview of an open pull request")
	}
	if !gone(t, web) {
		t.Error("`/gantry preview api` previewed web too")
	}
	l.sim.SetWebhook("", "")
	if err := l.sim.ClosePR("alice", "acme", "ops", pr); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !gone(t, api) {
		t.Error("the resync kept the preview of a closed pull request")
	}
}

func TestPreviewResourceQuotaRefusesALoadBalancer(t *testing.T) {
	l := startServer(t, previewFiles, previewServer)
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	// The default quota allows no LoadBalancer Service: it would take an
	// address outside the namespace.
	lb := "apiVersion: v1\nkind: Service\nmetadata:\n  name: api-public\nspec:\n  type: LoadBalancer\n  selector: {app: api}\n  ports: [{port: 443}]\n"
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "lb", Base: "main", Title: "lb",
		Files: map[string]string{"apps/api/lb.yaml": lb}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	ns := preview.Namespace("acme/ops", pr, "api")
	cleanupNamespace(t, ns)
	l.answer(t, "maria", pr, "/gantry preview", "")
	waitFor(t, "the failure", func() bool { return strings.Contains(l.previewComment(pr), "❌ failed") })
	body := l.previewComment(pr)
	if !strings.Contains(body, "exceeded quota: gantry-preview") || !strings.Contains(body, "services.loadbalancers") {
		t.Errorf("the comment does not say the quota refused the Service:\n%s", body)
	}
	if _, err := kube.Client.CoreV1().Services(ns).Get(context.Background(), "api-public", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the LoadBalancer Service exists in the preview: %v", err)
	}
	// What fits the quota is there.
	if _, err := kube.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), "api-config", metav1.GetOptions{}); err != nil {
		t.Errorf("api-config is not in the preview: %v", err)
	}
}
