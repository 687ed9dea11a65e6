package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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
	set, err := c.Diff(ctx, app, objects(t, ns, v1Docs), DefaultDiffOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ConfigMap/" + ns + "/same": "create", "ConfigMap/" + ns + "/changes": "create", "Deployment/" + ns + "/goes": "create",
	}
	if d := cmp.Diff(want, actions(set)); d != "" {
		t.Fatalf("first diff (-want +got):\n%s", d)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, v1Docs), ApplyOptions{Prune: true}); err != nil {
		t.Fatal(err)
	}
	set, err = c.Diff(ctx, app, objects(t, ns, v1Docs), DefaultDiffOptions())
	if err != nil {
		t.Fatal(err)
	}
	if set.HasChanges() {
		t.Fatalf("diff right after apply has changes: %+v", set.Objects)
	}
	set, err = c.Diff(ctx, app, objects(t, ns, v2Docs), DefaultDiffOptions())
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
	cs, err := c.Apply(ctx, app, objects(t, ns, v2Docs), ApplyOptions{Prune: true})
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
	createSet, err := c.Diff(ctx, app, objects(t, ns, before), DefaultDiffOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, before), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, objects(t, ns, after), DefaultDiffOptions())
	if err != nil {
		t.Fatal(err)
	}
	d := find(set, "Secret/"+ns+"/creds")
	for _, want := range []string{
		"-  password: (before: hidden)\n+  password: (after: hidden, changed)\n",
		"+  signing: (hidden)\n",
		"kubectl.kubernetes.io/last-applied-configuration: (before: hidden)",
		"kubectl.kubernetes.io/last-applied-configuration: (after: hidden, changed)",
	} {
		if !strings.Contains(d.Diff, want) {
			t.Errorf("secret diff lacks %q:\n%s", want, d.Diff)
		}
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
	if !strings.Contains(out.String(), "keys changed: password") {
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
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions())
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
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v (%+v)", err, cs)
	}
	if d := cmp.Diff(map[string]string{"CustomResourceDefinition/widgets." + ns + ".gantry.test": "created", "Widget/" + ns + "/w": "created"}, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
	set, err = c.Diff(ctx, app, objects(t, ns, strings.Replace(docs, "size: 3", "size: 4", 1)), DefaultDiffOptions())
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
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions())
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
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{})
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
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions())
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
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Prune: true})
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
	set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions())
	if err != nil {
		t.Fatal(err)
	}
	e := find(set, "ConfigMap/"+ns+"/shared").Error
	if !strings.Contains(e, "conflict") || !strings.Contains(e, "someone-else") {
		t.Fatalf("conflict not shown: %q", e)
	}
	app.Force = true
	set, err = c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions())
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "ConfigMap/"+ns+"/shared"); d.Action != ActionUpdate || d.Error != "" {
		t.Fatalf("forced diff: %+v", d)
	}
}
