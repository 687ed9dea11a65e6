// Package secretmask hides the values of Kubernetes Secrets: one mask for
// every value wherever gantry shows a Secret or hands it to a repository's
// policies, and one list of the forms a value can be echoed in, to scrub
// them from any text. cluster (diffs, API errors) and policy (inputs,
// findings) both use it, so a Secret is hidden the same way everywhere.
package secretmask

import (
	"cmp"
	"encoding/base64"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Hidden stands in for every Secret value, changed or not: telling the two
// apart would let a pull request test a guessed value.
const Hidden = "(hidden)"

// LastApplied is the annotation that copies an object's applied form, a
// Secret's values included.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// minScrub is the shortest value scrubbed: shorter ones would garble every
// message and say little.
const minScrub = 3

// IsSecret reports whether u is a core Secret.
func IsSecret(u *unstructured.Unstructured) bool {
	return u != nil && u.GetKind() == "Secret" && u.GetAPIVersion() == "v1"
}

// Mask returns u, or for a Secret a copy in which every value of data and
// stringData and the last-applied annotation are Hidden. Keys are kept, so
// added and removed keys still show.
func Mask(u *unstructured.Unstructured) *unstructured.Unstructured {
	if !IsSecret(u) {
		return u
	}
	u = u.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		switch m := u.Object[field].(type) {
		case map[string]any:
			for k := range m {
				m[k] = Hidden
			}
		case nil:
		default:
			u.Object[field] = Hidden // not a map: the API server rejects it, and shows nothing
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		if a, ok := md["annotations"].(map[string]any); ok {
			if _, ok := a[LastApplied]; ok {
				a[LastApplied] = Hidden
			}
		}
	}
	return u
}

// Values lists every value of the Secrets among objs in each form text
// could echo it (data raw and decoded, stringData raw and encoded, the
// last-applied annotation), longest first so a value holding another is
// scrubbed whole.
func Values(objs ...*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minScrub && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, u := range objs {
		if !IsSecret(u) {
			continue
		}
		if m, ok := u.Object["data"].(map[string]any); ok {
			for _, v := range m {
				if s, ok := v.(string); ok {
					add(s)
					if d, err := base64.StdEncoding.DecodeString(s); err == nil {
						add(string(d))
					}
				}
			}
		}
		if m, ok := u.Object["stringData"].(map[string]any); ok {
			for _, v := range m {
				if s, ok := v.(string); ok {
					add(s)
					add(base64.StdEncoding.EncodeToString([]byte(s)))
				}
			}
		}
		if s, ok, _ := unstructured.NestedString(u.Object, "metadata", "annotations", LastApplied); ok {
			add(s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return out
}

// Scrub replaces every one of values (from Values) in text with Hidden.
func Scrub(text string, values []string) string {
	for _, v := range values {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, Hidden)
		}
	}
	return text
}
