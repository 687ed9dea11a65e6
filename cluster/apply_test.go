package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gantryops/gantry/config"
)

const threeConfigMaps = `
apiVersion: v1
kind: ConfigMap
metadata: {name: stays}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: removed}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kept, annotations: {gantry.dev/prune: disabled}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: adopted}
`

func exists(t *testing.T, ns, name string) bool {
	t.Helper()
	_, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestPruneAfterRemoval(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	if _, err := c.Apply(ctx, app, objects(t, ns, threeConfigMaps), ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}
	// Another app takes "adopted" over: prune must leave it alone.
	patch := []byte(`{"metadata":{"labels":{"gantry.dev/app":"someone-else"}}}`)
	if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Patch(ctx, "adopted", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	only := objects(t, ns, threeConfigMaps)[:1]
	set, err := c.Diff(ctx, app, only, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ConfigMap/" + ns + "/stays": "unchanged", "ConfigMap/" + ns + "/removed": "delete",
		"ConfigMap/" + ns + "/kept": "unchanged", "ConfigMap/" + ns + "/adopted": "unchanged",
	}
	if d := cmp.Diff(want, actions(set)); d != "" {
		t.Fatalf("diff (-want +got):\n%s", d)
	}
	cs, err := c.Apply(ctx, app, only, ApplyOptions{Repository: testRepo, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	wantApply := map[string]string{
		"ConfigMap/" + ns + "/stays": "unchanged", "ConfigMap/" + ns + "/removed": "deleted",
		"ConfigMap/" + ns + "/kept": "skipped", "ConfigMap/" + ns + "/adopted": "skipped",
	}
	if d := cmp.Diff(wantApply, changes(cs)); d != "" {
		t.Fatalf("apply (-want +got):\n%s", d)
	}
	got := map[string]bool{}
	for _, n := range []string{"stays", "removed", "kept", "adopted"} {
		got[n] = exists(t, ns, n)
	}
	if d := cmp.Diff(map[string]bool{"stays": true, "removed": false, "kept": true, "adopted": true}, got); d != "" {
		t.Errorf("objects left (-want +got):\n%s", d)
	}
	inv, err := c.Inventory(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "stays"}}, inv.Objects); d != "" {
		t.Errorf("inventory after prune (-want +got):\n%s", d)
	}
}

// TestApplyWithoutPruneSaysWhatItLeft: objects no longer rendered are
// reported as left, never silently, stay in the inventory, and a later
// pruning apply deletes them.
func TestApplyWithoutPruneSaysWhatItLeft(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	if _, err := c.Apply(ctx, app, objects(t, ns, threeConfigMaps), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	only := objects(t, ns, threeConfigMaps)[:1]
	cs, err := c.Apply(ctx, app, only, ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"ConfigMap/" + ns + "/stays": "unchanged", "ConfigMap/" + ns + "/removed": "left",
		"ConfigMap/" + ns + "/kept": "left", "ConfigMap/" + ns + "/adopted": "left",
	}
	if d := cmp.Diff(want, changes(cs)); d != "" {
		t.Fatalf("apply without prune (-want +got):\n%s", d)
	}
	var text bytes.Buffer
	if err := WriteApply(&text, FormatText, []*ChangeSet{cs}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "3 left (not pruned)") || !strings.Contains(text.String(), "apply with prune to delete it") {
		t.Errorf("text output does not say what was left:\n%s", text.String())
	}
	if !exists(t, ns, "removed") {
		t.Fatal("apply without prune deleted an object")
	}
	if _, err := c.Apply(ctx, app, only, ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}
	if exists(t, ns, "removed") {
		t.Error("a later pruning apply did not delete what was left")
	}
}

func TestPruneRefusedOnEmptyRender(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	if _, err := c.Apply(ctx, app, objects(t, ns, threeConfigMaps)[:2], ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, nil, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if set.Error == "" || set.HasChanges() {
		t.Fatalf("diff of an empty render: %+v", set)
	}
	if _, err := c.Apply(ctx, app, nil, ApplyOptions{Repository: testRepo, Prune: true}); !errors.Is(err, ErrEmptyRender) {
		t.Fatalf("apply of an empty render: %v, want ErrEmptyRender", err)
	}
	if !exists(t, ns, "stays") || !exists(t, ns, "removed") {
		t.Fatal("an empty render deleted objects")
	}
	app.AllowEmpty = true
	cs, err := c.Apply(ctx, app, nil, ApplyOptions{Repository: testRepo, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.Count(ChangeDeleted); n != 2 || exists(t, ns, "stays") {
		t.Errorf("allowEmpty: %d deleted, want 2", n)
	}
}

func TestInventorySurvivesRestart(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	if _, err := newClient(t).Apply(ctx, app, objects(t, ns, threeConfigMaps)[:2], ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}
	// A new process: new client, new discovery cache, nothing in memory.
	c := newClient(t)
	set, err := c.Diff(ctx, app, objects(t, ns, threeConfigMaps)[:1], DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(set)["ConfigMap/"+ns+"/removed"]; got != "delete" {
		t.Fatalf("after restart the removed object is %q, want delete", got)
	}
	// Two writers that read the same version: the second one loses.
	a, err := c.Inventory(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newClient(t).Inventory(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	a.Objects = a.Objects[:1]
	if err := c.WriteInventory(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteInventory(ctx, b); !errors.Is(err, ErrInventoryConflict) {
		t.Fatalf("stale write: %v, want ErrInventoryConflict", err)
	}
}

func TestIgnoreRules(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	docs := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: scaled, annotations: {team: a}}
spec:
  replicas: 2
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec: {containers: [{name: c, image: "registry.example/scaled:1"}]}
`
	if _, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	// An HPA-like manager scales it to 5 and takes /spec/replicas.
	scale := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "scaled", "namespace": ns},
		"spec": map[string]any{"replicas": int64(5)},
	}}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	if _, err := c.dynamic.Resource(gvr).Namespace(ns).Apply(ctx, "scaled", scale, metav1.ApplyOptions{FieldManager: "hpa-controller", Force: true}); err != nil {
		t.Fatal(err)
	}
	changed := objects(t, ns, docs)
	changed[0].SetAnnotations(map[string]string{"team": "b"})
	tests := []struct {
		name  string
		rules string
		want  string
		field []string
	}{
		{"no rule: the replicas conflict", "", "error", nil},
		{"pointer", "pointer", "update", []string{"metadata.annotations.team"}},
		{"manager", "manager", "update", []string{"metadata.annotations.team"}},
		{"pointer limited to another kind", "other-kind", "error", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := app
			switch tt.rules {
			case "pointer":
				a.Ignore = []config.IgnoreRule{{Kind: "Deployment", Pointers: []string{"/spec/replicas"}}}
			case "manager":
				a.Ignore = []config.IgnoreRule{{Managers: []string{"hpa-controller"}}}
			case "other-kind":
				a.Ignore = []config.IgnoreRule{{Kind: "StatefulSet", Pointers: []string{"/spec/replicas"}}}
			}
			set, err := c.Diff(ctx, a, changed, DefaultDiffOptions(testRepo))
			if err != nil {
				t.Fatal(err)
			}
			d := find(set, "Deployment/"+ns+"/scaled")
			got := string(d.Action)
			if d.Error != "" {
				got = "error"
			}
			if got != tt.want {
				t.Fatalf("action %s (%s), want %s", got, d.Error, tt.want)
			}
			if d := cmp.Diff(tt.field, d.Changed); d != "" {
				t.Errorf("changed (-want +got):\n%s", d)
			}
		})
	}
	// Apply with the manager rule keeps the HPA's replicas.
	app.Ignore = []config.IgnoreRule{{Managers: []string{"hpa-controller"}}}
	if _, err := c.Apply(ctx, app, changed, ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	dep, err := cluster.Client.AppsV1().Deployments(ns).Get(ctx, "scaled", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 5 || dep.Annotations["team"] != "b" {
		t.Errorf("after apply: replicas %d team %q, want 5 and b", *dep.Spec.Replicas, dep.Annotations["team"])
	}
}

// Apply skips an object only when nothing changed it since gantry's last
// apply; a change by anyone else is restored.
func TestApplySkipsOnlyUntouchedObjects(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	docs := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n"
	for i, want := range []string{"created", "unchanged"} {
		cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo})
		if err != nil {
			t.Fatal(err)
		}
		if got := changes(cs)["ConfigMap/"+ns+"/cm"]; got != want {
			t.Fatalf("apply %d: %s, want %s", i, got, want)
		}
	}
	time.Sleep(1100 * time.Millisecond) // managed-fields times have one-second resolution
	cm, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["k"] = "edited"
	if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	// Not skipped: the edit's manager now owns a field gantry applied, a
	// conflict that is drift: apply takes the field back, without force,
	// and says so.
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	e := cs.Objects[0]
	if e.Action != ChangeConfigured || !strings.Contains(e.Note, "data.k taken by kubectl-edit at ") || !strings.Contains(e.Note, "taken back") {
		t.Fatalf("apply after an edit: %s %q, want configured, taking data.k back from kubectl-edit", e.Action, e.Note)
	}
	if cm, _ := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, "cm", metav1.GetOptions{}); cm.Data["k"] != "v" {
		t.Errorf("edit not restored: %v", cm.Data)
	}
}

// After another manager's write, apply does what the diff said: unchanged
// when the write left gantry's fields alone, configured when it removed
// one (a removal leaves no newer managed-fields time behind).
func TestApplyAgreesWithDiffAfterOtherManagersWrite(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c := newClient(t)
	docs := `
apiVersion: v1
kind: ConfigMap
metadata: {name: %s, labels: {team: a}, annotations: {owner: gantry}}
data: {k: v, k2: v2}
`
	cms := cluster.Client.CoreV1().ConfigMaps(ns)
	edit := func(name, manager, patch string) error {
		_, err := cms.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: manager})
		return err
	}
	tests := []struct {
		name       string
		write      func(name string) error
		wantDiff   string
		wantChange string
	}{
		{"no write", func(string) error { return nil }, "unchanged", "unchanged"},
		{"annotation added by kubectl-edit", func(n string) error {
			cm, err := cms.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			cm.Annotations["note"] = "added by hand"
			_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
			return err
		}, "unchanged", "unchanged"},
		{"label added by a controller", func(n string) error {
			return edit(n, "some-controller", `{"metadata":{"labels":{"extra":"x"}}}`)
		}, "unchanged", "unchanged"},
		{"gantry's data key removed", func(n string) error {
			return edit(n, "kubectl-patch", `{"data":{"k2":null}}`)
		}, "update", "configured"},
		{"gantry's annotation removed", func(n string) error {
			return edit(n, "kubectl-patch", `{"metadata":{"annotations":{"owner":null}}}`)
		}, "update", "configured"},
	}
	apps := map[string]config.App{}
	for i, tt := range tests {
		name := fmt.Sprintf("cm-%d", i)
		apps[tt.name] = newApp(ns)
		if _, err := c.Apply(ctx, apps[tt.name], objects(t, ns, fmt.Sprintf(docs, name)), ApplyOptions{Repository: testRepo}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // managed-fields times have one-second resolution
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, app := fmt.Sprintf("cm-%d", i), apps[tt.name]
			ref := "ConfigMap/" + ns + "/" + name
			if err := tt.write(name); err != nil {
				t.Fatal(err)
			}
			set, err := c.Diff(ctx, app, objects(t, ns, fmt.Sprintf(docs, name)), DefaultDiffOptions(testRepo))
			if err != nil {
				t.Fatal(err)
			}
			cs, err := c.Apply(ctx, app, objects(t, ns, fmt.Sprintf(docs, name)), ApplyOptions{Repository: testRepo})
			if err != nil {
				t.Fatal(err)
			}
			got := []string{actions(set)[ref], changes(cs)[ref]}
			if d := cmp.Diff([]string{tt.wantDiff, tt.wantChange}, got); d != "" {
				t.Errorf("diff and apply (-want +got):\n%s", d)
			}
			cm, err := cms.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cm.Data["k2"] != "v2" || cm.Annotations["owner"] != "gantry" {
				t.Errorf("after apply: data %v annotations %v", cm.Data, cm.Annotations)
			}
		})
	}
}

// The kinds of the benchmark are skipped once applied: hasFields accepts
// what the API server returns for what gantry rendered.
func TestAppliedObjectsAreUpToDate(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	docs := `
apiVersion: v1
kind: ConfigMap
metadata: {name: cm, annotations: {a: b}}
data: {k: v}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {password: hunter2}
data: {token: dG9rZW4=}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, creationTimestamp: null}
spec:
  replicas: 1
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
      - name: c
        image: registry.example/d:1
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`
	if _, err := c.Apply(ctx, app, objects(t, ns, docs), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	ps, err := c.plan(ctx, testRepo, app, objects(t, ns, docs))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range ps {
		got[p.ref.String()] = hasFields(p.live, p.desired)
	}
	want := map[string]bool{
		"ConfigMap/" + ns + "/cm": true, "Secret/" + ns + "/s": true, "ServiceAccount/" + ns + "/sa": true,
		"Role/" + ns + "/r": true, "Deployment/" + ns + "/d": true,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("hasFields after apply (-want +got):\n%s", d)
	}
}
