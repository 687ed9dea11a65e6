package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/gantryops/gantry/config"
)

// owned is one managed-fields entry with its field set.
type owned struct {
	write
	set *fieldpath.Set
}

// isGantryApply reports whether the entry is gantry's apply of the object
// itself (not of a subresource).
func (o owned) isGantryApply() bool {
	return o.manager == FieldManager && o.operation == string(metav1.ManagedFieldsOperationApply) && o.subresource == ""
}

// ownership parses every managed-fields entry of u with its field set.
func ownership(u *unstructured.Unstructured) ([]owned, error) {
	var out []owned
	for _, mf := range u.GetManagedFields() {
		o := owned{write: write{manager: mf.Manager, operation: string(mf.Operation), subresource: mf.Subresource}, set: &fieldpath.Set{}}
		if mf.Time != nil {
			o.time = mf.Time.UTC()
		}
		if mf.FieldsV1 != nil {
			if err := o.set.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
				return nil, fmt.Errorf("fields of manager %s: %w", mf.Manager, err)
			}
		}
		out = append(out, o)
	}
	return out, nil
}

// gantrySet returns the fields gantry's apply holds in entries; nil when
// gantry never applied the object.
func gantrySet(entries []owned) *fieldpath.Set {
	for _, e := range entries {
		if e.isGantryApply() {
			return e.set
		}
	}
	return nil
}

// bookkeeping reports whether a path is one of gantry's own marks (the
// applied hash, the repository and app marks): never drift, and never
// shown as such.
func bookkeeping(p fieldpath.Path) bool {
	if len(p) != 3 || p[0].FieldName == nil || *p[0].FieldName != "metadata" || p[1].FieldName == nil || p[2].FieldName == nil {
		return false
	}
	switch *p[1].FieldName + "/" + *p[2].FieldName {
	case "annotations/" + AppliedAnnotation, "annotations/" + RepositoryAnnotation,
		"labels/" + RepositoryLabel, "labels/" + AppLabel:
		return true
	}
	return false
}

// valueAt returns the value at a managed-fields path of obj.
func valueAt(obj map[string]any, p fieldpath.Path) (any, bool) {
	tokens := fieldPath(p, obj)
	if tokens == nil {
		return nil, false
	}
	return get(obj, tokens)
}

// fieldDrifts compares, field by field, the fields gantry's apply holds in
// result (a forced dry-run of the desired object) with live: each one
// whose value differs is drift, attributed to the live manager that holds
// it. An element missing live as a whole (a container, a port) is
// reported once, at the element. paths are the drifted paths, for
// acceptedForm.
func fieldDrifts(live, result *unstructured.Unstructured) ([]FieldDrift, []fieldpath.Path, error) {
	after, err := ownership(result)
	if err != nil {
		return nil, nil, err
	}
	mine := gantrySet(after)
	if mine == nil {
		return nil, nil, fmt.Errorf("the dry-run result has no fields of manager %s", FieldManager)
	}
	before, err := ownership(live)
	if err != nil {
		return nil, nil, err
	}
	held := gantrySet(before)
	secret := isSecret(RefOf(live))
	var out []FieldDrift
	var paths []fieldpath.Path
	seen := map[string]bool{}
	mine.Leaves().Iterate(func(p fieldpath.Path) {
		if bookkeeping(p) {
			return
		}
		want, _ := valueAt(result.Object, p)
		got, ok := valueAt(live.Object, p)
		if ok && equality.Semantic.DeepEqual(want, got) {
			return
		}
		if !ok {
			p = missingPrefix(live.Object, p)
			want, _ = valueAt(result.Object, p)
		}
		name := readablePath(p)
		if seen[name] {
			return
		}
		seen[name] = true
		f := FieldDrift{Path: name, Desired: compact(want)}
		if ok {
			f.Live = compact(got)
		}
		if secret && secretValuePath(p) {
			f.Desired, f.Live = HiddenValue, HiddenValue
			if !ok {
				f.Live = ""
			}
		}
		alias := p
		if secret {
			alias = stringDataAlias(p)
		}
		if o, found := holder(before, p, alias); found {
			f.Manager, f.Operation, f.Subresource, f.Time = o.manager, o.operation, o.subresource, o.time
			f.Conflict = !o.isGantryApply() && held != nil && !held.Has(p) && !held.Has(alias)
		}
		out = append(out, f)
		paths = append(paths, p.Copy())
	})
	slices.SortFunc(out, func(a, b FieldDrift) int { return strings.Compare(a.Path, b.Path) })
	return out, paths, nil
}

// secretValuePath reports whether p is in a Secret's data or stringData.
func secretValuePath(p fieldpath.Path) bool {
	return len(p) > 0 && p[0].FieldName != nil && (*p[0].FieldName == "data" || *p[0].FieldName == "stringData")
}

// missingPrefix returns the shortest prefix of p that obj lacks.
func missingPrefix(obj map[string]any, p fieldpath.Path) fieldpath.Path {
	for i := 1; i < len(p); i++ {
		if _, ok := valueAt(obj, p[:i]); !ok {
			return p[:i]
		}
	}
	return p
}

// stringDataAlias maps a Secret's data.KEY to stringData.KEY: a manager
// that wrote the value through stringData holds that path instead.
func stringDataAlias(p fieldpath.Path) fieldpath.Path {
	if len(p) != 2 || p[0].FieldName == nil || *p[0].FieldName != "data" {
		return p
	}
	return fieldpath.MakePathOrDie("stringData", *p[1].FieldName)
}

// holder returns the entry that holds p (or its alias) now, preferring another manager
// over gantry when they share it.
func holder(entries []owned, p, alias fieldpath.Path) (owned, bool) {
	var found *owned
	for i := range entries {
		e := &entries[i]
		if !e.set.Has(p) && !e.set.Has(alias) {
			continue
		}
		if found == nil || (found.isGantryApply() && !e.isGantryApply()) {
			found = e
		}
	}
	if found == nil {
		return owned{}, false
	}
	return *found, true
}

// compact is a value as one line of JSON; "" for none.
func compact(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// readablePath writes a managed-fields path for people:
// spec.template.spec.containers[name=web].image; a field name with a dot
// or slash is quoted in brackets, a set element is [=value].
func readablePath(p fieldpath.Path) string {
	var b strings.Builder
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			n := *pe.FieldName
			if strings.ContainsAny(n, "./[]\"= ") {
				b.WriteString("[" + strconv.Quote(n) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(n)
		case pe.Key != nil:
			var kv []string
			for _, f := range *pe.Key {
				kv = append(kv, f.Name+"="+plain(f.Value.Unstructured()))
			}
			b.WriteString("[" + strings.Join(kv, ",") + "]")
		case pe.Value != nil:
			b.WriteString("[=" + plain((*pe.Value).Unstructured()) + "]")
		case pe.Index != nil:
			b.WriteString("[" + strconv.Itoa(*pe.Index) + "]")
		}
	}
	return b.String()
}

// plain is a key value as written in a path: strings bare, the rest as
// JSON.
func plain(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return compact(v)
}

// acceptedForm is the rendered object with every drifted path set to its
// live value, or removed where live lacks it: what accepting the drift
// writes into Git. A path the render does not hold as such (a list
// element it does not have) is added where its parent exists. A Secret's
// values are masked.
func acceptedForm(rendered, live *unstructured.Unstructured, paths []fieldpath.Path) *unstructured.Unstructured {
	out := rendered.DeepCopy()
	if isSecret(RefOf(out)) {
		out = foldStringData(out)
	}
	for _, p := range paths {
		v, ok := valueAt(live.Object, p)
		tokens := fieldPath(p, out.Object)
		switch {
		case tokens != nil && ok:
			if _, exists := get(out.Object, tokens); exists {
				set(out.Object, tokens, runtime.DeepCopyJSONValue(v))
			} else {
				setMissing(out.Object, tokens, runtime.DeepCopyJSONValue(v))
			}
		case tokens != nil:
			removeAt(out.Object, tokens)
		case ok && p[len(p)-1].FieldName == nil:
			// A list element the render lacks: append the live one.
			parent := fieldPath(p[:len(p)-1], out.Object)
			if l, found := get(out.Object, parent); found {
				if list, isList := l.([]any); isList {
					set(out.Object, parent, append(list, runtime.DeepCopyJSONValue(v)))
				}
			}
		}
	}
	if isSecret(RefOf(out)) {
		return maskSecret(out)
	}
	return out
}

// setMissing sets a value at a path whose last map entries may not exist
// yet, creating them.
func setMissing(obj map[string]any, tokens []string, v any) {
	var cur any = obj
	for i, t := range tokens {
		last := i == len(tokens)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[t] = v
				return
			}
			next, ok := c[t]
			if !ok || next == nil {
				next = map[string]any{}
				c[t] = next
			}
			cur = next
		case []any:
			n, err := strconv.Atoi(t)
			if err != nil || n < 0 || n >= len(c) {
				return
			}
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		default:
			return
		}
	}
}

// removeAt deletes the map entry or list element at path.
func removeAt(obj map[string]any, tokens []string) {
	if len(tokens) == 0 {
		return
	}
	parentPath, last := tokens[:len(tokens)-1], tokens[len(tokens)-1]
	parent, ok := get(obj, parentPath)
	if !ok {
		return
	}
	switch c := parent.(type) {
	case map[string]any:
		delete(c, last)
	case []any:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(c) {
			set(obj, parentPath, slices.Delete(slices.Clone(c), i, i+1))
		}
	}
}

// takenNote says which fields another manager took from gantry and what
// applying does about it, for the note of a diff or an apply: "spec.replicas
// taken by kubectl (subresource scale) at 2026-11-29T16:50:00Z, live 5;
// applying takes it back". Empty when nothing was taken.
func takenNote(live, result *unstructured.Unstructured, verb string) string {
	fields, _, err := fieldDrifts(live, result)
	if err != nil {
		return ""
	}
	var parts []string
	for _, f := range fields {
		if !f.Conflict {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s taken by %s, live %s", f.Path, describeManager(f), orNone(f.Live)))
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, "; ") + "; " + verb
}

// describeManager is "kubectl (subresource scale) at <time>".
func describeManager(f FieldDrift) string {
	s := f.Manager
	if s == "" {
		return "no manager"
	}
	if f.Subresource != "" {
		s += " (subresource " + f.Subresource + ")"
	}
	if !f.Time.IsZero() {
		s += " at " + f.Time.UTC().Format("2006-01-02T15:04:05Z")
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// takeBack reports whether an apply of p that failed with err on field
// conflicts may force: conflicts are drift, not errors, for fields gantry
// applied before, and each conflict must be such a field. Gantry applied
// the object before (its apply entry is there) and either
//   - the live object carries the hash of this very desired object
//     (AppliedAnnotation, after the ignore rules): gantry applied every
//     field of it, so each conflict is a field another manager took since
//     (kubectl scale, kubectl edit); or
//   - it carries the hash of the previous render's object (see
//     DiffOptions.Previous), and every conflicting field is one gantry's
//     apply of that object holds (a forced dry-run of it says which).
//
// Otherwise the cluster keeps nothing that tells a field gantry applied
// from one it never held, so the conflict stays an error and app.Force
// keeps its meaning for fields gantry never owned.
func (c *Client) takeBack(ctx context.Context, app config.App, p *planned, err error) bool {
	if err == nil || app.Force || !apierrors.IsConflict(err) || p.live == nil || p.mapping == nil {
		return false
	}
	applied := slices.ContainsFunc(writes(p.live), func(w write) bool {
		return w.manager == FieldManager && w.operation == string(metav1.ManagedFieldsOperationApply) && w.subresource == ""
	})
	hash := p.live.GetAnnotations()[AppliedAnnotation]
	if !applied || hash == "" {
		return false
	}
	if p.desired.GetAnnotations()[AppliedAnnotation] == hash {
		return true
	}
	if p.previous == nil {
		return false
	}
	prev := p.previous.DeepCopy()
	markOwner(prev, p.desired.GetAnnotations()[RepositoryAnnotation], app.Name)
	prev.SetNamespace(p.ref.Namespace)
	keepUnstable(prev, p.live, takeUnstable(prev))
	if applyIgnoreRules(app.Ignore, prev, p.live) != nil {
		return false
	}
	stamp(prev)
	if prev.GetAnnotations()[AppliedAnnotation] != hash {
		return false
	}
	send := prev
	if isSecret(p.ref) {
		send = placeholderSecret(prev) // which fields, never which values
	}
	res, derr := c.resource(p.mapping, p.ref.Namespace).Apply(ctx, p.ref.Name, send, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
	if derr != nil {
		return false
	}
	entries, derr := ownership(res)
	if derr != nil || gantrySet(entries) == nil {
		return false
	}
	held := map[string]bool{}
	gantrySet(entries).Iterate(func(fp fieldpath.Path) { held[fp.String()] = true })
	causes := conflictFields(err)
	for _, f := range causes {
		if !held[f] {
			return false
		}
	}
	return len(causes) > 0
}

// conflictFields are the paths of the field-manager conflicts of an apply
// error, as fieldpath.Path.String writes them.
func conflictFields(err error) []string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var out []string
	for _, c := range status.Status().Details.Causes {
		if c.Type == metav1.CauseTypeFieldManagerConflict {
			out = append(out, c.Field)
		}
	}
	return out
}

// attachPrevious gives each planned object its object in the previous
// render, matched by kind, namespace (the app's when it names none) and
// name.
func attachPrevious(ps []*planned, previous []*unstructured.Unstructured, app config.App) {
	if len(previous) == 0 {
		return
	}
	ns := app.Namespace
	if ns == "" {
		ns = config.DefaultNamespace
	}
	byKey := map[string]*unstructured.Unstructured{}
	for _, u := range previous {
		r := RefOf(u)
		byKey[r.Key()] = u
		if r.Namespace == "" {
			r.Namespace = ns
			byKey[r.Key()] = u
		}
	}
	for _, p := range ps {
		p.previous = byKey[p.ref.Key()]
	}
}
