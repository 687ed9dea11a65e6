package policy

import (
	"errors"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/secretmask"
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
	SecretMask = secretmask.Hidden
)

// DecryptedMarker is the top-level sops field of a decrypted Secret as
// policies see it: policies written for encrypted files in Git (conftest's
// `not input.sops`, the starter pack's no-plain-secret) treat it as
// encrypted. Render refuses any object that keeps a sops field of its
// own, so only gantry sets it.
var DecryptedMarker = map[string]any{"decrypted": "gantry"}

// sealDecrypted returns in with every Decrypted object's values masked
// for every policy set, trusted ones included: a value decrypted from Git
// is for the cluster alone. The live object is masked too, as it holds
// the same values once applied.
func sealDecrypted(in Input) Input {
	out := in
	copied := false
	for i, o := range in.Objects {
		if !o.Decrypted || o.Obj == nil {
			continue
		}
		if !copied {
			out.Objects = slices.Clone(in.Objects)
			copied = true
		}
		obj := secretmask.Mask(o.Obj) // a copy for a Secret
		if obj == o.Obj {
			obj = o.Obj.DeepCopy()
		}
		obj.Object["sops"] = maps.Clone(DecryptedMarker)
		out.Objects[i].Obj = obj
		out.Objects[i].Live = secretmask.Mask(o.Live)
	}
	return out
}

// maskedInput returns in with every Secret masked, sharing what needs no
// masking; and whether there was any Secret at all.
func maskedInput(in Input) (Input, bool) {
	found := false
	out := in
	out.Objects = make([]Object, len(in.Objects))
	for i, o := range in.Objects {
		found = found || secretmask.IsSecret(o.Obj) || secretmask.IsSecret(o.Live)
		o.Obj, o.Live = secretmask.Mask(o.Obj), secretmask.Mask(o.Live)
		out.Objects[i] = o
	}
	out.Inventory = make([]*unstructured.Unstructured, len(in.Inventory))
	for i, u := range in.Inventory {
		found = found || secretmask.IsSecret(u)
		out.Inventory[i] = secretmask.Mask(u)
	}
	if !found {
		return in, false
	}
	return out, true
}

// secretValues lists every Secret value of the input in each form a
// policy could echo it (see secretmask.Values).
func secretValues(in Input) []string {
	var objs []*unstructured.Unstructured
	for _, o := range in.Objects {
		objs = append(objs, o.Obj, o.Live)
	}
	objs = append(objs, in.Inventory...)
	return secretmask.Values(objs...)
}

// scrubber replaces Secret values in what policies return.
type scrubber struct{ values []string }

// text returns s with every value replaced by SecretMask.
func (s scrubber) text(t string) string { return secretmask.Scrub(t, s.values) }

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
