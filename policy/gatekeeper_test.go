package policy

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Templates in the style of the Gatekeeper library, written for these tests.
var gatekeeperPolicies = map[string]string{
	"requiredlabels/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels

        violation[{"msg": msg, "details": {"missing_labels": missing}}] {
          provided := {l | input.review.object.metadata.labels[l]}
          required := {l | l := input.parameters.labels[_].key}
          missing := required - provided
          count(missing) > 0
          msg := sprintf("missing required labels: %v", [sort(missing)])
        }

        violation[{"msg": msg}] {
          value := input.review.object.metadata.labels[key]
          want := input.parameters.labels[_]
          want.key == key
          want.allowedRegex != ""
          not regex.match(want.allowedRegex, value)
          msg := sprintf("label %v=%v does not match %v", [key, value, want.allowedRegex])
        }
`,
	"requiredlabels/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata:
  name: must-have-owner
spec:
  match:
    kinds:
      - apiGroups: ["apps"]
        kinds: ["Deployment"]
    excludedNamespaces: ["kube-*"]
  parameters:
    labels:
      - key: owner
        allowedRegex: "^team-[a-z]+$"
`,
	"allowedrepos/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sallowedrepos
spec:
  crd:
    spec:
      names:
        kind: K8sAllowedRepos
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: Rego
          source:
            version: v1
            rego: |
              package k8sallowedrepos

              import data.lib.pods

              violation contains {"msg": msg} if {
                some c in pods.containers(input.review.object)
                not allowed(c.image)
                msg := sprintf("container %v uses image %v from a repository not in %v", [c.name, c.image, input.parameters.repos])
              }

              allowed(image) if {
                some prefix in input.parameters.repos
                startswith(image, prefix)
              }
            libs:
              - |
                package lib.pods

                containers(obj) := obj.spec.containers if obj.kind == "Pod"

                containers(obj) := obj.spec.template.spec.containers if obj.kind != "Pod"
`,
	"allowedrepos/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sAllowedRepos
metadata:
  name: acme-only
spec:
  match:
    kinds:
      - apiGroups: ["apps", ""]
        kinds: ["Deployment", "Pod"]
    namespaces: ["shop"]
  parameters:
    repos: ["ghcr.io/acme/"]
`,
	"limits/template.yaml": `apiVersion: templates.gatekeeper.sh/v1beta1
kind: ConstraintTemplate
metadata:
  name: k8scontainerlimits
spec:
  crd:
    spec:
      names:
        kind: K8sContainerLimits
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8scontainerlimits

        violation[{"msg": msg}] {
          c := input.review.object.spec.template.spec.containers[_]
          r := input.parameters.resources[_]
          not c.resources.limits[r]
          msg := sprintf("container %v has no %v limit", [c.name, r])
        }
`,
	"limits/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sContainerLimits
metadata:
  name: prod-limits
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: ["apps"], kinds: ["Deployment"]}]
    namespaceSelector:
      matchLabels: {env: prod}
  parameters:
    resources: [cpu, memory]
`,
	"uniqueingress/template.yaml": `apiVersion: templates.gatekeeper.sh/v1beta1
kind: ConstraintTemplate
metadata:
  name: k8suniqueingresshost
spec:
  crd:
    spec:
      names:
        kind: K8sUniqueIngressHost
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8suniqueingresshost

        same(other, review) {
          other.metadata.namespace == review.namespace
          other.metadata.name == review.name
        }

        violation[{"msg": msg}] {
          host := input.review.object.spec.rules[_].host
          other := data.inventory.namespace[ns][gv]["Ingress"][name]
          not same(other, input.review)
          other.spec.rules[_].host == host
          msg := sprintf("host %v is also used by ingress %v/%v", [host, ns, name])
        }
`,
	"uniqueingress/constraint.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sUniqueIngressHost
metadata:
  name: unique-hosts
spec:
  match:
    kinds: [{apiGroups: ["networking.k8s.io"], kinds: ["Ingress"]}]
`,
	"nodeport/all.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sblocknodeport
spec:
  crd:
    spec:
      names:
        kind: K8sBlockNodePort
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sblocknodeport

        violation[{"msg": "NodePort services are not allowed"}] {
          input.review.object.spec.type == "NodePort"
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sBlockNodePort
metadata:
  name: no-nodeport
spec:
  enforcementAction: dryrun
  match:
    kinds: [{apiGroups: [""], kinds: ["Service"]}]
`,
	// Samples kept next to the templates are not data.
	"nodeport/samples/example_disallowed.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: NodePort}\n",
	"nodeport/samples/example_allowed.yaml":    "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP}\n",
}

func deployment(ns, name, owner, image string, limits bool) string {
	labels := "{}"
	if owner != "" {
		labels = "{owner: " + owner + "}"
	}
	res := "{}"
	if limits {
		res = "{limits: {cpu: 100m, memory: 64Mi}}"
	}
	return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: ` + ns + `, labels: ` + labels + `}
spec:
  template:
    spec:
      containers: [{name: app, image: "` + image + `", resources: ` + res + `}]
`
}

func ingress(ns, name, host string) string {
	return `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec: {rules: [{host: ` + host + `}]}
`
}

func TestGatekeeper(t *testing.T) {
	e := load(t, Source{}, gatekeeperPolicies)
	in := Input{
		Objects: []Object{
			{Obj: obj(t, "{apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {env: prod}}}")},
			{Obj: obj(t, "{apiVersion: v1, kind: Namespace, metadata: {name: dev, labels: {env: dev}}}")},
			{Obj: obj(t, deployment("shop", "api", "team-a", "ghcr.io/acme/api:1", true))},
			{Obj: obj(t, deployment("shop", "worker", "", "docker.io/evil/miner:1", false)), Action: ActionUpdate},
			{Obj: obj(t, deployment("dev", "tool", "bob", "ghcr.io/acme/tool:1", false))},
			{Obj: obj(t, deployment("kube-system", "dns", "", "registry.k8s.io/dns:1", false))},
			{Obj: obj(t, ingress("shop", "a", "shop.example.com"))},
			{Obj: obj(t, ingress("dev", "b", "shop.example.com"))},
			{Obj: obj(t, ingress("shop", "c", "old.example.com"))},
			{Obj: obj(t, ingress("shop", "gone", "shop.example.com")), Action: ActionDelete, Live: obj(t, ingress("shop", "gone", "shop.example.com"))},
			{Obj: obj(t, "{apiVersion: v1, kind: Service, metadata: {name: np, namespace: shop}, spec: {type: NodePort}}")},
			{Obj: obj(t, "{apiVersion: v1, kind: Service, metadata: {name: ip, namespace: shop}, spec: {type: ClusterIP}}")},
		},
		Inventory: []*unstructured.Unstructured{obj(t, ingress("legacy", "old", "old.example.com"))},
	}
	res, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{"Deployment shop/worker", "K8sAllowedRepos/acme-only", SeverityDeny, "container app uses image docker.io/evil/miner:1 from a repository not in [\"ghcr.io/acme/\"]"},
		{"Deployment shop/worker", "K8sContainerLimits/prod-limits", SeverityWarn, "container app has no cpu limit"},
		{"Deployment shop/worker", "K8sContainerLimits/prod-limits", SeverityWarn, "container app has no memory limit"},
		{"Deployment shop/worker", "K8sRequiredLabels/must-have-owner", SeverityDeny, `missing required labels: ["owner"]`},
		{"Deployment dev/tool", "K8sRequiredLabels/must-have-owner", SeverityDeny, "label owner=bob does not match ^team-[a-z]+$"},
		{"Ingress shop/a", "K8sUniqueIngressHost/unique-hosts", SeverityDeny, "host shop.example.com is also used by ingress dev/b"},
		{"Ingress dev/b", "K8sUniqueIngressHost/unique-hosts", SeverityDeny, "host shop.example.com is also used by ingress shop/a"},
		{"Ingress shop/c", "K8sUniqueIngressHost/unique-hosts", SeverityDeny, "host old.example.com is also used by ingress legacy/old"},
		{"Service shop/np", "K8sBlockNodePort/no-nodeport", SeverityDryRun, "NodePort services are not allowed"},
	}
	if diff := cmp.Diff(want, briefs(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	var details map[string]any
	for _, f := range res.Findings {
		if f.Rule == "K8sRequiredLabels/must-have-owner" && f.Name == "worker" {
			details = f.Metadata
			if f.Policy != "policy/requiredlabels/template.yaml" {
				t.Errorf("policy = %q", f.Policy)
			}
		}
	}
	if diff := cmp.Diff(map[string]any{"details": map[string]any{"missing_labels": []any{"owner"}}}, details); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

func TestGatekeeperMatch(t *testing.T) {
	c := func(m gkMatch) *constraint {
		rc := &rawConstraint{kind: "K", name: "n", match: m}
		cc, err := newConstraint(rc, &template{})
		if err != nil {
			t.Fatal(err)
		}
		return cc
	}
	w := &world{namespaces: map[string]map[string]string{"shop": {"env": "prod"}}}
	pod := obj(t, "{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: shop, labels: {app: web}}}")
	podUnknownNS := obj(t, "{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: elsewhere}}")
	crole := obj(t, "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: r}}")
	ns := obj(t, "{apiVersion: v1, kind: Namespace, metadata: {name: kube-system}}")
	tests := []struct {
		name  string
		match gkMatch
		obj   Object
		want  bool
	}{
		{"empty match", gkMatch{}, Object{Obj: pod}, true},
		{"namespace glob", gkMatch{Namespaces: []string{"sh*"}}, Object{Obj: pod}, true},
		{"namespace suffix glob", gkMatch{Namespaces: []string{"*-system"}}, Object{Obj: pod}, false},
		{"namespaces do not exclude cluster-scoped", gkMatch{Namespaces: []string{"shop"}}, Object{Obj: crole}, true},
		{"a Namespace is in itself", gkMatch{ExcludedNamespaces: []string{"kube-*"}}, Object{Obj: ns}, false},
		{"scope Cluster", gkMatch{Scope: "Cluster"}, Object{Obj: pod}, false},
		{"scope Namespaced", gkMatch{Scope: "Namespaced"}, Object{Obj: crole}, false},
		{"label selector", gkMatch{LabelSelector: mustSelector(t, "app: web")}, Object{Obj: pod}, true},
		{"label selector mismatch", gkMatch{LabelSelector: mustSelector(t, "app: api")}, Object{Obj: pod}, false},
		{"namespace selector", gkMatch{NamespaceSelector: mustSelector(t, "env: prod")}, Object{Obj: pod}, true},
		{"namespace selector, unknown namespace", gkMatch{NamespaceSelector: mustSelector(t, "env: prod")}, Object{Obj: podUnknownNS}, false},
		{"namespace selector, cluster-scoped", gkMatch{NamespaceSelector: mustSelector(t, "env: prod")}, Object{Obj: crole}, true},
		{"name glob", gkMatch{Name: "p*"}, Object{Obj: pod}, true},
		{"deletions are not judged", gkMatch{}, Object{Obj: pod, Action: ActionDelete}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c(tt.match).applies(tt.obj, w); got != tt.want {
				t.Errorf("applies() = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustSelector(t *testing.T, matchLabels string) *metav1.LabelSelector {
	t.Helper()
	u := obj(t, "{matchLabels: {"+matchLabels+"}}")
	l := map[string]string{}
	for k, v := range u.Object["matchLabels"].(map[string]any) {
		l[k] = v.(string)
	}
	return &metav1.LabelSelector{MatchLabels: l}
}

func TestGatekeeperErrors(t *testing.T) {
	bad := `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: broken
spec:
  crd:
    spec:
      names:
        kind: Broken
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package broken

        violation[{"msg": msg}] {
          msg := concat("", [input.review.object.metadata.name
        }
`
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"syntax error on the YAML line", map[string]string{"t.yaml": bad},
			"compile policies: policy/t.yaml:17:9: rego_parse_error: unexpected } token: expected \",\" or \"]\""},
		{"constraint without template", map[string]string{"c.yaml": "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: Nope\nmetadata: {name: x}\n"},
			"load constraint Nope/x in policy/c.yaml: no ConstraintTemplate defines kind Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			_, err := Load(context.Background(), []Source{{Name: "test", Dir: dir, Prefix: "policy"}})
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load() error = %v, want %s", err, tt.want)
			}
			var ce CompileErrors
			if errors.As(err, &ce) && ce[0].File != "policy/t.yaml" {
				t.Errorf("file = %q", ce[0].File)
			}
		})
	}
}

// One Engine serves concurrent evaluations (run with -race).
func TestConcurrentEvaluate(t *testing.T) {
	files := map[string]string{}
	for k, v := range gatekeeperPolicies {
		files[k] = v
	}
	for k, v := range conftestPolicies {
		files[k] = v
	}
	e := load(t, Source{}, files)
	in := Input{Objects: []Object{
		{Obj: obj(t, ingress("shop", "a", "shop.example.com"))},
		{Obj: obj(t, ingress("dev", "b", "shop.example.com"))},
		{Obj: obj(t, deployRoot)},
		{Obj: obj(t, deployNoApp)},
	}}
	want, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := e.Evaluate(context.Background(), in)
			if err == nil && !cmp.Equal(want, got, cmp.AllowUnexported(Finding{})) {
				err = errors.New(cmp.Diff(want, got, cmp.AllowUnexported(Finding{})))
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
