package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/localcluster"
	"github.com/gantryops/gantry/render"
)

// grant is one verb on one resource, as RBAC rules grant it.
type grant struct{ group, resource, verb string }

func (g grant) String() string {
	if g.group == "" {
		return g.verb + " " + g.resource
	}
	return g.verb + " " + g.resource + "." + g.group
}

// unexercised are grants of the chart the story does not use, each with
// the reason it is still needed and the test that uses it.
var unexercised = map[string]string{
	"get":    "an object whose CRD the same apply creates is read back once its kind resolves; a hook Job is read until it completes (cluster's CRD and hook tests)",
	"delete": "prune and hooks (bot TestChartRBACIsEnoughForTheBot prunes as the chart's ServiceAccount; cluster's hook tests)",
}

// TestStoryAsTheChartServiceAccount plays the whole story with the bot
// reaching the cluster as the chart's ServiceAccount (impersonated, with
// only the chart's ClusterRole and Role), leader election on and its
// state in the release namespace, as the chart installs it: apply, the
// drift watch, drift and revert pull requests, locks, records and the
// Lease. The API server's audit log then proves the RBAC sufficient (the
// ServiceAccount was refused nothing) and minimal (every verb on every
// resource the chart grants for gantry's own state was used, and every
// verb it grants on the repository's kinds was used on some kind).
func TestStoryAsTheChartServiceAccount(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "audit.log")
	const release = "gantry"
	var sa string
	var clusterRules, roleRules []rbacv1.PolicyRule
	serveAs := func(ctx context.Context, c *localcluster.Cluster) (string, string, error) {
		if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: release}}, metav1.CreateOptions{}); err != nil {
			return "", "", err
		}
		chart := config.App{Name: "gantry", Path: "charts/gantry", Render: config.RenderHelm, Namespace: release,
			Helm: &config.Helm{ReleaseName: release, Set: map[string]string{"github.appID": "42", "github.existingSecret": "gh"}}}
		objs, _, err := render.Render(ctx, "..", chart)
		if err != nil {
			return "", "", err
		}
		var rbac []*unstructured.Unstructured
		for _, o := range objs {
			switch o.GetKind() {
			case "ServiceAccount":
				sa = o.GetName()
			case "ClusterRole":
				clusterRules = rulesOf(t, o)
			case "Role":
				roleRules = rulesOf(t, o)
			case "ClusterRoleBinding", "RoleBinding":
			default:
				continue
			}
			rbac = append(rbac, o)
		}
		admin, err := cluster.NewClient(c.Config, cluster.DefaultClientOptions())
		if err != nil {
			return "", "", err
		}
		opts := cluster.DefaultApplyOptions("gantryops/gantry")
		opts.Wait = false
		if _, err := admin.Apply(ctx, chart, rbac, opts); err != nil {
			return "", "", err
		}
		kc, err := clientcmd.LoadFromFile(c.Kubeconfig)
		if err != nil {
			return "", "", err
		}
		for _, ai := range kc.AuthInfos {
			ai.Impersonate = fmt.Sprintf("system:serviceaccount:%s:%s", release, sa)
		}
		file := filepath.Join(c.Dir, "as-chart-serviceaccount.kubeconfig")
		return file, release, clientcmd.WriteToFile(*kc, file)
	}
	sb := start(t, Options{AuditLog: audit, ServeAs: serveAs})
	var out bytes.Buffer
	if err := Play(context.Background(), sb, &out, PlayOptions{StepTimeout: 2 * time.Minute}); err != nil {
		t.Fatalf("the story as the chart's ServiceAccount: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "✓ as expected"); n != 6 {
		t.Errorf("%d steps behaved, want 6\n%s", n, out.String())
	}
	events, err := localcluster.ReadAudit(audit)
	if err != nil {
		t.Fatal(err)
	}
	who := fmt.Sprintf("system:serviceaccount:%s:%s", release, sa)
	used := map[grant]bool{}    // anywhere
	usedOwn := map[grant]bool{} // in the release namespace
	verbs := map[string]bool{}  // used on the repository's kinds
	kinds := map[string]bool{}
	for _, r := range clusterRules {
		if !isOwnRead(r) {
			for _, res := range r.Resources {
				kinds[res] = true
			}
		}
	}
	var refused []string
	for _, e := range events {
		if e.As() != who || e.Resource == "" {
			continue
		}
		if e.Code == 403 {
			refused = append(refused, fmt.Sprintf("%s %s", e.Verb, e.URI))
			continue
		}
		r := e.Resource
		if e.Subresource != "" {
			r += "/" + e.Subresource
		}
		used[grant{e.Group, r, e.Verb}] = true
		if e.Namespace == release {
			usedOwn[grant{e.Group, r, e.Verb}] = true
		}
		if kinds[e.Resource] && e.Namespace != release {
			verbs[e.Verb] = true
		}
	}
	if len(used) == 0 {
		t.Fatalf("no request as %s in the audit log: the bot did not act as the ServiceAccount", who)
	}
	if len(refused) > 0 {
		t.Errorf("the chart's RBAC refused the bot %d requests:\n%s", len(refused), strings.Join(refused, "\n"))
	}
	// gantry's own state (the Role) and what it reads to explain health
	// (events and pods): every verb on every resource is used.
	var unused []string
	for _, g := range grants(roleRules) {
		if !usedOwn[g] {
			unused = append(unused, g.String()+" in the release namespace")
		}
	}
	for _, g := range grants(ownReads(clusterRules)) {
		if !used[g] {
			unused = append(unused, g.String())
		}
	}
	// The repository's kinds: gantry needs one set of verbs on every
	// kind it manages, so each verb granted is used on some kind.
	for _, r := range clusterRules {
		if isOwnRead(r) {
			continue
		}
		for _, v := range r.Verbs {
			if !verbs[v] && unexercised[v] == "" && !slices.Contains(unused, v+" on the repository's kinds") {
				unused = append(unused, v+" on the repository's kinds")
			}
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		var seen []string
		for g := range used {
			seen = append(seen, g.String())
		}
		sort.Strings(seen)
		t.Errorf("the chart grants what the story never used (take it out, or say why in unexercised):\n%s\nused:\n%s",
			strings.Join(unused, "\n"), strings.Join(seen, "\n"))
	}
}

func rulesOf(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	var r rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r); err != nil {
		t.Fatal(err)
	}
	return r.Rules
}

// isOwnRead is the chart's rule for what gantry reads to explain an
// unhealthy object: pods and events, read-only.
func isOwnRead(r rbacv1.PolicyRule) bool {
	return slices.Equal(r.APIGroups, []string{""}) && slices.Contains(r.Resources, "events") && !slices.Contains(r.Verbs, "patch")
}

func ownReads(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	return slices.DeleteFunc(slices.Clone(rules), func(r rbacv1.PolicyRule) bool { return !isOwnRead(r) })
}

func grants(rules []rbacv1.PolicyRule) []grant {
	var out []grant
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, grant{g, res, v})
				}
			}
		}
	}
	return out
}
