package cluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestApplyPreview(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	live := func(mfs ...metav1.ManagedFieldsEntry) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "example.com/v1alpha1", "kind": "Gadget", "metadata": map[string]any{"name": "g"},
			"spec": map[string]any{"a": "1", "b": "2", "list": []any{"x", "y"}},
		}}
		u.SetManagedFields(mfs)
		return u
	}
	desired := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": map[string]any{"name": "g"},
		"spec": map[string]any{"a": float64(3)},
	}}
	gantrySpec := `{"f:spec":{"f:a":{},"f:b":{},"f:list":{}}}`
	tests := []struct {
		name string
		live *unstructured.Unstructured
		want map[string]any
	}{
		{"no live object", nil, map[string]any{"a": int64(3)}},
		{"gantry's unrendered fields go", live(entry(FieldManager, metav1.ManagedFieldsOperationApply, gantrySpec)),
			map[string]any{"a": int64(3)}},
		{"co-owned fields stay", live(entry(FieldManager, metav1.ManagedFieldsOperationApply, gantrySpec),
			entry("other", metav1.ManagedFieldsOperationUpdate, `{"f:spec":{"f:b":{}}}`)),
			map[string]any{"a": int64(3), "b": "2"}},
		{"other managers' fields stay", live(entry(FieldManager, metav1.ManagedFieldsOperationApply, `{"f:spec":{"f:a":{}}}`)),
			map[string]any{"a": int64(3), "b": "2", "list": []any{"x", "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := applyPreview(tt.live, desired)
			if d := cmp.Diff(tt.want, got.Object["spec"]); d != "" {
				t.Errorf("spec (-want +got):\n%s", d)
			}
			if got.GetAPIVersion() != "example.com/v1" {
				t.Errorf("apiVersion %s, want the desired one", got.GetAPIVersion())
			}
		})
	}
}
