package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

const v1Docs = `
apiVersion: v1
kind: ConfigMap
metadata: {name: same}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: changes}
data: {k: before}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: goes}
spec:
  replicas: 1
  selector: {matchLabels: {app: goes}}
  template:
    metadata: {labels: {app: goes}}
    spec: {containers: [{name: c, image: "registry.example/goes:1"}]}
`

const v2Docs = `
apiVersion: v1
kind: ConfigMap
metadata: {name: same}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: changes}
data: {k: after}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: new}
`

func TestDiffActions(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	set, err := c.Diff(ctx, app, objects(t, ns, v1Docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ConfigMap/" + ns + "/same": "create", "ConfigMap/" + ns + "/changes": "create", "Deployment/" + ns + "/goes": "create",
	}
	if d := cmp.Diff(want, actions(set)); d != "" {
		t.Fatalf("first diff (-want +got):\n%s", d)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, v1Docs), ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}
	set, err = c.Diff(ctx, app, objects(t, ns, v1Docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if set.HasChanges() {
		t.Fatalf("diff right after apply has changes: %+v", set.Objects)
	}
	set, err = c.Diff(ctx, app, objects(t, ns, v2Docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{
		"ConfigMap/" + ns + "/same": "unchanged", "ConfigMap/" + ns + "/changes": "update",
		"Deployment/" + ns + "/goes": "delete", "ServiceAccount/" + ns + "/new": "create",
	}
	if d := cmp.Diff(want, actions(set)); d != "" {
		t.Fatalf("second diff (-want +got):\n%s", d)
	}
	upd := find(set, "ConfigMap/"+ns+"/changes")
	if !strings.Contains(upd.Diff, "-  k: before\n+  k: after\n") {
		t.Errorf("update diff does not show the change:\n%s", upd.Diff)
	}
	if d := cmp.Diff([]string{"data.k"}, upd.Changed); d != "" {
		t.Errorf("changed fields (-want +got):\n%s", d)
	}
	for _, bad := range []string{"resourceVersion", "managedFields", "uid:", "creationTimestamp"} {
		if strings.Contains(upd.Diff, bad) {
			t.Errorf("diff shows server-set %s:\n%s", bad, upd.Diff)
		}
	}
	if del := find(set, "Deployment/"+ns+"/goes"); !strings.Contains(del.Diff, "-  replicas: 1") {
		t.Errorf("deletion diff does not show the live object:\n%s", del.Diff)
	}
	// The diff is what apply does.
	cs, err := c.Apply(ctx, app, objects(t, ns, v2Docs), ApplyOptions{Repository: testRepo, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	wantApply := map[string]string{
		"ConfigMap/" + ns + "/same": "unchanged", "ConfigMap/" + ns + "/changes": "configured",
		"Deployment/" + ns + "/goes": "deleted", "ServiceAccount/" + ns + "/new": "created",
	}
	if d := cmp.Diff(wantApply, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
	cm, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, "changes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Labels[AppLabel] != app.Name || cm.Data["k"] != "after" {
		t.Errorf("applied ConfigMap: labels %v data %v", cm.Labels, cm.Data)
	}
}

func TestSecretValuesNeverShown(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	values := []string{"hunter2-old-password", "unchanged-api-token", "hunter3-new-password", "brand-new-signing-key", "string-data-secret"}
	before := `
apiVersion: v1
kind: Secret
metadata:
  name: creds
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"` + values[0] + `"}}'
stringData: {password: ` + values[0] + `, token: ` + values[1] + `}
`
	after := `
apiVersion: v1
kind: Secret
metadata:
  name: creds
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"data":{"password":"` + values[2] + `"}}'
data: {password: ` + base64.StdEncoding.EncodeToString([]byte(values[2])) + `, token: ` + base64.StdEncoding.EncodeToString([]byte(values[1])) + `}
stringData: {signing: ` + values[3] + `}
---
apiVersion: v1
kind: Secret
metadata: {name: fresh}
stringData: {x: ` + values[4] + `}
---
apiVersion: v1
kind: Secret
metadata: {name: rejected, labels: {"bad label": ` + values[4] + `}}
stringData: {x: ` + values[4] + `}
`
	createSet, err := c.Diff(ctx, app, objects(t, ns, before), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, before), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, objects(t, ns, after), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	d := find(set, "Secret/"+ns+"/creds")
	// Every value is shown with the same mask, changed or not; only the
	// added key is a change.
	for _, want := range []string{
		"   password: (hidden)\n",
		"+  signing: (hidden)\n",
	} {
		if !strings.Contains(d.Diff, want) {
			t.Errorf("secret diff lacks %q:\n%s", want, d.Diff)
		}
	}
	if d.Action != ActionUpdate || !cmp.Equal(d.Changed, []string{"data.signing"}) || !strings.Contains(d.Note, "never whether a value changed") {
		t.Errorf("secret diff: action %s changed %v note %q; want update of data.signing, with the note", d.Action, d.Changed, d.Note)
	}
	if strings.Contains(d.Diff, "changed") || strings.Contains(d.Diff, "before:") {
		t.Errorf("the diff tells a changed value apart:\n%s", d.Diff)
	}
	if strings.Contains(d.Diff, "token") && !strings.Contains(d.Diff, "token: (hidden)") {
		t.Errorf("unchanged key not masked:\n%s", d.Diff)
	}
	if find(set, "Secret/"+ns+"/rejected").Error == "" {
		t.Errorf("invalid Secret not rejected: %+v", find(set, "Secret/"+ns+"/rejected"))
	}
	var out bytes.Buffer
	for _, f := range []Format{FormatText, FormatMarkdown, FormatJSON} {
		if err := WriteDiff(&out, f, []*DiffSet{createSet, set}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range values {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			if strings.Contains(out.String(), form) {
				t.Errorf("output shows secret value %q:\n%s", form, out.String())
			}
		}
	}
	if !strings.Contains(out.String(), "keys changed: signing") {
		t.Errorf("summary does not name the changed key:\n%s", out.String())
	}
}

func TestCRDAndCustomResourceInOneApp(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	docs := `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.{{ns}}.gantry.test}
spec:
  group: {{ns}}.gantry.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
---
apiVersion: {{ns}}.gantry.test/v1
kind: Widget
metadata: {name: w}
spec: {size: 3}
`
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"CustomResourceDefinition/widgets." + ns + ".gantry.test": "create", "Widget/" + ns + "/w": "create"}
	if d := cmp.Diff(want, actions(set)); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	if w := find(set, "Widget/"+ns+"/w"); !strings.Contains(w.Note, "CustomResourceDefinition") || !strings.Contains(w.Diff, "+  size: 3") {
		t.Errorf("custom resource: note %q diff:\n%s", w.Note, w.Diff)
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatalf("apply: %v (%+v)", err, cs)
	}
	if d := cmp.Diff(map[string]string{"CustomResourceDefinition/widgets." + ns + ".gantry.test": "created", "Widget/" + ns + "/w": "created"}, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
	set, err = c.Diff(ctx, app, objects(t, ns, strings.Replace(docs, "size: 3", "size: 4", 1)), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"CustomResourceDefinition/widgets." + ns + ".gantry.test": "unchanged", "Widget/" + ns + "/w": "update"}, actions(set)); d != "" {
		t.Fatalf("diff after apply (-want +got):\n%s", d)
	}
	t.Cleanup(func() {
		gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		_ = c.dynamic.Resource(gvr).Delete(context.Background(), "widgets."+ns+".gantry.test", metav1.DeleteOptions{})
	})
}

func TestNewNamespaceAndItsObjects(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t) + "-new"
	c, app := newClient(t), newApp(ns)
	docs := `
apiVersion: v1
kind: Namespace
metadata: {name: {{ns}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: inside}
data: {k: v}
`
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"Namespace/" + ns: "create", "ConfigMap/" + ns + "/inside": "create"}, actions(set)); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	if n := find(set, "ConfigMap/"+ns+"/inside").Note; !strings.Contains(n, "Namespace "+ns) {
		t.Errorf("note %q does not name the namespace", n)
	}
	t.Cleanup(func() {
		_ = cluster.Client.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"Namespace/" + ns: "created", "ConfigMap/" + ns + "/inside": "created"}, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
}

func TestRejectedObjectIsShownAlone(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	docs := `
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: invalid}
spec:
  replicas: -3
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: c, image: i}]}
---
apiVersion: gantry.test/v1
kind: Unknown
metadata: {name: nothing}
`
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ConfigMap/" + ns + "/fine": "create", "Deployment/" + ns + "/invalid": "error", "Unknown/" + ns + "/nothing": "error"}
	if d := cmp.Diff(want, actions(set)); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	e := find(set, "Deployment/"+ns+"/invalid").Error
	if !strings.HasPrefix(e, "Deployment/"+ns+"/invalid dry-run failed:") || !strings.Contains(e, "spec.replicas") {
		t.Errorf("error %q does not start with the object and name the field", e)
	}
	if !set.HasErrors() {
		t.Error("HasErrors is false")
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo, Prune: true})
	if err == nil {
		t.Fatal("apply of an invalid object succeeded")
	}
	if got := changes(cs)["ConfigMap/"+ns+"/fine"]; got != "created" {
		t.Errorf("valid object %s, want created", got)
	}
}

func TestConflictWithAnotherFieldManager(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	other := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "shared", "namespace": ns},
		"data": map[string]any{"owner": "theirs"},
	}}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	if _, err := c.dynamic.Resource(gvr).Namespace(ns).Apply(ctx, "shared", other, metav1.ApplyOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	docs := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {owner: ours}\n"
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	// The conflict names the other manager and the app's options that
	// resolve it.
	e := find(set, "ConfigMap/"+ns+"/shared").Error
	for _, want := range []string{`conflict with "someone-else"`, "set force: true on the app", "ignore rule with managers: [someone-else]"} {
		if !strings.Contains(e, want) {
			t.Fatalf("error %q lacks %q", e, want)
		}
	}
	app.Force = true
	set, err = c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "ConfigMap/"+ns+"/shared"); d.Action != ActionUpdate || d.Error != "" {
		t.Fatalf("forced diff: %+v", d)
	}
}

// denyForbiddenConfigMaps installs a ValidatingAdmissionPolicy that denies
// ConfigMaps labelled forbidden: "true" in ns, and waits until the API
// server enforces it.
func denyForbiddenConfigMaps(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	adm := cluster.Client.AdmissionregistrationV1()
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "deny-forbidden-" + ns},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Create, admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
				},
			}}},
			Validations: []admissionv1.Validation{{
				Expression: `!has(object.metadata.labels) || !('forbidden' in object.metadata.labels) || object.metadata.labels['forbidden'] != 'true'`,
				Message:    "ConfigMaps labelled forbidden are not allowed here",
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: policy.Name},
		Spec: admissionv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny},
			MatchResources: &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	if _, err := adm.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adm.ValidatingAdmissionPolicies().Delete(context.Background(), policy.Name, metav1.DeleteOptions{})
	})
	if _, err := adm.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = adm.ValidatingAdmissionPolicyBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe", Labels: map[string]string{"forbidden": "true"}}}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := cluster.Client.CoreV1().ConfigMaps(ns).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return apierrors.IsInvalid(err) || apierrors.IsForbidden(err), nil
	})
	if err != nil {
		t.Fatalf("admission policy not enforced: %v", err)
	}
}

func TestAdmissionDenialIsShownPerObject(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	before := `
apiVersion: v1
kind: ConfigMap
metadata: {name: existing}
data: {k: v}
`
	if _, err := c.Apply(ctx, app, objects(t, ns, before), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	denyForbiddenConfigMaps(t, ns)
	docs := `
apiVersion: v1
kind: ConfigMap
metadata: {name: existing, labels: {forbidden: "true"}}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: denied, labels: {forbidden: "true"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: allowed}
`
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatalf("one denied object failed the whole diff: %v", err)
	}
	type outcome struct {
		Action Action
		Denied bool
	}
	got := map[string]outcome{}
	for _, o := range set.Objects {
		got[o.Object.String()] = outcome{o.Action, o.Error != ""}
		if o.Error == "" {
			continue
		}
		if !strings.HasPrefix(o.Error, o.Object.String()+" dry-run failed:") || !strings.Contains(o.Error, "ConfigMaps labelled forbidden are not allowed here") {
			t.Errorf("error %q does not name the object and the admission message", o.Error)
		}
	}
	want := map[string]outcome{
		"ConfigMap/" + ns + "/existing": {ActionUpdate, true},
		"ConfigMap/" + ns + "/denied":   {ActionCreate, true},
		"ConfigMap/" + ns + "/allowed":  {ActionCreate, false},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	if c := set.Counts(); c != (Counts{Create: 1, Errors: 2}) {
		t.Errorf("counts %+v", c)
	}
	var text bytes.Buffer
	if err := WriteDiff(&text, FormatText, []*DiffSet{set}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "! ConfigMap/"+ns+"/denied: error\n    error: ConfigMap/"+ns+"/denied dry-run failed:") {
		t.Errorf("text output does not show the denial:\n%s", text.String())
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo, Prune: true})
	if !errors.Is(err, ErrApplyFailed) {
		t.Fatalf("apply of denied objects: %v, want ErrApplyFailed", err)
	}
	wantApply := map[string]string{
		"ConfigMap/" + ns + "/existing": "failed", "ConfigMap/" + ns + "/denied": "failed", "ConfigMap/" + ns + "/allowed": "created",
	}
	if d := cmp.Diff(wantApply, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
	for _, e := range cs.Objects {
		if e.Action == ChangeFailed && (!strings.HasPrefix(e.Error, e.Object.String()+" apply failed:") || !strings.Contains(e.Error, "ConfigMaps labelled forbidden are not allowed here")) {
			t.Errorf("apply error %q does not name the object and the admission message", e.Error)
		}
	}
	if cs.Pruned {
		t.Error("prune ran after a failed object")
	}
}

// gadgetsCRD is a CRD at v1alpha1, or with v1 served and stored and
// v1alpha1 still served (its stored objects still need it). The schemas
// are the same: without a conversion webhook the API server converts by
// changing apiVersion only.
func gadgetsCRD(v1 bool) string {
	versions := `
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}`
	if v1 {
		versions = `
  - name: v1alpha1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}, color: {type: string}}}`
	}
	return `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.{{ns}}.gantry.test}
spec:
  group: {{ns}}.gantry.test
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:` + versions + "\n"
}

func TestCRDWhoseVersionChanged(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	crdName := "CustomResourceDefinition/gadgets." + ns + ".gantry.test"
	t.Cleanup(func() {
		gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		_ = c.dynamic.Resource(gvr).Delete(context.Background(), "gadgets."+ns+".gantry.test", metav1.DeleteOptions{})
	})
	old := gadgetsCRD(false) + "---\napiVersion: {{ns}}.gantry.test/v1alpha1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 3}\n"
	if cs, err := c.Apply(ctx, app, objects(t, ns, old), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatalf("apply at v1alpha1: %v (%+v)", err, cs)
	}
	// Someone else's field on the live object: neither the diff nor apply
	// may remove it.
	gvr := schema.GroupVersionResource{Group: ns + ".gantry.test", Version: "v1alpha1", Resource: "gadgets"}
	patch := []byte(`{"metadata":{"annotations":{"owner":"someone-else"}}}`)
	if _, err := c.dynamic.Resource(gvr).Namespace(ns).Patch(ctx, "g", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-annotate"}); err != nil {
		t.Fatal(err)
	}
	gadget := func(spec string) string {
		return gadgetsCRD(true) + "---\napiVersion: {{ns}}.gantry.test/v1\nkind: Gadget\nmetadata: {name: g}\nspec: " + spec + "\n"
	}
	tests := []struct {
		name    string
		spec    string
		changed []string
	}{
		{"only the version", "{size: 3}", []string{"apiVersion"}},
		{"new fields", "{size: 4, color: blue}", []string{"apiVersion", "spec.color", "spec.size"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := gadget(tt.spec)
			set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(map[string]string{crdName: "update", "Gadget/" + ns + "/g": "update"}, actions(set)); d != "" {
				t.Fatalf("diff (-want +got):\n%s", d)
			}
			if crd := find(set, crdName); !strings.Contains(crd.Diff, "+  - name: v1\n") {
				t.Errorf("CRD diff does not show the new version:\n%s", crd.Diff)
			}
			g := find(set, "Gadget/"+ns+"/g")
			if !strings.Contains(g.Note, "compared with the live "+ns+".gantry.test/v1alpha1 object") {
				t.Errorf("note %q does not say what the object was compared with", g.Note)
			}
			if d := cmp.Diff(tt.changed, g.Changed); d != "" {
				t.Errorf("changed fields (-want +got):\n%s\n%s", d, g.Diff)
			}
			if strings.Contains(g.Diff, "-    owner: someone-else") {
				t.Errorf("diff removes another manager's annotation:\n%s", g.Diff)
			}
		})
	}
	// The diff said update for the version alone: apply agrees, as the
	// object's managed fields move to v1.
	docs := gadget("{size: 3}")
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatalf("apply at v1: %v (%+v)", err, cs)
	}
	if d := cmp.Diff(map[string]string{crdName: "configured", "Gadget/" + ns + "/g": "configured"}, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{crdName: "unchanged", "Gadget/" + ns + "/g": "unchanged"}, actions(set)); d != "" {
		t.Fatalf("diff after apply (-want +got):\n%s", d)
	}
	live, err := c.dynamic.Resource(schema.GroupVersionResource{Group: ns + ".gantry.test", Version: "v1", Resource: "gadgets"}).Namespace(ns).Get(ctx, "g", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(live.Object, "spec", "size"); size != 3 || live.GetAnnotations()["owner"] != "someone-else" {
		t.Errorf("after apply: size %d annotations %v", size, live.GetAnnotations())
	}
}
