package bot

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// TestChartRBACIsEnoughForTheBot: gantry serve, reaching the cluster as
// the chart's ServiceAccount (impersonated, with only the chart's
// ClusterRole and Role), applies a merge, prunes, waits for health, takes
// and releases locks and keeps its records in the release namespace.
func TestChartRBACIsEnoughForTheBot(t *testing.T) {
	ctx := context.Background()
	release := kube.Namespace(t) // where the chart is installed
	chart := config.App{Name: "gantry-rbac", Path: "charts/gantry", Render: config.RenderHelm, Namespace: release,
		Helm: &config.Helm{ReleaseName: "r" + release[len(release)-6:], Set: map[string]string{"github.appID": "42", "github.existingSecret": "gh"}}}
	objs, _, err := render.Render(ctx, "..", chart)
	if err != nil {
		t.Fatal(err)
	}
	var rbac []*unstructured.Unstructured
	sa := ""
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount":
			sa = o.GetName()
			rbac = append(rbac, o)
		case "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			rbac = append(rbac, o)
		}
	}
	admin, err := cluster.NewClient(kube.Config, cluster.DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	opts := cluster.DefaultApplyOptions("gantryops/gantry")
	opts.Wait = false
	if _, err := admin.Apply(ctx, chart, rbac, opts); err != nil {
		t.Fatal(err)
	}
	// A kubeconfig that acts as the chart's ServiceAccount.
	kc, err := clientcmd.LoadFromFile(kube.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, ai := range kc.AuthInfos {
		ai.Impersonate = fmt.Sprintf("system:serviceaccount:%s:%s", release, sa)
	}
	asSA := filepath.Join(t.TempDir(), "as-sa.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, asSA); err != nil {
		t.Fatal(err)
	}
	l := startServer(t, applyFiles, fmt.Sprintf("clusters: [{name: local, kubeconfig: %q}]\nstate: {namespace: %s}\n", asSA, release))
	_, first := l.mergePR(t, "v1", map[string]string{"apps/web/deploy.yaml": deployment("nginx:1", false), "apps/web/extra.yaml": configMap("web-extra", "x")})
	if c := l.applied(t, first); c.Conclusion != "success" {
		t.Fatalf("apply as the chart's ServiceAccount: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	pr, second := l.mergePR(t, "prune", nil, "apps/web/extra.yaml")
	if c := l.applied(t, second); c.Conclusion != "success" {
		t.Fatalf("pruning apply as the chart's ServiceAccount: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
	waitFor(t, "apply comment", func() bool { return l.botComment(pr, "applied at") != "" })
	// The records and inventories are in the release namespace, where the
	// chart's Role grants them; none in gantry-system.
	c, err := l.srv.pipe.Clusters.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Records(ctx, "acme/ops", "web")
	if err != nil || len(rs.History) != 2 {
		t.Fatalf("records in %s: %+v %v", release, rs, err)
	}
	cms, err := kube.Client.CoreV1().ConfigMaps(release).List(ctx, listBy(cluster.RepositoryLabel+"="+cluster.RepositoryHash("acme/ops")))
	if err != nil || len(cms.Items) < 2 {
		t.Errorf("inventory and records in %s: %v %v", release, len(cms.Items), err)
	}
	logs := l.logs.String()
	if strings.Contains(logs, "forbidden") {
		t.Errorf("the ServiceAccount was refused something:\n%s", grepLines(logs, "forbidden"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func listBy(selector string) metav1.ListOptions { return metav1.ListOptions{LabelSelector: selector} }
