package starter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/policy"
)

// container is a container every rule accepts.
func container(name string) map[string]any {
	return map[string]any{
		"name":  name,
		"image": "registry.example/web:1.4.2",
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
			"limits":   map[string]any{"memory": "256Mi"},
		},
		"securityContext": map[string]any{"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
		"readinessProbe":  map[string]any{"httpGet": map[string]any{"path": "/readyz", "port": int64(8080)}},
		"livenessProbe":   map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": int64(8080)}},
	}
}

// podSpec is a pod spec every rule accepts, with one init container.
func podSpec() map[string]any {
	return map[string]any{
		"securityContext": map[string]any{"runAsNonRoot": true, "runAsUser": int64(65532)},
		"initContainers":  []any{container("init")},
		"containers":      []any{container("app")},
	}
}

// workloadKinds are the kinds that hold a pod spec, each with its API
// version.
var workloadKinds = map[string]string{
	"Pod": "v1", "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
	"ReplicaSet": "apps/v1", "Job": "batch/v1", "CronJob": "batch/v1",
}

// workload wraps a pod spec in a kind, at the path that kind keeps it.
func workload(kind string, ps map[string]any) *unstructured.Unstructured {
	labels := map[string]any{"app": "web"}
	tmpl := map[string]any{"metadata": map[string]any{"labels": labels}, "spec": ps}
	var spec map[string]any
	switch kind {
	case "Pod":
		spec = ps
	case "CronJob":
		spec = map[string]any{"schedule": "@daily", "jobTemplate": map[string]any{"spec": map[string]any{"template": tmpl}}}
	case "Job", "DaemonSet":
		spec = map[string]any{"template": tmpl}
	default:
		spec = map[string]any{"replicas": int64(1), "selector": map[string]any{"matchLabels": labels}, "template": tmpl}
	}
	meta := map[string]any{"name": "web", "namespace": "apps"}
	if kind == "Pod" {
		meta["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": workloadKinds[kind], "kind": kind, "metadata": meta, "spec": spec,
	}}
}

// deployment is a compliant Deployment changed by edit (its pod spec).
func deployment(edit func(ps map[string]any)) *unstructured.Unstructured {
	ps := podSpec()
	if edit != nil {
		edit(ps)
	}
	return workload("Deployment", ps)
}

// app edits the first container, init edits the init container.
func app(edit func(c map[string]any)) func(map[string]any) {
	return func(ps map[string]any) { edit(ps["containers"].([]any)[0].(map[string]any)) }
}

func initc(edit func(c map[string]any)) func(map[string]any) {
	return func(ps map[string]any) { edit(ps["initContainers"].([]any)[0].(map[string]any)) }
}

func sc(c map[string]any) map[string]any { return c["securityContext"].(map[string]any) }

func parse(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// judge evaluates objects with the pack through the policy engine and
// returns "severity id: object" for each finding, sorted.
func judge(t *testing.T, s Settings, in policy.Input) ([]string, policy.Result) {
	t.Helper()
	src, err := Source(s)
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Load(context.Background(), []policy.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, f := range r.Findings {
		if f.Set != SetName {
			t.Errorf("finding of set %q, want %q", f.Set, SetName)
		}
		id, _ := f.Metadata["id"].(string)
		if !strings.HasPrefix(f.Message, "["+id+"] ") {
			t.Errorf("message %q does not start with its rule ID %q", f.Message, id)
		}
		out = append(out, fmt.Sprintf("%s %s: %s %s", f.Severity, id, f.Kind, f.Name))
	}
	slices.Sort(out)
	return out, r
}

func objects(us ...*unstructured.Unstructured) policy.Input {
	var in policy.Input
	for _, u := range us {
		in.Objects = append(in.Objects, policy.Object{Obj: u, App: "web", Cluster: "prod"})
	}
	return in
}

func TestCompliantWorkloadsOfEveryKindPass(t *testing.T) {
	for kind := range workloadKinds {
		t.Run(kind, func(t *testing.T) {
			got, _ := judge(t, Settings{}, objects(workload(kind, podSpec())))
			if diff := cmp.Diff([]string{}, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// Every kind keeps its pod spec somewhere else: a violation is found at
// each kind's path, in containers and in init containers.
func TestViolationsAreFoundWhereEveryKindKeepsItsPods(t *testing.T) {
	for kind := range workloadKinds {
		for _, where := range []string{"containers", "initContainers"} {
			t.Run(kind+"/"+where, func(t *testing.T) {
				ps := podSpec()
				ps[where].([]any)[0].(map[string]any)["image"] = "nginx:latest"
				got, _ := judge(t, Settings{}, objects(workload(kind, ps)))
				want := []string{"deny image-pinned: " + kind + " web"}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("findings (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// violation is an object that breaks exactly one rule.
type violation struct {
	name string
	id   string
	objs []*unstructured.Unstructured
	// n is how many findings it makes (one per container at fault).
	n int
}

// pdb is a PodDisruptionBudget in namespace ns selecting with sel.
func pdb(t *testing.T, ns, sel string) *unstructured.Unstructured {
	return parse(t, fmt.Sprintf("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: %s}\nspec: {minAvailable: 1, selector: %s}\n", ns, sel))
}

func replicas(n int64, u *unstructured.Unstructured) *unstructured.Unstructured {
	u.Object["spec"].(map[string]any)["replicas"] = n
	return u
}

func violations(t *testing.T) []violation {
	one := func(u *unstructured.Unstructured) []*unstructured.Unstructured {
		return []*unstructured.Unstructured{u}
	}
	return []violation{
		{"latest tag", "image-pinned", one(deployment(app(func(c map[string]any) { c["image"] = "nginx:latest" }))), 1},
		{"no tag", "image-pinned", one(deployment(app(func(c map[string]any) { c["image"] = "registry:5000/nginx" }))), 1},
		{"moving tag", "image-pinned", one(deployment(app(func(c map[string]any) { c["image"] = "nginx:stable" }))), 1},
		{"no requests", "resources", one(deployment(app(func(c map[string]any) { delete(c, "resources") }))), 1},
		{"no memory limit on an init container", "resources", one(deployment(initc(func(c map[string]any) {
			delete(c["resources"].(map[string]any), "limits")
		}))), 1},
		{"runAsNonRoot not set", "run-as-non-root", one(deployment(func(ps map[string]any) { delete(ps, "securityContext") })), 2},
		{"container overrides the pod's runAsNonRoot", "run-as-non-root", one(deployment(app(func(c map[string]any) { sc(c)["runAsNonRoot"] = false }))), 1},
		{"uid 0", "run-as-non-root", one(deployment(initc(func(c map[string]any) { sc(c)["runAsUser"] = int64(0) }))), 1},
		{"writable root", "read-only-root-fs", one(deployment(app(func(c map[string]any) { delete(sc(c), "readOnlyRootFilesystem") }))), 1},
		{"privileged", "no-privileged", one(deployment(initc(func(c map[string]any) { sc(c)["privileged"] = true }))), 1},
		{"escalation allowed", "no-privilege-escalation", one(deployment(app(func(c map[string]any) { sc(c)["allowPrivilegeEscalation"] = true }))), 1},
		{"escalation not said", "no-privilege-escalation", one(deployment(app(func(c map[string]any) { delete(sc(c), "allowPrivilegeEscalation") }))), 1},
		{"hostNetwork", "no-host-namespaces", one(deployment(func(ps map[string]any) { ps["hostNetwork"] = true })), 1},
		{"hostPID and hostIPC", "no-host-namespaces", one(deployment(func(ps map[string]any) { ps["hostPID"], ps["hostIPC"] = true, true })), 2},
		{"hostPath", "no-host-path", one(deployment(func(ps map[string]any) {
			ps["volumes"] = []any{map[string]any{"name": "logs", "hostPath": map[string]any{"path": "/var/log"}}}
		})), 1},
		{"no probes", "probes", one(deployment(app(func(c map[string]any) { delete(c, "readinessProbe"); delete(c, "livenessProbe") }))), 1},
		{"no liveness probe in a StatefulSet", "probes", one(func() *unstructured.Unstructured {
			ps := podSpec()
			delete(ps["containers"].([]any)[0].(map[string]any), "livenessProbe")
			return workload("StatefulSet", ps)
		}()), 1},
		{"replicated without a PDB", "pdb", one(replicas(3, deployment(nil))), 1},
		{"a PDB selecting other pods", "pdb", []*unstructured.Unstructured{replicas(2, deployment(nil)), pdb(t, "apps", "{matchLabels: {app: api}}")}, 1},
		{"a PDB in another namespace", "pdb", []*unstructured.Unstructured{replicas(2, deployment(nil)), pdb(t, "other", "{matchLabels: {app: web}}")}, 1},
		{"NodePort", "no-nodeport", one(parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: apps}\nspec: {type: NodePort, ports: [{port: 80}]}\n")), 1},
		{"plain Secret", "no-plain-secret", one(parse(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: web, namespace: apps}\nstringData: {password: hunter2}\n")), 1},
		{"exception without a reason", "allow-reason", one(func() *unstructured.Unstructured {
			u := deployment(nil)
			u.SetAnnotations(map[string]string{AllowAnnotation: "probes"})
			return u
		}()), 1},
		{"exception naming no rule", "allow-unknown", one(func() *unstructured.Unstructured {
			u := deployment(nil)
			u.SetAnnotations(map[string]string{AllowAnnotation: "probs: typo"})
			return u
		}()), 1},
	}
}

// Each rule denies what breaks it, by its ID, once per container at fault,
// and nothing else.
func TestEachRuleDeniesWhatBreaksIt(t *testing.T) {
	covered := map[string]bool{}
	for _, v := range violations(t) {
		t.Run(v.name, func(t *testing.T) {
			covered[v.id] = true
			sev := "deny"
			if v.id == "allow-unknown" {
				sev = "warn"
			}
			got, _ := judge(t, Settings{}, objects(v.objs...))
			want := slices.Repeat([]string{fmt.Sprintf("%s %s: %s web", sev, v.id, v.objs[0].GetKind())}, v.n)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	for _, id := range IDs() {
		if !covered[id] {
			t.Errorf("rule %s has no violation in the table", id)
		}
	}
}

// An exception with a reason turns each of the rule's denies into an
// excepted finding that shows the reason; without a reason it waives
// nothing and is denied itself.
func TestExceptionsNeedAReasonAndAreShown(t *testing.T) {
	for _, v := range violations(t) {
		if strings.HasPrefix(v.id, "allow-") {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			annotate := func(value string) policy.Input {
				objs := make([]*unstructured.Unstructured, len(v.objs))
				for i, u := range v.objs {
					objs[i] = u.DeepCopy()
				}
				objs[0].SetAnnotations(map[string]string{AllowAnnotation: value})
				return objects(objs...)
			}
			ref := v.objs[0].GetKind() + " web"
			got, r := judge(t, Settings{}, annotate("other: unrelated\n"+v.id+": vendor image, tracked in OPS-12\n"))
			want := slices.Repeat([]string{"excepted " + v.id + ": " + ref}, v.n)
			want = append(want, "warn allow-unknown: "+ref)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("with a reason (-want +got):\n%s", diff)
			}
			for _, f := range r.Findings {
				if f.Severity == policy.SeverityExcepted && (f.Metadata["reason"] != "vendor image, tracked in OPS-12" || !strings.Contains(f.Message, "(excepted: vendor image, tracked in OPS-12)")) {
					t.Errorf("excepted finding does not show its reason: %q %v", f.Message, f.Metadata)
				}
			}
			if r.Denies() != 0 || r.Excepted() != v.n {
				t.Errorf("%d denies and %d excepted, want 0 and %d", r.Denies(), r.Excepted(), v.n)
			}
			got, _ = judge(t, Settings{}, annotate(v.id+":  "))
			want = append(slices.Repeat([]string{"deny " + v.id + ": " + ref}, v.n), "deny allow-reason: "+ref)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("without a reason (-want +got):\n%s", diff)
			}
		})
	}
}

// allow-reason cannot be waived, or one entry would excuse every other
// entry's missing reason.
func TestAllowReasonCannotBeWaived(t *testing.T) {
	u := deployment(app(func(c map[string]any) { c["image"] = "nginx" }))
	u.SetAnnotations(map[string]string{AllowAnnotation: "allow-reason: none needed\nimage-pinned"})
	got, _ := judge(t, Settings{}, objects(u))
	want := []string{"deny allow-reason: Deployment web", "deny image-pinned: Deployment web"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// The PodDisruptionBudget may come from the same render or be live, and
// select by labels or expressions; one replica needs none.
func TestPDBIsLookedUpAcrossTheRenderAndTheCluster(t *testing.T) {
	tests := []struct {
		name string
		in   policy.Input
		want []string
	}{
		{"one replica", objects(deployment(nil)), []string{}},
		{"rendered beside it", objects(replicas(3, deployment(nil)), pdb(t, "apps", "{matchLabels: {app: web}}")), []string{}},
		{"by expression", objects(replicas(3, deployment(nil)), pdb(t, "apps", "{matchExpressions: [{key: app, operator: In, values: [api, web]}]}")), []string{}},
		{"expression not matching", objects(replicas(3, deployment(nil)), pdb(t, "apps", "{matchExpressions: [{key: app, operator: NotIn, values: [web]}]}")),
			[]string{"deny pdb: Deployment web"}},
		{"live only", func() policy.Input {
			in := objects(replicas(3, deployment(nil)))
			in.Inventory = append(in.Inventory, pdb(t, "apps", "{matchLabels: {app: web}}"))
			return in
		}(), []string{}},
		{"live but deleted by this change", func() policy.Input {
			in := objects(replicas(3, deployment(nil)))
			in.Objects = append(in.Objects, policy.Object{Obj: pdb(t, "apps", "{matchLabels: {app: web}}"), Action: policy.ActionDelete})
			in.Inventory = append(in.Inventory, pdb(t, "apps", "{matchLabels: {app: web}}"))
			return in
		}(), []string{"deny pdb: Deployment web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := judge(t, Settings{}, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	nodePort := parse(t, "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: apps}\nspec: {type: NodePort, ports: [{port: 80}]}\n")
	latest := deployment(app(func(c map[string]any) { c["image"] = "nginx:latest"; delete(c, "livenessProbe") }))
	tests := []struct {
		name string
		s    Settings
		in   policy.Input
		want []string
	}{
		{"NodePort denied by default", Settings{}, objects(nodePort), []string{"deny no-nodeport: Service web"}},
		{"NodePort allowed", Settings{AllowNodePort: true}, objects(nodePort), []string{}},
		{"nothing excluded", Settings{}, objects(latest), []string{"deny image-pinned: Deployment web", "deny probes: Deployment web"}},
		{"a rule excluded", Settings{Exclude: []string{"image-pinned"}}, objects(latest), []string{"deny probes: Deployment web"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := judge(t, tt.s, tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := Source(Settings{Exclude: []string{"image-pined"}}); err == nil || !strings.Contains(err.Error(), `"image-pined" is not a rule`) {
		t.Errorf("unknown excluded rule: got %v, want an error naming it", err)
	}
}

// The Go list of rules and the Rego one agree: an annotation naming every
// Go ID warns of none unknown.
func TestGoAndRegoKnowTheSameRules(t *testing.T) {
	var lines []string
	for _, id := range IDs() {
		if id != "allow-reason" {
			lines = append(lines, id+": listed")
		}
	}
	u := deployment(nil)
	u.SetAnnotations(map[string]string{AllowAnnotation: strings.Join(lines, "\n")})
	got, _ := judge(t, Settings{}, objects(u))
	if diff := cmp.Diff([]string{}, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// Plain Secrets: empty ones and SOPS-encrypted files pass.
func TestSecretsWithoutPlainValuesPass(t *testing.T) {
	for _, s := range []string{
		"apiVersion: v1\nkind: Secret\nmetadata: {name: web, namespace: apps}\ntype: Opaque\n",
		"apiVersion: v1\nkind: Secret\nmetadata: {name: web, namespace: apps}\ndata: {password: \"ENC[AES256_GCM,data:x]\"}\nsops: {version: 3.9.0}\n",
	} {
		got, _ := judge(t, Settings{}, objects(parse(t, s)))
		if diff := cmp.Diff([]string{}, got); diff != "" {
			t.Errorf("findings (-want +got):\n%s", diff)
		}
	}
}

// The pack's own Rego tests pass through `gantry policy test`'s runner.
func TestRegoTestsPass(t *testing.T) {
	src, err := Source(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := policy.RunTests(context.Background(), []policy.Source{src}, policy.TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) < 5 {
		t.Fatalf("%d Rego tests ran, want at least 5", len(rs))
	}
	for _, r := range rs {
		if r.Outcome != policy.TestPass {
			t.Errorf("%s:%d %s: %s %s %s", r.File, r.Line, r.Name, r.Outcome, r.Message, r.Output)
		}
	}
}
