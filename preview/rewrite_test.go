package preview

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// kinds is a cluster's view of a few kinds: namespaced or not; anything
// else is not served.
func kinds(gvk schema.GroupVersionKind) (bool, error) {
	switch gvk.Kind {
	case "ResourceQuota", "LimitRange", "ConfigMap", "Service", "Deployment", "RoleBinding", "Role", "Ingress", "PersistentVolumeClaim", "Secret":
		return true, nil
	case "ClusterRole", "ClusterRoleBinding", "Namespace", "CustomResourceDefinition":
		return false, nil
	}
	return false, errors.New("no matches for kind " + gvk.Kind)
}

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestNamespaceIsADNSLabelPerRepositoryPullRequestAndApp(t *testing.T) {
	long := strings.Repeat("a", 63)
	names := map[string]string{
		"web":              Namespace("acme/ops", 12, "web"),
		"web, other repo":  Namespace("acme/other", 12, "web"),
		"web, repo case":   Namespace("ACME/Ops", 12, "web"),
		"web, pr 1":        Namespace("acme/ops", 1, "web"),
		"2-web, pr 1":      Namespace("acme/ops", 1, "2-web"),
		"web, pr 12 api":   Namespace("acme/ops", 12, "api"),
		"long":             Namespace("acme/ops", 12, long),
		"long, one longer": Namespace("acme/ops", 12, long+"b"),
		"crafted":          Namespace("acme/ops", 1, "2-web-"+Namespace("acme/ops", 12, "web")[len("gantry-pr-12-web-"):]),
	}
	if names["web"] != names["web, repo case"] {
		t.Errorf("repository case changes the namespace: %s vs %s", names["web"], names["web, repo case"])
	}
	delete(names, "web, repo case")
	seen := map[string]string{}
	for what, n := range names {
		if other, ok := seen[n]; ok {
			t.Errorf("%s and %s share the namespace %s", what, other, n)
		}
		seen[n] = what
		if len(n) > MaxNamespace || !dnsLabel(n) || !strings.HasPrefix(n, "gantry-pr-") {
			t.Errorf("%s: %q is not a gantry preview DNS label of at most %d characters", what, n, MaxNamespace)
		}
	}
	if !strings.HasPrefix(names["web"], "gantry-pr-12-web-") {
		t.Errorf("namespace %q does not say the pull request and app", names["web"])
	}
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	return dnsOnly(s) == s
}

func TestRewrite(t *testing.T) {
	const ns = "gantry-pr-7-web-0123456789"
	base := Options{Namespace: ns, SourceNamespaces: []string{"prod"}, ClusterRoles: []string{"view"}, IngressDomain: "preview.example.com"}
	tests := []struct {
		name    string
		opts    func(Options) Options
		in      []string
		want    []string // the objects kept, as YAML
		refused []string
		notes   int
		hosts   []string
	}{
		{
			name: "namespaced objects move into the preview, with or without a namespace",
			in: []string{
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: prod}\ndata: {x: y}",
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: y}",
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: kube-system}\ndata: {x: y}",
			},
			want: []string{
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: " + ns + "}\ndata: {x: y}",
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: " + ns + "}\ndata: {x: y}",
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: " + ns + "}\ndata: {x: y}",
			},
		},
		{
			name: "service DNS names of the app's namespaces are rewritten, others kept",
			in:   []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: prod}\ndata:\n  db: postgres://db.prod.svc.cluster.local:5432/x\n  api: http://api.prod.svc:80\n  ext: http://api.shared.svc:80\n  near: api.prod.svcx\n"},
			want: []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: " + ns + "}\ndata:\n  db: postgres://db." + ns + ".svc.cluster.local:5432/x\n  api: http://api." + ns + ".svc:80\n  ext: http://api.shared.svc:80\n  near: api.prod.svcx\n"},
		},
		{
			name:    "cluster-scoped objects are refused",
			in:      []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: web}\nrules: []"},
			refused: []string{"ClusterRole/web: cluster-scoped: a preview creates objects in its own namespace only"},
		},
		{
			name:  "or skipped when the server says so",
			opts:  func(o Options) Options { o.SkipClusterScoped = true; return o },
			in:    []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: web}\nroleRef: {kind: ClusterRole, name: cluster-admin}"},
			notes: 1,
		},
		{
			name:  "the app's Namespace object is dropped for the preview's",
			in:    []string{"apiVersion: v1\nkind: Namespace\nmetadata: {name: prod}"},
			notes: 1,
		},
		{
			name:    "a kind the cluster does not serve is refused",
			in:      []string{"apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}"},
			refused: []string{"Widget/w: the cluster does not serve this kind (no matches for kind Widget)"},
		},
		{
			name:    "a RoleBinding to a ClusterRole the server does not list is refused",
			in:      []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: prod}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: web, namespace: prod}]"},
			refused: []string{`RoleBinding/prod/rb: binds the ClusterRole "cluster-admin", which the server does not allow previews to bind (previews.clusterRoles)`},
		},
		{
			name: "a RoleBinding to a listed ClusterRole binds the preview's ServiceAccount",
			in:   []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: prod}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{kind: ServiceAccount, name: web, namespace: prod}, {kind: ServiceAccount, name: w2}, {kind: User, name: bob}]"},
			want: []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: " + ns + "}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{kind: ServiceAccount, name: web, namespace: " + ns + "}, {kind: ServiceAccount, name: w2, namespace: " + ns + "}, {kind: User, name: bob}]"},
		},
		{
			name:    "a RoleBinding granting another namespace's ServiceAccount is refused",
			in:      []string{"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb, namespace: prod}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\nsubjects: [{kind: ServiceAccount, name: default, namespace: kube-system}]"},
			refused: []string{"RoleBinding/prod/rb: grants the ServiceAccount kube-system/default, outside the preview"},
		},
		{
			name:  "Ingress hosts move under the preview domain",
			in:    []string{"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: prod}\nspec:\n  tls: [{hosts: [www.acme.com], secretName: tls}]\n  rules: [{host: www.acme.com}]"},
			want:  []string{"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web, namespace: " + ns + "}\nspec:\n  tls: [{hosts: [www-" + ns + ".preview.example.com], secretName: tls}]\n  rules: [{host: www-" + ns + ".preview.example.com}]"},
			hosts: []string{"www-" + ns + ".preview.example.com"},
		},
		{
			name:    "without a preview domain an Ingress is refused",
			opts:    func(o Options) Options { o.IngressDomain = ""; return o },
			in:      []string{"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  rules: [{host: www.acme.com}]"},
			refused: []string{"Ingress/web: an Ingress would answer for production's hosts; the server sets no previews.ingressDomain to host previews under"},
		},
		{
			name:    "a wildcard or missing host is refused",
			in:      []string{"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: a}\nspec:\n  rules: [{host: '*.acme.com'}]", "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: b}\nspec:\n  rules: [{http: {}}]"},
			refused: []string{`Ingress/a: the wildcard host "*.acme.com" cannot be previewed`, "Ingress/b: a rule without a host answers for every host; a preview needs one"},
		},
		{
			name:    "the render cannot bring its own quota or limits",
			in:      []string{"apiVersion: v1\nkind: ResourceQuota\nmetadata: {name: gantry-preview}\nspec: {hard: {pods: '1000'}}", "apiVersion: v1\nkind: LimitRange\nmetadata: {name: x}"},
			refused: []string{"ResourceQuota/gantry-preview: a preview's quota and limits are the server's (previews.quota, previews.limits)", "LimitRange/x: a preview's quota and limits are the server's (previews.quota, previews.limits)"},
		},
		{
			name:    "a claim of an existing volume is refused",
			in:      []string{"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {volumeName: prod-db-pv}"},
			refused: []string{`PersistentVolumeClaim/data: binds the PersistentVolume "prod-db-pv" by name: a preview claims new volumes only`},
		},
		{
			name:    "more objects than the server allows are refused as a whole",
			opts:    func(o Options) Options { o.MaxObjects = 1; return o },
			in:      []string{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}"},
			refused: []string{"the app renders 2 objects, more than the 1 a preview may hold (previews.maxObjects)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			if tt.opts != nil {
				opts = tt.opts(opts)
			}
			var in []*unstructured.Unstructured
			for _, y := range tt.in {
				in = append(in, obj(t, y))
			}
			before := make([]*unstructured.Unstructured, len(in))
			for i, u := range in {
				before[i] = u.DeepCopy()
			}
			res := Rewrite(in, opts, kinds)
			var want []map[string]any
			for _, y := range tt.want {
				want = append(want, obj(t, y).Object)
			}
			var got []map[string]any
			for _, u := range res.Objects {
				got = append(got, u.Object)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("objects (-want +got):\n%s", d)
			}
			var refused []string
			for _, r := range res.Refused {
				refused = append(refused, r.String())
			}
			if d := cmp.Diff(tt.refused, refused); d != "" {
				t.Errorf("refused (-want +got):\n%s", d)
			}
			if len(res.Notes) != tt.notes {
				t.Errorf("notes %q, want %d", res.Notes, tt.notes)
			}
			if d := cmp.Diff(tt.hosts, res.Hosts); d != "" {
				t.Errorf("hosts (-want +got):\n%s", d)
			}
			for i := range in {
				if d := cmp.Diff(before[i].Object, in[i].Object); d != "" {
					t.Errorf("the render was changed in place:\n%s", d)
				}
			}
		})
	}
}

func TestServiceNames(t *testing.T) {
	in := []*unstructured.Unstructured{
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: p}\nspec: {ports: [{port: 80}, {port: 443}]}"),
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: p}\nspec: {clusterIP: None, ports: [{port: 5432}]}"),
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: ext, namespace: p}\nspec: {type: ExternalName, externalName: example.com}"),
		obj(t, "apiVersion: v1\nkind: Service\nmetadata: {name: bare, namespace: p}\nspec: {}"),
		obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: p}"),
	}
	want := []string{"bare.p.svc.cluster.local", "web.p.svc.cluster.local:80"}
	if d := cmp.Diff(want, ServiceNames(in)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
