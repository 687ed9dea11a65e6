package cluster

import (
	"encoding/base64"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/secretmask"
)

// A Secret's values never leave the cluster side, and nothing gantry
// shows may depend on them: a pull request must not be able to test a
// guessed value by rendering it and reading the plan. Every value of a
// Secret (data, stringData, and the last-applied annotation that copies
// them) is shown as maskHidden, and Secrets are compared with their values
// so masked on both sides. A reviewer sees which keys a Secret has, and
// which keys are added or removed; never a value, and never whether a
// value changed.
const (
	maskHidden  = secretmask.Hidden
	lastApplied = secretmask.LastApplied
	// placeholder stands in for every value of a Secret sent to a dry-run
	// over an existing Secret (see placeholderSecret).
	placeholder = "gantry-dry-run-placeholder"
)

// maskSecrets returns copies of before and after (either may be nil) with
// every value a Secret can leak through replaced by maskHidden: the values
// of data and stringData, and the last-applied annotation as a whole. Keys
// are kept, so added and removed keys still show.
func maskSecrets(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	return maskSecret(before), maskSecret(after)
}

// maskSecret is maskSecrets for one object.
func maskSecret(u *unstructured.Unstructured) *unstructured.Unstructured { return secretmask.Mask(u) }

// placeholderSecret returns a copy of a desired Secret with every value of
// data and stringData replaced by a placeholder, for a dry-run whose
// outcome must not depend on the rendered values. The keys whose content
// the API server validates get the smallest valid content instead.
func placeholderSecret(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	if m, ok := u.Object["data"].(map[string]any); ok {
		for k := range m {
			m[k] = base64.StdEncoding.EncodeToString([]byte(placeholderFor(k)))
		}
	}
	if m, ok := u.Object["stringData"].(map[string]any); ok {
		for k := range m {
			m[k] = placeholderFor(k)
		}
	}
	if ann := u.GetAnnotations(); ann != nil {
		if _, ok := ann[lastApplied]; ok {
			ann[lastApplied] = placeholder
			u.SetAnnotations(ann)
		}
	}
	return u
}

// placeholderFor is the placeholder of one key: valid content for the
// keys of the docker config Secret types, which the API server parses.
func placeholderFor(key string) string {
	switch key {
	case ".dockerconfigjson":
		return `{"auths":{}}`
	case ".dockercfg":
		return `{}`
	}
	return placeholder
}

// foldStringData returns a copy of a desired Secret with its stringData
// moved into data, base64-encoded, as the API server stores it.
func foldStringData(u *unstructured.Unstructured) *unstructured.Unstructured {
	u = u.DeepCopy()
	sd, ok := u.Object["stringData"].(map[string]any)
	if !ok {
		return u
	}
	data, _ := u.Object["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	u.Object["data"] = data
	delete(u.Object, "stringData")
	return u
}

// immutable reports whether a live Secret is immutable.
func immutable(u *unstructured.Unstructured) bool {
	b, _, _ := unstructured.NestedBool(u.Object, "immutable")
	return b
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
func secretValues(objs ...*unstructured.Unstructured) []string { return secretmask.Values(objs...) }

// scrub replaces every secret value in msg with the hidden marker.
func scrub(msg string, values []string) string { return secretmask.Scrub(msg, values) }
