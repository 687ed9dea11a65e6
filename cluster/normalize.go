package cluster

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// serverMetadata are the metadata fields the API server sets and a diff
// must not show: they change on every write or say nothing about intent.
var serverMetadata = []string{
	"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp",
	"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
}

// normalize returns a copy of u without status, the server-set metadata
// and gantry's bookkeeping marks (AppliedAnnotation, the repository's
// label and annotation), the form in which a live object and a dry-run result are
// compared. Both sides come from the API server, so defaults and webhook
// mutations are already on both.
func normalize(u *unstructured.Unstructured) *unstructured.Unstructured {
	if u == nil {
		return nil
	}
	n := u.DeepCopy()
	delete(n.Object, "status")
	if md, ok := n.Object["metadata"].(map[string]any); ok {
		for _, f := range serverMetadata {
			delete(md, f)
		}
		// gantry's bookkeeping, the same on every object of a repository:
		// the hash of the applied object and the repository's marks.
		if a, ok := md["annotations"].(map[string]any); ok {
			delete(a, AppliedAnnotation)
			delete(a, RepositoryAnnotation)
		}
		if l, ok := md["labels"].(map[string]any); ok {
			delete(l, RepositoryLabel)
		}
		for _, f := range []string{"annotations", "labels"} {
			if m, ok := md[f].(map[string]any); ok && len(m) == 0 {
				delete(md, f)
			}
		}
	}
	return n
}

// stamp sets AppliedAnnotation on the desired object to a hash of the
// rest of it (of its stampedForm: a Secret's values masked); called once
// the object is final (ignore rules applied), by diff and apply alike.
func stamp(u *unstructured.Unstructured) {
	ann := u.GetAnnotations()
	delete(ann, AppliedAnnotation)
	if len(ann) == 0 {
		ann = nil // no empty map left behind to change the hash
	}
	u.SetAnnotations(ann)
	b, _ := json.Marshal(stampedForm(u).Object)
	sum := sha256.Sum256(b)
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AppliedAnnotation] = hex.EncodeToString(sum[:12])
	u.SetAnnotations(ann)
}

// upToDate reports whether applying desired over live is provably a
// no-op: live carries the hash of the same desired object, gantry's apply
// is the newest write to the object (status writes aside), so no one
// changed or took a field since, and live still has every field of
// desired, for a write that only removes fields leaves no newer time.
// Managed-fields times have one-second resolution, so a write in the same
// second as gantry's counts as newer.
func upToDate(desired, live *unstructured.Unstructured) bool {
	if live == nil || live.GetAnnotations()[AppliedAnnotation] != desired.GetAnnotations()[AppliedAnnotation] {
		return false
	}
	if !hasFields(live, desired) {
		return false
	}
	entries := writes(live)
	var mine time.Time
	found := false
	for _, w := range entries {
		if w.manager == FieldManager && w.operation == string(metav1.ManagedFieldsOperationApply) && w.subresource == "" && !w.time.IsZero() {
			mine, found = w.time, true
		}
	}
	if !found {
		return false
	}
	for _, w := range entries {
		if w.manager == FieldManager && w.operation == string(metav1.ManagedFieldsOperationApply) && w.subresource == "" {
			continue
		}
		if w.subresource == "status" {
			continue
		}
		if w.time.IsZero() || !w.time.Before(mine) {
			return false
		}
	}
	return true
}

// write is one managed-fields entry of an object, without its fields.
type write struct {
	manager, operation, subresource string
	// time is zero when the entry has none, or one that does not parse.
	time time.Time
}

// writes reads the managed-fields entries of u straight from its map:
// GetManagedFields converts every entry's field set too, which made it
// most of the cost of a diff that skips its dry-runs.
func writes(u *unstructured.Unstructured) []write {
	v, _, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "managedFields")
	list, _ := v.([]any)
	out := make([]write, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		w := write{}
		w.manager, _ = m["manager"].(string)
		w.operation, _ = m["operation"].(string)
		w.subresource, _ = m["subresource"].(string)
		if s, ok := m["time"].(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				w.time = t
			}
		}
		out = append(out, w)
	}
	return out
}

// equal reports whether two normalized objects are the same.
func equal(a, b *unstructured.Unstructured) bool {
	return equality.Semantic.DeepEqual(a.Object, b.Object)
}

// changedPaths lists the leaf paths that differ between two objects, like
// spec.replicas or spec.template.spec.containers[0].image, sorted.
func changedPaths(before, after map[string]any) []string {
	var out []string
	diffValues("", before, after, &out)
	sort.Strings(out)
	return slices.Compact(out)
}

func diffValues(path string, a, b any, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		for k, av := range am {
			diffValues(join(path, k), av, bm[k], out)
		}
		for k, bv := range bm {
			if _, ok := am[k]; !ok {
				diffValues(join(path, k), nil, bv, out)
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		for i := range al {
			diffValues(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i], out)
		}
		return
	}
	if !equality.Semantic.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// hasFields reports whether live has every field desired sets, with the
// same value: maps may have more keys, lists more elements (other
// managers' items), in the same order. A Secret's stringData is compared
// with its data. Values the API server rewrites (quantities like 1000m)
// make it false, which only costs an apply.
func hasFields(live, desired *unstructured.Unstructured) bool {
	want := desired.Object
	if isSecret(RefOf(desired)) {
		if sd, ok := want["stringData"].(map[string]any); ok && len(sd) > 0 {
			want = runtime.DeepCopyJSON(want)
			data, _ := want["data"].(map[string]any)
			if data == nil {
				data = map[string]any{}
			}
			for k, v := range sd {
				if s, ok := v.(string); ok {
					data[k] = base64.StdEncoding.EncodeToString([]byte(s))
				}
			}
			want["data"] = data
			delete(want, "stringData")
		}
	}
	for k, v := range want {
		if k == "status" {
			continue // a status subresource ignores it
		}
		if !hasValue(live.Object[k], v) {
			return false
		}
	}
	return true
}

// hasValue reports whether live has the value desired, as hasFields
// describes.
func hasValue(live, desired any) bool {
	switch d := desired.(type) {
	case nil:
		return true
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		for k, v := range d {
			if !hasValue(l[k], v) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		i := 0
		for _, v := range d {
			for i < len(l) && !hasValue(l[i], v) {
				i++
			}
			if i == len(l) {
				return false
			}
			i++
		}
		return true
	}
	if a, ok := number(live); ok {
		if b, ok := number(desired); ok {
			return a == b
		}
	}
	return equality.Semantic.DeepEqual(live, desired)
}

// number returns v as a float64 when it is a JSON number, decoded as an
// int64 by the API client and as a float64 by a YAML parser.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	return 0, false
}
