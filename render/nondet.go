package render

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"sort"
	"strconv"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/gantryops/gantry/nondet"
)

// A Helm chart whose templates call random or time functions (randAlphaNum,
// uuidv4, now, genCA, htpasswd, bcrypt) renders differently every time.
// renderHelm runs the template engine twice over the same loaded chart and
// values; the leaf fields that differ between the two outputs are the
// object's unstable fields. render marks them on the final object (see
// markUnstable) with nondet.FieldsAnnotation, and the chart's inputs with
// nondet.InputsAnnotation, for cluster to keep the live values while the
// inputs stay the same. Plain YAML and Kustomize have no random or time
// functions, so their output is a function of the repository: they are
// rendered once.

// unstable is what the second render of a Helm chart found in one object.
type unstable struct {
	// inputs is the digest of the chart's inputs (chartInputs).
	inputs string
	// fields maps each unstable field's pointer to its value in the
	// first render, so a post-render patch that sets the field (making it
	// stable) is recognised.
	fields map[string]any
	// tokens are the fields' pointer tokens, in order.
	tokens [][]string
}

// chartInputs is the digest of everything a chart's render depends on
// besides its random and time functions: its files (templates, Chart.yaml,
// vendored dependencies, all as loaded), the resolved values, the release
// name and namespace, the Kubernetes minor version and the API versions
// the app declares. The same inputs give the same digest in every process
// (files sorted, values as JSON with sorted keys). Only the minor version
// counts, and not the API versions Helm's library knows by itself: a
// patch upgrade of the cluster or an upgrade of gantry regenerating every
// chart's passwords would surprise everyone.
func chartInputs(files []*loader.BufferedFile, vals map[string]any, release, ns string, kv *chartutil.KubeVersion, apiVersions []string) (string, error) {
	h := sha256.New()
	field := func(h hash.Hash, b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	sorted := append([]*loader.BufferedFile(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	field(h, []byte("files"))
	for _, f := range sorted {
		field(h, []byte(f.Name))
		field(h, f.Data)
	}
	v, err := json.Marshal(vals)
	if err != nil {
		return "", fmt.Errorf("digest of the chart's values: %w", err)
	}
	field(h, []byte("values"))
	field(h, v)
	field(h, []byte(release))
	field(h, []byte(ns))
	field(h, []byte(kv.Major+"."+kv.Minor))
	apis := append([]string(nil), apiVersions...)
	sort.Strings(apis)
	for _, a := range apis {
		field(h, []byte(a))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// unstableFields returns the pointer tokens of the leaf fields where a and
// b differ, sorted: a key only one side has, a scalar that differs, or a
// list whose length differs (the whole list).
func unstableFields(a, b any) [][]string {
	var out [][]string
	var walk func(path []string, a, b any)
	walk = func(path []string, a, b any) {
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			keys := make([]string, 0, len(am)+len(bm))
			for k := range am {
				keys = append(keys, k)
			}
			for k := range bm {
				if _, ok := am[k]; !ok {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(append(path[:len(path):len(path)], k), am[k], bm[k])
			}
			return
		}
		al, aok := a.([]any)
		bl, bok := b.([]any)
		if aok && bok && len(al) == len(bl) {
			for i := range al {
				walk(append(path[:len(path):len(path)], strconv.Itoa(i)), al[i], bl[i])
			}
			return
		}
		if !reflect.DeepEqual(a, b) {
			out = append(out, path)
		}
	}
	walk(nil, a, b)
	return out
}

// detectUnstable compares the two outputs of a chart's template engine:
// the templates whose output differs are decoded again and their objects
// compared with those of the first output (see findUnstable).
func detectUnstable(fsys *repoFS, objs []rendered, out, again map[string]string, paths *chartPaths, inputs string) []error {
	differ := map[string]string{}
	for n, body := range again {
		if out[n] != body {
			differ[n] = body
		}
	}
	if len(differ) == 0 {
		return nil
	}
	second, errs := decodeTemplates(fsys, differ, paths)
	if len(errs) > 0 {
		// The chart's output is valid only some of the time: said, rather
		// than left to fail some later render.
		for _, err := range errs {
			var e *Error
			if errors.As(err, &e) {
				e.Msg = "second render (gantry renders a chart twice to find generated values): " + e.Msg
			}
		}
		return errs
	}
	findUnstable(objs, second, inputs)
	return nil
}

// findUnstable compares the objects of the two renders of a chart by key
// and records each object's unstable fields. An object the second render
// lacks (a generated name) cannot be matched: its name is recorded as its
// unstable field, for the plan to say so.
func findUnstable(first, second []rendered, inputs string) {
	byKey := make(map[ObjectKey]rendered, len(second))
	for _, o := range second {
		byKey[KeyOf(o.obj)] = o
	}
	for i, o := range first {
		var tokens [][]string
		if other, ok := byKey[KeyOf(o.obj)]; ok {
			tokens = collapse(unstableFields(o.obj.Object, other.obj.Object), maxUnstableFields)
		} else {
			tokens = [][]string{{"metadata", "name"}}
		}
		if len(tokens) == 0 {
			continue
		}
		u := &unstable{inputs: inputs, fields: map[string]any{}, tokens: tokens}
		for _, t := range tokens {
			v, _ := nondet.Lookup(o.obj.Object, t)
			u.fields[nondet.Pointer(t)] = v
		}
		first[i].unstable = u
	}
}

// maxUnstableFields bounds the fields listed for one object, so a chart
// generating a large structure cannot inflate what is carried and shown.
const maxUnstableFields = 64

// collapse replaces fields by their parent until at most limit remain:
// keeping a parent's live value keeps every field under it. Each pass
// replaces every group of two or more siblings by their parent, or, when
// there is none, shortens the deepest paths by one; so passes are bounded
// by the depth of the object, each linear in the fields. A path of one
// token is never shortened.
func collapse(fields [][]string, limit int) [][]string {
	for len(fields) > limit {
		count := map[string]int{}
		depth := 0
		for _, f := range fields {
			depth = max(depth, len(f))
			if len(f) >= 2 {
				count[nondet.Pointer(f[:len(f)-1])]++
			}
		}
		if depth < 2 {
			return fields
		}
		siblings := false
		for _, n := range count {
			siblings = siblings || n >= 2
		}
		seen := map[string]bool{}
		var out [][]string
		for _, f := range fields {
			if len(f) >= 2 && ((siblings && count[nondet.Pointer(f[:len(f)-1])] >= 2) || (!siblings && len(f) == depth)) {
				f = f[:len(f)-1]
			}
			if k := nondet.Pointer(f); !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
		fields = out
	}
	return fields
}

// markUnstable sets the unstable-field annotations on the final objects,
// after the app's patches: a field a patch set is stable again and left
// out. Any such annotation the render itself produced (a chart, a
// manifest or a patch of the pull request) is removed first: only gantry
// says which fields it may keep from the live object.
func markUnstable(objs []rendered) {
	for _, o := range objs {
		ann := o.obj.GetAnnotations()
		_, f := ann[nondet.FieldsAnnotation]
		_, in := ann[nondet.InputsAnnotation]
		if f || in {
			delete(ann, nondet.FieldsAnnotation)
			delete(ann, nondet.InputsAnnotation)
			if len(ann) == 0 {
				ann = nil
			}
			o.obj.SetAnnotations(ann)
		}
		if o.unstable == nil {
			continue
		}
		var keep [][]string
		for _, t := range o.unstable.tokens {
			if len(t) >= 2 && t[0] == "metadata" && t[1] == "annotations" && len(t) == 3 &&
				(t[2] == nondet.FieldsAnnotation || t[2] == nondet.InputsAnnotation) {
				continue // gantry's own, just removed
			}
			v, ok := nondet.Lookup(o.obj.Object, t)
			if !ok || !reflect.DeepEqual(v, o.unstable.fields[nondet.Pointer(t)]) {
				continue // a patch removed or set it
			}
			keep = append(keep, t)
		}
		if len(keep) == 0 {
			continue
		}
		ann = o.obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[nondet.FieldsAnnotation] = nondet.Encode(keep)
		ann[nondet.InputsAnnotation] = o.unstable.inputs
		o.obj.SetAnnotations(ann)
	}
}

// copyValues deep-copies a chart's values for one run of the template
// engine: templates may change .Values (sprig's set), and a second render
// must start from the same values as the first.
func copyValues(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = copyValues(e)
		}
		return out
	case chartutil.Values:
		out := make(chartutil.Values, len(t))
		for k, e := range t {
			out[k] = copyValues(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyValues(e)
		}
		return out
	}
	return v
}
