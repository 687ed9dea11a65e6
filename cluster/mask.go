package cluster

import (
	"encoding/base64"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The markers that stand in for a Secret's values. A reviewer sees which
// keys exist and which changed, never a value.
const (
	maskHidden  = "(hidden)"
	maskBefore  = "(before: hidden)"
	maskAfter   = "(after: hidden, changed)"
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// maskSecrets replaces, in copies of before and after (either may be nil),
// every value a Secret can leak through: data, stringData and the
// last-applied annotation. A key whose value differs gets the before and
// after markers, so the diff still shows that it changed.
func maskSecrets(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	if before != nil {
		before = before.DeepCopy()
	}
	if after != nil {
		after = after.DeepCopy()
	}
	for _, field := range []string{"data", "stringData"} {
		maskMaps(field, before, after)
	}
	maskMaps("metadata.annotations."+lastApplied, before, after)
	return before, after
}

// maskMaps masks the values under one field of both objects. A field path
// with dots names a nested string (the last-applied annotation) that is
// masked as a whole.
func maskMaps(field string, before, after *unstructured.Unstructured) {
	path := strings.Split(field, ".")
	if len(path) > 1 {
		path = []string{"metadata", "annotations", lastApplied}
		b, bok := nestedString(before, path)
		a, aok := nestedString(after, path)
		switch {
		case bok && aok && a != b:
			_ = unstructured.SetNestedField(before.Object, maskBefore, path...)
			_ = unstructured.SetNestedField(after.Object, maskAfter, path...)
		default:
			if bok {
				_ = unstructured.SetNestedField(before.Object, maskHidden, path...)
			}
			if aok {
				_ = unstructured.SetNestedField(after.Object, maskHidden, path...)
			}
		}
		return
	}
	bm := nestedMap(before, field)
	am := nestedMap(after, field)
	for k, bv := range bm {
		if av, ok := am[k]; ok && av != bv {
			bm[k], am[k] = maskBefore, maskAfter
			continue
		}
		bm[k] = maskHidden
		if _, ok := am[k]; ok {
			am[k] = maskHidden
		}
	}
	for k := range am {
		if _, ok := bm[k]; !ok {
			am[k] = maskHidden
		}
	}
}

func nestedMap(u *unstructured.Unstructured, field string) map[string]any {
	if u == nil {
		return nil
	}
	m, _ := u.Object[field].(map[string]any)
	return m
}

func nestedString(u *unstructured.Unstructured, path []string) (string, bool) {
	if u == nil {
		return "", false
	}
	s, ok, _ := unstructured.NestedString(u.Object, path...)
	return s, ok
}

// secretValues lists every value of the given Secrets, decoded and
// encoded, so error messages can be scrubbed of them.
func secretValues(objs ...*unstructured.Unstructured) []string {
	var out []string
	add := func(s string) {
		if len(s) >= 3 {
			out = append(out, s)
		}
	}
	for _, u := range objs {
		if u == nil {
			continue
		}
		for _, v := range nestedMap(u, "data") {
			if s, ok := v.(string); ok {
				add(s)
				if d, err := base64.StdEncoding.DecodeString(s); err == nil {
					add(string(d))
				}
			}
		}
		for _, v := range nestedMap(u, "stringData") {
			if s, ok := v.(string); ok {
				add(s)
				add(base64.StdEncoding.EncodeToString([]byte(s)))
			}
		}
		if s, ok := nestedString(u, []string{"metadata", "annotations", lastApplied}); ok {
			add(s)
		}
	}
	return out
}

// scrub replaces every secret value in msg with the hidden marker.
func scrub(msg string, values []string) string {
	for _, v := range values {
		msg = strings.ReplaceAll(msg, v, maskHidden)
	}
	return msg
}
