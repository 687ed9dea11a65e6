package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	"github.com/gantryops/gantry/config"
)

// driftApp is a Deployment web (replicas as given, "" for none) and a
// ConfigMap settings.
func driftApp(t *testing.T, ns, replicas, image string) []*unstructured.Unstructured {
	t.Helper()
	r := ""
	if replicas != "" {
		r = "\n  replicas: " + replicas
	}
	return objects(t, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {tier: front}}
spec:`+r+`
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: `+image+`
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast, level: "3"}
`)
}

// applied applies objs for app and fails the test on any error.
func applied(t *testing.T, app config.App, objs []*unstructured.Unstructured) {
	t.Helper()
	if _, err := newClient(t).Apply(context.Background(), app, objs, ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}
}

// drift checks app against objs and fails the test on an error.
func drift(t *testing.T, app config.App, objs []*unstructured.Unstructured) *DriftSet {
	t.Helper()
	s, err := newClient(t).Drift(context.Background(), app, objs, DriftOptions{Repository: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range s.Objects {
		if o.Error != "" {
			t.Fatalf("%s: %s", o.Object, o.Error)
		}
	}
	return s
}

// editDeployment changes the live Deployment with an update by manager.
func editDeployment(t *testing.T, ns, manager string, edit func(*appsv1.Deployment)) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(d)
		_, err = cluster.Client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scale sets the replicas through the scale subresource, as kubectl scale
// and an HPA do.
func scale(t *testing.T, ns, manager string, replicas int32) {
	t.Helper()
	ctx := context.Background()
	_, err := cluster.Client.AppsV1().Deployments(ns).UpdateScale(ctx, "web", &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns}, Spec: autoscalingv1.ScaleSpec{Replicas: replicas},
	}, metav1.UpdateOptions{FieldManager: manager})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDriftAttributesAnEditedImageToItsManager(t *testing.T) {
	ns := cluster.Namespace(t)
	app := newApp(ns)
	objs := driftApp(t, ns, "2", "registry.example/web:1.0")
	applied(t, app, objs)
	if s := drift(t, app, objs); s.Drifted() {
		t.Fatalf("drift right after apply: %+v", s.Objects)
	}
	editDeployment(t, ns, "kubectl-edit", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:2.0"
	})

	s := drift(t, app, objs)
	if len(s.Objects) != 1 || s.Objects[0].Object.String() != "Deployment/"+ns+"/web" {
		t.Fatalf("drifted objects: %+v, want the Deployment only", s.Objects)
	}
	o := s.Objects[0]
	if len(o.Fields) != 1 {
		t.Fatalf("fields: %+v, want the image only", o.Fields)
	}
	f := o.Fields[0]
	f.Time = f.Time.UTC()
	if f.Time.IsZero() {
		t.Error("no time of the edit")
	}
	want := FieldDrift{Path: "spec.template.spec.containers[name=web].image", Desired: `"registry.example/web:1.0"`,
		Live: `"registry.example/web:2.0"`, Manager: "kubectl-edit", Operation: "Update", Time: f.Time, Conflict: true}
	if diff := cmp.Diff(want, f); diff != "" {
		t.Errorf("field (-want +got):\n%s", diff)
	}
	wantAccepted := objs[0].DeepCopy()
	containers, _, _ := unstructured.NestedSlice(wantAccepted.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "registry.example/web:2.0"
	_ = unstructured.SetNestedSlice(wantAccepted.Object, containers, "spec", "template", "spec", "containers")
	if diff := cmp.Diff(wantAccepted.Object, o.Accepted.Object); diff != "" {
		t.Errorf("accepted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(objs[0].Object, o.Desired.Object); diff != "" {
		t.Errorf("desired is not the render (-want +got):\n%s", diff)
	}
}

func TestDriftDeletedObjectIsGone(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	objs := driftApp(t, ns, "2", "registry.example/web:1.0")
	applied(t, app, objs)
	if err := cluster.Client.CoreV1().ConfigMaps(ns).Delete(ctx, "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s := drift(t, app, objs)
	if len(s.Objects) != 1 {
		t.Fatalf("drifted objects: %+v, want the ConfigMap only", s.Objects)
	}
	o := s.Objects[0]
	if !o.Gone || o.Accepted != nil || o.Desired == nil || o.Object.Name != "settings" || !s.Drifted() {
		t.Errorf("got %+v, want settings gone with its desired object and no accepted one", o)
	}
}

// An object the app renders but never applied is no drift: apply creates
// it, and the plan shows that.
func TestDriftOnlyComparesManagedObjects(t *testing.T) {
	ns := cluster.Namespace(t)
	app := newApp(ns)
	objs := driftApp(t, ns, "2", "registry.example/web:1.0")
	applied(t, app, objs[:1])
	if s := drift(t, app, objs); len(s.Objects) != 0 {
		t.Errorf("got %+v, want nothing for an object never applied", s.Objects)
	}
}

func TestDriftIgnoresFieldsGitDoesNotSet(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	objs := driftApp(t, ns, "", "registry.example/web:1.0")
	applied(t, app, objs)

	// An HPA scales; a mutating webhook injects an annotation, a sidecar
	// and an env variable; another controller labels the ConfigMap and
	// adds a key.
	scale(t, ns, "kube-controller-manager", 4)
	editDeployment(t, ns, "sidecar-injector", func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{"injected": "yes"}
		c := &d.Spec.Template.Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: "INJECTED", Value: "1"})
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "proxy", Image: "proxy:1"})
	})
	patch := []byte(`{"metadata":{"labels":{"owner":"ops"}},"data":{"extra":"x"}}`)
	if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Patch(ctx, "settings", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "labeller"}); err != nil {
		t.Fatal(err)
	}
	if s := drift(t, app, objs); s.Drifted() || len(s.Objects) != 0 {
		t.Errorf("got drift %+v, want none: only fields Git does not set changed", s.Objects)
	}

	// The same check still sees a field Git sets.
	if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Patch(ctx, "settings", types.MergePatchType, []byte(`{"data":{"mode":"slow"}}`), metav1.PatchOptions{FieldManager: "labeller"}); err != nil {
		t.Fatal(err)
	}
	s := drift(t, app, objs)
	if len(s.Objects) != 1 || len(s.Objects[0].Fields) != 1 || s.Objects[0].Fields[0].Path != "data.mode" || s.Objects[0].Fields[0].Manager != "labeller" {
		t.Errorf("got %+v, want data.mode of the ConfigMap, by labeller", s.Objects)
	}
}

func TestDriftLeavesIgnoredFieldsAndOptedOutObjects(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	app.Ignore = []config.IgnoreRule{{Kind: "Deployment", Pointers: []string{"/spec/replicas"}}}
	objs := append(driftApp(t, ns, "2", "registry.example/web:1.0"), objects(t, ns, `apiVersion: v1
kind: ConfigMap
metadata: {name: tuned}
data: {mode: fast}
`)...)
	applied(t, app, objs)
	scale(t, ns, "kubectl", 5)
	for _, name := range []string{"settings", "tuned"} {
		patch := `{"data":{"mode":"slow"}}`
		if name == "tuned" {
			patch = `{"metadata":{"annotations":{"gantry.dev/drift":"ignore"}},"data":{"mode":"slow"}}`
		}
		if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "ops"}); err != nil {
			t.Fatal(err)
		}
	}
	s := drift(t, app, objs)
	got := map[string]string{}
	for _, o := range s.Objects {
		var paths []string
		for _, f := range o.Fields {
			paths = append(paths, f.Path)
		}
		got[o.Object.Name] = strings.Join(paths, ",")
		if o.OptedOut {
			got[o.Object.Name] = "opted out"
		}
	}
	want := map[string]string{"settings": "data.mode", "tuned": "opted out"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if !s.Drifted() {
		t.Error("Drifted() is false with settings drifted")
	}
	s.Objects = s.Objects[1:] // only the opted-out object left
	if s.Objects[0].Object.Name != "tuned" || s.Drifted() {
		t.Errorf("an opted-out object counts as drift: %+v", s.Objects)
	}
}

func TestDriftNeverShowsSecretValues(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	objs := objects(t, ns, `apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {user: admin, password: first-value}
`)
	applied(t, app, objs)
	patch := []byte(`{"stringData":{"password":"second-value"}}`)
	if _, err := cluster.Client.CoreV1().Secrets(ns).Patch(ctx, "creds", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	s := drift(t, app, objs)
	if len(s.Objects) != 1 || len(s.Objects[0].Fields) != 1 {
		t.Fatalf("got %+v, want data.password drifted", s.Objects)
	}
	o := s.Objects[0]
	if f := o.Fields[0]; f.Path != "data.password" || f.Desired != HiddenValue || f.Live != HiddenValue || f.Manager != "kubectl-edit" {
		t.Errorf("field %+v, want data.password hidden, by kubectl-edit", f)
	}
	for _, u := range []*unstructured.Unstructured{o.Desired, o.Accepted} {
		b, _ := u.MarshalJSON()
		for _, v := range []string{"first-value", "second-value", "Zmlyc3QtdmFsdWU=", "c2Vjb25kLXZhbHVl", "admin"} {
			if strings.Contains(string(b), v) {
				t.Errorf("%s holds a Secret value: %s", u.GetName(), b)
			}
		}
	}
}

// After kubectl scale, the plan of every pull request touching the app
// failed on the conflict. Now the diff shows the taken field as an update
// with who took it, and apply takes it back.
func TestDiffShowsAScaledReplicasAndApplyTakesThemBack(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	objs := driftApp(t, ns, "2", "registry.example/web:1.0")
	applied(t, app, objs)
	scale(t, ns, "kubectl", 5)

	c := newClient(t)
	set, err := c.Diff(ctx, app, objs, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	d := find(set, "Deployment/"+ns+"/web")
	if d.Error != "" || d.Action != ActionUpdate || !slices.Contains(d.Changed, "spec.replicas") {
		t.Fatalf("got %s %v %q, want an update of spec.replicas", d.Action, d.Changed, d.Error)
	}
	// The API server records no time for a write through the scale
	// subresource, so the note has none.
	for _, part := range []string{"spec.replicas taken by kubectl (subresource scale), live 5", "applying takes it back"} {
		if !strings.Contains(d.Note, part) {
			t.Errorf("note %q lacks %q", d.Note, part)
		}
	}

	cs, err := c.Apply(ctx, app, objs, ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	if got := changes(cs)["Deployment/"+ns+"/web"]; got != string(ChangeConfigured) {
		t.Errorf("apply: %s, want configured", got)
	}
	live, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *live.Spec.Replicas != 2 {
		t.Errorf("replicas %d after apply, want 2 taken back", *live.Spec.Replicas)
	}
	if s := drift(t, app, objs); s.Drifted() {
		t.Errorf("drift after apply took it back: %+v", s.Objects)
	}
}

// A pull request that starts setting a field another manager owns and
// gantry never applied still conflicts: app.Force decides that.
func TestDiffKeepsConflictsOnFieldsGantryNeverApplied(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	applied(t, app, driftApp(t, ns, "", "registry.example/web:1.0"))
	// An autoscaler that writes the Deployment itself. (Through the scale
	// subresource of an object whose replicas no one holds, the API
	// server records no manager at all, and then nothing conflicts.)
	editDeployment(t, ns, "autoscaler", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(4)) })

	set, err := newClient(t).Diff(ctx, app, driftApp(t, ns, "3", "registry.example/web:1.0"), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "Deployment/"+ns+"/web"); !strings.Contains(d.Error, "conflict") {
		t.Errorf("got %s %q, want the conflict on spec.replicas as an error", d.Action, d.Error)
	}
	app.Force = true
	set, err = newClient(t).Diff(ctx, app, driftApp(t, ns, "3", "registry.example/web:1.0"), DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "Deployment/"+ns+"/web"); d.Error != "" || d.Action != ActionUpdate {
		t.Errorf("with force: got %s %q, want an update", d.Action, d.Error)
	}
}

// With the render at the last applied commit, a pull request that changes
// the object kubectl scaled is planned and applied too: replicas were in
// gantry's previous apply, so they are taken back. A field the previous
// render did not set stays a conflict.
func TestDiffWithThePreviousRenderTakesBackFieldsInAChangedObject(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	previous := driftApp(t, ns, "2", "registry.example/web:1.0")
	applied(t, app, previous)
	scale(t, ns, "kubectl", 5)
	changed := driftApp(t, ns, "2", "registry.example/web:2.0")
	c := newClient(t)

	opts := DefaultDiffOptions(testRepo)
	set, err := c.Diff(ctx, app, changed, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "Deployment/"+ns+"/web"); !strings.Contains(d.Error, "conflict") {
		t.Fatalf("without the previous render: %s %q, want the conflict", d.Action, d.Error)
	}
	opts.Previous = previous
	if set, err = c.Diff(ctx, app, changed, opts); err != nil {
		t.Fatal(err)
	}
	d := find(set, "Deployment/"+ns+"/web")
	if d.Error != "" || d.Action != ActionUpdate || !strings.Contains(d.Note, "spec.replicas taken by kubectl (subresource scale), live 5") {
		t.Fatalf("with the previous render: %s %v %q %q, want an update taking replicas back", d.Action, d.Changed, d.Note, d.Error)
	}
	if _, err := c.Apply(ctx, app, changed, ApplyOptions{Repository: testRepo, Previous: previous}); err != nil {
		t.Fatal(err)
	}
	live, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *live.Spec.Replicas != 2 || live.Spec.Template.Spec.Containers[0].Image != "registry.example/web:2.0" {
		t.Errorf("after apply: %d replicas, image %s; want 2 and 2.0", *live.Spec.Replicas, live.Spec.Template.Spec.Containers[0].Image)
	}

	// The previous render set no replicas: an autoscaler's are not gantry's.
	app2 := newApp(cluster.Namespace(t))
	ns2 := app2.Namespace
	previous = driftApp(t, ns2, "", "registry.example/web:1.0")
	applied(t, app2, previous)
	editDeployment(t, ns2, "autoscaler", func(d *appsv1.Deployment) { d.Spec.Replicas = new(int32(4)) })
	set, err = c.Diff(ctx, app2, driftApp(t, ns2, "3", "registry.example/web:1.0"), DiffOptions{Repository: testRepo, Previous: previous})
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "Deployment/"+ns2+"/web"); !strings.Contains(d.Error, "conflict") {
		t.Errorf("replicas the previous render never set: %s %q, want the conflict", d.Action, d.Error)
	}
}
