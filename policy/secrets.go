package policy

import (
	"cmp"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Secret values never leave the cluster side. Two rules keep them out of
// what policies publish:
//   - A repository's policy sets (Trust Repository) see every Secret with
//     its values masked: input.object, input.live, Gatekeeper's
//     input.review.object and oldObject, and data.inventory keep each key
//     of data and stringData with the value SecretMask, and the
//     last-applied annotation as SecretMask. Whoever can change a
//     repository's policies cannot read, or test, a live value. Trusted
//     sets, from the server's configuration, see the values.
//   - Every finding message (and its metadata) and every evaluation error,
//     of every set, is scrubbed of every Secret value in the evaluated
//     input, raw and base64-decoded (stringData: raw and encoded), so a
//     trusted policy that echoes a value does not publish it either.
const (
	// SecretMask stands in for a Secret's values where a policy set may
	// not see them, and for a value scrubbed from a message.
	SecretMask  = "(hidden)"
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	// minScrub is the shortest value scrubbed: shorter ones would garble
	// every message and say little.
	minScrub = 3
)

// isSecret reports whether u is a core Secret.
func isSecret(u *unstructured.Unstructured) bool {
	return u != nil && u.GetKind() == "Secret" && u.GetAPIVersion() == "v1"
}

// maskSecret returns u, or for a Secret a copy with its values masked (see
// above).
func maskSecret(u *unstructured.Unstructured) *unstructured.Unstructured {
	if !isSecret(u) {
		return u
	}
	u = u.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		switch m := u.Object[field].(type) {
		case map[string]any:
			for k := range m {
				m[k] = SecretMask
			}
		case nil:
		default:
			u.Object[field] = SecretMask
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		if a, ok := md["annotations"].(map[string]any); ok {
			if _, ok := a[lastApplied]; ok {
				a[lastApplied] = SecretMask
			}
		}
	}
	return u
}

// maskedInput returns in with every Secret masked, sharing what needs no
// masking; and whether there was any Secret at all.
func maskedInput(in Input) (Input, bool) {
	found := false
	out := in
	out.Objects = make([]Object, len(in.Objects))
	for i, o := range in.Objects {
		found = found || isSecret(o.Obj) || isSecret(o.Live)
		o.Obj, o.Live = maskSecret(o.Obj), maskSecret(o.Live)
		out.Objects[i] = o
	}
	out.Inventory = make([]*unstructured.Unstructured, len(in.Inventory))
	for i, u := range in.Inventory {
		found = found || isSecret(u)
		out.Inventory[i] = maskSecret(u)
	}
	if !found {
		return in, false
	}
	return out, true
}

// secretValues lists every Secret value of the input in each form a
// policy could echo it, longest first, so a value holding another is
// scrubbed whole.
func secretValues(in Input) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if len(s) >= minScrub && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	each := func(u *unstructured.Unstructured) {
		if !isSecret(u) {
			return
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
		if s, ok, _ := unstructured.NestedString(u.Object, "metadata", "annotations", lastApplied); ok {
			add(s)
		}
	}
	for _, o := range in.Objects {
		each(o.Obj)
		each(o.Live)
	}
	for _, u := range in.Inventory {
		each(u)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b)) })
	return out
}

// scrubber replaces Secret values in what policies return.
type scrubber struct{ values []string }

// text returns s with every value replaced by SecretMask.
func (s scrubber) text(t string) string {
	for _, v := range s.values {
		if strings.Contains(t, v) {
			t = strings.ReplaceAll(t, v, SecretMask)
		}
	}
	return t
}

// value scrubs the strings of a decoded JSON value, map keys included.
func (s scrubber) value(v any) any {
	switch x := v.(type) {
	case string:
		return s.text(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[s.text(k)] = s.value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.value(e)
		}
		return out
	}
	return v
}

// finding scrubs a finding's message and metadata.
func (s scrubber) finding(f *Finding) {
	f.Message = s.text(f.Message)
	if f.Metadata != nil {
		f.Metadata, _ = s.value(f.Metadata).(map[string]any)
	}
}

// evalError scrubs an evaluation error's message. The original error is
// dropped, not wrapped, so no unwrapping reaches its text; its limit and
// timeout were read before.
func (s scrubber) evalError(e *EvalError) {
	if e.Err == nil {
		return
	}
	if msg := e.Err.Error(); s.text(msg) != msg {
		e.Err = errors.New(s.text(msg))
	}
}
