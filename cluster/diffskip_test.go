package cluster

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestDryRunSkippedOnlyWhenApplyIsProvablyANoOp holds the rule that lets a
// diff skip a dry-run: the live object is the one gantry last applied
// from the same render, no one wrote to it since, and it still holds
// every field gantry sets. Everything else is dry-run.
func TestDryRunSkippedOnlyWhenApplyIsProvablyANoOp(t *testing.T) {
	applied := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub string, at time.Time) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, Time: &metav1.Time{Time: at}}
	}
	gantryApply := entry(FieldManager, metav1.ManagedFieldsOperationApply, "", applied)
	configMap := func(data map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "cm", "namespace": "ns", "labels": map[string]any{"team": "a"}},
			"data":     data,
		}}
		markOwner(u, testRepo, "app")
		stamp(u)
		return u
	}
	secret := func(field string, data map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "s", "namespace": "ns"},
			field:      data,
		}}
		markOwner(u, testRepo, "app")
		stamp(u)
		return u
	}
	// liveOf is what the API server holds after gantry applied desired,
	// then edit changed it.
	liveOf := func(desired *unstructured.Unstructured, edit func(*unstructured.Unstructured), mfs ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
		l := foldStringData(desired)
		l.SetManagedFields(mfs)
		if edit != nil {
			edit(l)
		}
		return l
	}
	cm := configMap(map[string]any{"k": "v"})
	cmChanged := configMap(map[string]any{"k": "w"})
	tests := []struct {
		name    string
		desired *unstructured.Unstructured
		live    *unstructured.Unstructured
		tweak   func(*planned)
		want    bool
	}{
		{"applied by gantry, untouched since", cm, liveOf(cm, nil, gantryApply), nil, true},
		{"only status written since", cm, liveOf(cm, nil, gantryApply,
			entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", applied.Add(time.Minute))), nil, true},
		{"another manager wrote before gantry's apply", cm, liveOf(cm, nil,
			entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", applied.Add(-time.Minute)), gantryApply), nil, true},
		{"deleted from the cluster", cm, nil, nil, false},
		{"render changed since the apply (older hash)", cmChanged, liveOf(cm, nil, gantryApply), nil, false},
		{"never applied by gantry (no hash)", cm, liveOf(cm, func(l *unstructured.Unstructured) {
			a := l.GetAnnotations()
			delete(a, AppliedAnnotation)
			l.SetAnnotations(a)
		}, entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "", applied)), nil, false},
		{"hash present but no apply of gantry's recorded", cm, liveOf(cm, nil,
			entry(FieldManager, metav1.ManagedFieldsOperationUpdate, "", applied)), nil, false},
		{"another manager wrote after gantry (kubectl label)", cm, liveOf(cm, func(l *unstructured.Unstructured) {
			l.SetLabels(map[string]string{"team": "a", "extra": "x", AppLabel: "app", RepositoryLabel: RepositoryHash(testRepo)})
		}, gantryApply, entry("kubectl-label", metav1.ManagedFieldsOperationUpdate, "", applied.Add(time.Second))), nil, false},
		{"another manager wrote in the same second", cm, liveOf(cm, nil, gantryApply,
			entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", applied)), nil, false},
		{"scaled through a subresource after gantry", cm, liveOf(cm, nil, gantryApply,
			entry("kubectl-scale", metav1.ManagedFieldsOperationUpdate, "scale", applied.Add(time.Second))), nil, false},
		{"a field gantry sets was removed (no newer time)", cm, liveOf(cm, func(l *unstructured.Unstructured) {
			unstructured.RemoveNestedField(l.Object, "metadata", "labels", "team")
		}, gantryApply), nil, false},
		{"a value gantry sets differs", cm, liveOf(cm, func(l *unstructured.Unstructured) {
			l.Object["data"] = map[string]any{"k": "other"}
		}, gantryApply), nil, false},
		{"owned by another app", cm, liveOf(cm, nil, gantryApply), func(p *planned) { p.conflict, p.live = "app \"x\"", nil }, false},
		{"kind served only after its CRD is applied", cm, liveOf(cm, nil, gantryApply), func(p *planned) { p.pending = "its CRD" }, false},
		// A Secret is judged by its keys, whatever its values: the same
		// answer for a changed value as for an unchanged one.
		{"Secret untouched", secret("data", map[string]any{"p": "YQ=="}),
			liveOf(secret("data", map[string]any{"p": "YQ=="}), nil, gantryApply), nil, true},
		{"Secret value changed in Git", secret("data", map[string]any{"p": "Yg=="}),
			liveOf(secret("data", map[string]any{"p": "YQ=="}), nil, gantryApply), nil, true},
		{"Secret stringData applied as data", secret("stringData", map[string]any{"p": "a"}),
			liveOf(secret("stringData", map[string]any{"p": "a"}), nil, gantryApply), nil, true},
		{"Secret key added in Git", secret("data", map[string]any{"p": "YQ==", "q": "YQ=="}),
			liveOf(secret("data", map[string]any{"p": "YQ=="}), nil, gantryApply), nil, false},
		{"Secret key removed live", secret("data", map[string]any{"p": "YQ=="}),
			liveOf(secret("data", map[string]any{"p": "YQ=="}), func(l *unstructured.Unstructured) { l.Object["data"] = map[string]any{} }, gantryApply), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &planned{ref: RefOf(tt.desired), desired: tt.desired, live: tt.live, mapping: &meta.RESTMapping{}}
			if tt.tweak != nil {
				tt.tweak(p)
			}
			if got := dryRunSkippable(p); got != tt.want {
				t.Errorf("dryRunSkippable = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSecretHashSaysNothingOfValues holds that AppliedAnnotation, which
// anyone who can read a Secret sees, is the same for every value of its
// keys and differs when a key or anything else changes.
func TestSecretHashSaysNothingOfValues(t *testing.T) {
	hash := func(kind string, data map[string]any) string {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": kind, "metadata": map[string]any{"name": "s"}, "data": data,
		}}
		stamp(u)
		return u.GetAnnotations()[AppliedAnnotation]
	}
	a, b := hash("Secret", map[string]any{"p": "YQ=="}), hash("Secret", map[string]any{"p": "Yg=="})
	if a != b {
		t.Errorf("Secret hashes differ with the value only: %s, %s", a, b)
	}
	if c := hash("Secret", map[string]any{"q": "YQ=="}); c == a {
		t.Errorf("Secret hash unchanged when its key changed: %s", c)
	}
	if x, y := hash("ConfigMap", map[string]any{"p": "a"}), hash("ConfigMap", map[string]any{"p": "b"}); x == y {
		t.Errorf("ConfigMap hash unchanged when a value changed: %s", x)
	}
}

// TestStampIsIdempotent holds that stamping an object twice (plan, then
// resolvePending for a custom resource) gives the hash of one stamp, so
// diff and apply agree on it.
func TestStampIsIdempotent(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"k": "v"},
	}}
	stamp(u)
	once := u.GetAnnotations()[AppliedAnnotation]
	stamp(u)
	if twice := u.GetAnnotations()[AppliedAnnotation]; twice != once {
		t.Errorf("second stamp = %s, first %s", twice, once)
	}
}
