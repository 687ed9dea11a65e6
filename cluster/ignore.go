package cluster

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/nondet"
)

// applyIgnoreRules makes the desired object take the live value of every
// ignored field it sets: the fields at the rules' JSON pointers and the
// fields owned by the rules' field managers. Ignored fields are therefore
// neither shown by the diff nor changed by apply, and gantry never fights
// the other manager (an HPA over /spec/replicas). A pointer the desired
// object sets but the live object lacks is removed from the desired object.
// Objects not yet in the cluster are created as rendered.
func applyIgnoreRules(rules []config.IgnoreRule, desired, live *unstructured.Unstructured) error {
	if live == nil {
		return nil
	}
	ref := RefOf(desired)
	for _, r := range rules {
		if (r.Kind != "" && r.Kind != ref.Kind) || (r.Name != "" && r.Name != ref.Name) ||
			(r.Namespace != "" && r.Namespace != ref.Namespace) {
			continue
		}
		for _, p := range r.Pointers {
			path, err := parsePointer(p)
			if err != nil {
				return fmt.Errorf("ignore rule pointer %q: %w", p, err)
			}
			if _, ok := get(desired.Object, path); !ok {
				continue
			}
			if v, ok := get(live.Object, path); ok {
				set(desired.Object, path, runtime.DeepCopyJSONValue(v))
			} else {
				remove(desired.Object, path)
			}
		}
		if len(r.Managers) == 0 {
			continue
		}
		for _, mf := range live.GetManagedFields() {
			if !slices.Contains(r.Managers, mf.Manager) || mf.FieldsV1 == nil {
				continue
			}
			s := &fieldpath.Set{}
			if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
				return fmt.Errorf("fields of manager %s: %w", mf.Manager, err)
			}
			s.Leaves().Iterate(func(fp fieldpath.Path) {
				path := fieldPath(fp, live.Object)
				if path == nil {
					return
				}
				if _, ok := get(desired.Object, path); !ok {
					return
				}
				if v, ok := get(live.Object, path); ok {
					set(desired.Object, path, runtime.DeepCopyJSONValue(v))
				}
			})
		}
	}
	return nil
}

// parsePointer splits an RFC 6901 JSON pointer into its tokens.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pointer")
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("does not start with /")
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// fieldPath turns a managed-fields path into pointer tokens against obj,
// resolving list elements by key or value to their index. It returns nil
// when the element is not in obj.
func fieldPath(fp fieldpath.Path, obj map[string]any) []string {
	var out []string
	var cur any = obj
	for _, pe := range fp {
		switch {
		case pe.FieldName != nil:
			out = append(out, *pe.FieldName)
			m, _ := cur.(map[string]any)
			cur = m[*pe.FieldName]
		case pe.Index != nil:
			out = append(out, strconv.Itoa(*pe.Index))
			l, _ := cur.([]any)
			if *pe.Index >= len(l) {
				return nil
			}
			cur = l[*pe.Index]
		default:
			l, _ := cur.([]any)
			idx := -1
			for i, el := range l {
				if matches(pe, el) {
					idx = i
					break
				}
			}
			if idx < 0 {
				return nil
			}
			out = append(out, strconv.Itoa(idx))
			cur = l[idx]
		}
	}
	return out
}

// matches reports whether a list element is the one a key or value path
// element names.
func matches(pe fieldpath.PathElement, el any) bool {
	if pe.Value != nil {
		return fmt.Sprint((*pe.Value).Unstructured()) == fmt.Sprint(el)
	}
	if pe.Key == nil {
		return false
	}
	m, ok := el.(map[string]any)
	if !ok {
		return false
	}
	for _, f := range *pe.Key {
		if fmt.Sprint(f.Value.Unstructured()) != fmt.Sprint(m[f.Name]) {
			return false
		}
	}
	return true
}

// get returns the value at path in a decoded object (nondet.Lookup).
func get(obj any, path []string) (any, bool) { return nondet.Lookup(obj, path) }

// set replaces the value at an existing path of obj.
func set(obj any, path []string, v any) {
	parent, ok := get(obj, path[:len(path)-1])
	if !ok {
		return
	}
	last := path[len(path)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = v
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(c) {
			c[i] = v
		}
	}
}

// remove deletes the map entry at path; list elements are left alone.
func remove(obj any, path []string) {
	parent, ok := get(obj, path[:len(path)-1])
	if !ok {
		return
	}
	if m, ok := parent.(map[string]any); ok {
		delete(m, path[len(path)-1])
	}
}
