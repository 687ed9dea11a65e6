package cluster

import (
	"bytes"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// applyPreview approximates what a server-side apply of desired does to
// live, for an object that cannot be dry-run yet (its kind's version is
// served only once its CRD is applied). Like apply it sets desired's
// fields, keeps the fields of other managers, and removes the fields gantry
// owned that desired no longer sets, unless another manager owns them
// too. Unlike apply it knows no schema: maps are merged, lists replaced,
// and defaults are not filled in.
func applyPreview(live, desired *unstructured.Unstructured) *unstructured.Unstructured {
	desired = canonical(desired)
	if live == nil {
		return desired
	}
	out := live.DeepCopy()
	mine, others := ownedFields(live)
	mine.Leaves().Iterate(func(fp fieldpath.Path) {
		if others.Has(fp) {
			return
		}
		// The field names down to the first list element: a list is
		// replaced as a whole, so only a list desired no longer sets, and
		// nobody else has fields in, goes.
		var names []string
		for _, pe := range fp {
			if pe.FieldName == nil {
				break
			}
			names = append(names, *pe.FieldName)
		}
		if len(names) == 0 {
			return
		}
		if _, ok := get(desired.Object, names); ok {
			return
		}
		if len(names) < len(fp) && ownsUnder(others, names) {
			return
		}
		remove(out.Object, names)
	})
	mergeMaps(out.Object, desired.Object)
	return out
}

// canonical returns a copy of u with numbers as the API server returns
// them (int64 for integers), so a rendered 3.0 equals a live 3.
func canonical(u *unstructured.Unstructured) *unstructured.Unstructured {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return u.DeepCopy()
	}
	out := &unstructured.Unstructured{}
	if err := out.UnmarshalJSON(b); err != nil {
		return u.DeepCopy()
	}
	return out
}

// ownedFields returns the fields gantry's apply owns in u and those any
// other manager owns (status aside).
func ownedFields(u *unstructured.Unstructured) (mine, others *fieldpath.Set) {
	mine, others = &fieldpath.Set{}, &fieldpath.Set{}
	for _, mf := range u.GetManagedFields() {
		if mf.FieldsV1 == nil || mf.Subresource != "" {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			continue
		}
		if mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			mine = mine.Union(s)
		} else {
			others = others.Union(s)
		}
	}
	return mine, others
}

// ownsUnder reports whether s has a field under the map path names.
func ownsUnder(s *fieldpath.Set, names []string) bool {
	found := false
	s.Iterate(func(fp fieldpath.Path) {
		if found || len(fp) <= len(names) {
			return
		}
		for i, n := range names {
			if fp[i].FieldName == nil || *fp[i].FieldName != n {
				return
			}
		}
		found = true
	})
	return found
}

// mergeMaps sets every field of src on dst: maps merged, other values
// (lists included) replaced, nulls skipped as apply skips them.
func mergeMaps(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			continue
		}
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			mergeMaps(dm, sm)
			continue
		}
		dst[k] = runtime.DeepCopyJSONValue(v)
	}
}
