package cluster

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantryops/gantry/nondet"
)

// takeUnstable removes nondet.FieldsAnnotation from the desired object
// and returns the fields it lists (nil without it, or when it does not
// parse: render writes it, so that is a bug, and the object is then
// applied as rendered). The annotation never reaches the API server.
func takeUnstable(desired *unstructured.Unstructured) [][]string {
	ann := desired.GetAnnotations()
	v, ok := ann[nondet.FieldsAnnotation]
	if !ok {
		return nil
	}
	delete(ann, nondet.FieldsAnnotation)
	if len(ann) == 0 {
		ann = nil
	}
	desired.SetAnnotations(ann)
	fields, err := nondet.Decode(v)
	if err != nil {
		return nil
	}
	return fields
}

// unmarked returns u without nondet.FieldsAnnotation, a copy when it has
// it: the form of a rendered object that drift shows and writes to Git.
func unmarked(u *unstructured.Unstructured) *unstructured.Unstructured {
	if _, ok := u.GetAnnotations()[nondet.FieldsAnnotation]; !ok {
		return u
	}
	c := u.DeepCopy()
	takeUnstable(c)
	return c
}

// keepUnstable decides, for each field of the desired object that is not
// deterministic, whether it takes the live value (see nondet.Decide):
// kept while the live object was produced by the same chart inputs, the
// render's value when the inputs changed, the live object lacks the field
// or does not exist. Called where desired objects are prepared for a
// diff, an apply and a drift check alike (plan), so the three agree: a
// plan shows no change, an apply rewrites nothing, and drift is not
// reported for these fields. A Secret's stringData field, which the live
// object holds only in data, takes the live data value.
func keepUnstable(desired, live *unstructured.Unstructured, fields [][]string) []nondet.Field {
	if len(fields) == 0 {
		return nil
	}
	secret := isSecret(RefOf(desired))
	var liveInputs string
	if live != nil {
		liveInputs = live.GetAnnotations()[nondet.InputsAnnotation]
	}
	renderInputs := desired.GetAnnotations()[nondet.InputsAnnotation]
	out := make([]nondet.Field, 0, len(fields))
	for _, f := range fields {
		if len(f) == 2 && f[0] == "metadata" && f[1] == "name" {
			out = append(out, nondet.Field{Path: ".metadata.name", Outcome: nondet.GeneratedName})
			continue
		}
		if len(f) == 0 || protected(f) {
			continue
		}
		if _, ok := get(desired.Object, f); !ok {
			continue
		}
		field := nondet.Field{Path: nondet.Display(desired.Object, f)}
		if secret && len(f) == 2 && (f[0] == "data" || f[0] == "stringData") {
			field.SecretKey = f[1]
		}
		var liveValue any
		liveHas := false
		stored := f
		if live != nil {
			if secret && len(f) == 2 && f[0] == "stringData" {
				stored = []string{"data", f[1]} // stringData is write-only
			}
			liveValue, liveHas = liveAt(live.Object, desired.Object, stored)
		}
		field.Outcome = nondet.Decide(live != nil, liveHas, liveInputs, renderInputs)
		if field.Outcome == nondet.KeptLive {
			if len(stored) != len(f) || stored[0] != f[0] {
				remove(desired.Object, f)
				setPath(desired.Object, stored, runtime.DeepCopyJSONValue(liveValue))
			} else {
				set(desired.Object, f, runtime.DeepCopyJSONValue(liveValue))
			}
		}
		out = append(out, field)
	}
	if secret {
		if sd, ok := desired.Object["stringData"].(map[string]any); ok && len(sd) == 0 {
			delete(desired.Object, "stringData")
		}
	}
	return out
}

// liveAt returns the live value of the field at tokens of the desired
// object. A list element is matched by its "name" when the desired one has
// one (a webhook may have added containers or env entries, so indexes
// differ), else by index only when both lists have the same length; no
// match is no live value.
func liveAt(live, desired any, tokens []string) (any, bool) {
	for _, t := range tokens {
		switch l := live.(type) {
		case map[string]any:
			d, _ := desired.(map[string]any)
			v, ok := l[t]
			if !ok {
				return nil, false
			}
			live, desired = v, d[t]
		case []any:
			d, _ := desired.([]any)
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(d) {
				return nil, false
			}
			j := -1
			if name, ok := elementName(d[i]); ok {
				for k, e := range l {
					if n, ok := elementName(e); ok && n == name {
						j = k
						break
					}
				}
			} else if len(l) == len(d) {
				j = i
			}
			if j < 0 {
				return nil, false
			}
			live, desired = l[j], d[i]
		default:
			return nil, false
		}
	}
	return live, true
}

// elementName is a list element's "name", the key of most lists of
// Kubernetes objects (containers, env, volumes, ports).
func elementName(e any) (string, bool) {
	m, ok := e.(map[string]any)
	if !ok {
		return "", false
	}
	n, ok := m["name"].(string)
	return n, ok
}

// protected reports whether a field is one gantry sets itself or one
// that names the object: never taken from the live object.
func protected(f []string) bool {
	switch f[0] {
	case "apiVersion", "kind":
		return true
	case "metadata":
		return len(f) < 2 || (f[1] != "labels" && f[1] != "annotations")
	}
	return false
}

// setPath sets the value at a path of obj, creating the maps on the way.
func setPath(obj map[string]any, path []string, v any) {
	cur := obj
	for _, p := range path[:len(path)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[path[len(path)-1]] = v
}

// outcomeText says what gantry did with an unstable field, for the CLI.
var outcomeText = map[nondet.Outcome]string{
	nondet.KeptLive:      "kept the live value",
	nondet.InputsChanged: "regenerated: the chart's inputs changed",
	nondet.LiveLacks:     "generated: the live object lacks it",
	nondet.NewObject:     "generated: new object",
	nondet.GeneratedName: "generated name: every apply creates another object",
}

// unstableText lists the objects' unstable fields with what gantry did
// with each, on one line: "Secret/ns/auth .data.password (kept the live
// value), …". Paths name fields, never values.
func unstableText(objs []ObjectDiff) string {
	var parts []string
	for _, o := range objs {
		for _, f := range o.Unstable {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", o.Object, f.Path, outcomeText[f.Outcome]))
		}
	}
	return strings.Join(parts, ", ")
}
