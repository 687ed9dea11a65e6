package driftwrite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/gantryops/gantry/config"
)

// patches writes a Kustomize or Helm app's drift as strategic-merge patch
// documents (render/patches.go applies them after rendering): one per
// object, holding only the drifted fields; a deleted object becomes a
// "$patch: delete" document. A document already there for the same object
// is updated so the old and the new drift both hold.
func (w *writer) patches(objs []Object) error {
	file, register, err := w.patchFile()
	if err != nil {
		return err
	}
	data, err := w.readFile(file)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write drift of app %s: %w", w.app.Name, err)
	}
	text := string(data)
	chunks := splitDocs(text)
	leading := chunks[0].sep != ""
	changed := false
	for _, o := range objs {
		if o.Desired == nil && o.Accepted != nil {
			return fmt.Errorf("patch %s in %s: no rendered object to compute the drift from", o, file)
		}
		p, err := patchFor(o)
		if err != nil {
			return fmt.Errorf("patch %s in %s: %w", o, file, err)
		}
		if p == nil {
			continue
		}
		i := findDoc(chunks, o, 0)
		if i < 0 {
			body, err := encodeValue(p, text)
			if err != nil {
				return fmt.Errorf("patch %s in %s: %w", o, file, err)
			}
			chunks = append(chunks, chunk{sep: "---\n", body: body})
			changed = true
			continue
		}
		var existing map[string]any
		if err := kyaml.Unmarshal([]byte(chunks[i].body), &existing); err != nil {
			return fmt.Errorf("patch %s in %s:%d: %w", o, file, chunks[i].line, err)
		}
		merged := p
		if o.Accepted != nil {
			if merged, err = mergePatches(o, existing, p); err != nil {
				return fmt.Errorf("patch %s in %s:%d: merge with the patch there: %w", o, file, chunks[i].line, err)
			}
		}
		keepIdentity(existing, merged)
		body, err := editDoc(chunks[i].body, Object{Desired: existing, Accepted: merged})
		if err != nil {
			return fmt.Errorf("patch %s in %s:%d: %w", o, file, chunks[i].line, err)
		}
		if body != chunks[i].body {
			chunks[i].body, changed = body, true
		}
	}
	if !changed {
		return nil
	}
	if n := len(chunks); n > 1 && chunks[0].body != "" && !strings.HasSuffix(chunks[0].body, "\n") {
		chunks[0].body += "\n"
	}
	w.res.Files[file] = []byte(joinDocs(chunks, leading))
	if register {
		return w.register(file)
	}
	return nil
}

// patchFile chooses where the app's drift goes: drift-<app>.yaml in the
// first patches entry that is a directory; else the first file entry;
// else patches/<app>/drift.yaml, which must then be registered.
func (w *writer) patchFile() (file string, register bool, err error) {
	for _, e := range w.app.Patches {
		if !cleanRel(e) {
			return "", false, fmt.Errorf("app %s: patches entry %q is not a clean path inside the repository", w.app.Name, e)
		}
		// A directory not yet created counts, as render allows it.
		if w.fsys.IsDir(e) || (!w.fsys.Exists(e) && !isManifestName(e)) {
			return path.Join(e, "drift-"+w.app.Name+".yaml"), false, nil
		}
	}
	if len(w.app.Patches) > 0 {
		return w.app.Patches[0], false, nil
	}
	return path.Join("patches", w.app.Name, "drift.yaml"), true, nil
}

func isManifestName(p string) bool {
	return strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".json")
}

// patchFor returns o's patch document: identity plus the fields that
// drifted, computed as Kubernetes does for the kind (strategic merge for
// built-in kinds, list items keyed by their merge key; JSON merge patch
// for others, as render applies them). nil means nothing drifted.
func patchFor(o Object) (map[string]any, error) {
	md := map[string]any{"name": o.Name}
	if o.Namespace != "" {
		md["namespace"] = o.Namespace
	}
	if o.Accepted == nil {
		return map[string]any{"apiVersion": o.APIVersion, "kind": o.Kind, "metadata": md, "$patch": "delete"}, nil
	}
	desired, err := json.Marshal(o.Desired)
	if err != nil {
		return nil, err
	}
	accepted, err := json.Marshal(o.Accepted)
	if err != nil {
		return nil, err
	}
	var raw []byte
	if typed, err := scheme.Scheme.New(schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)); err == nil {
		raw, err = strategicpatch.CreateTwoWayMergePatch(desired, accepted, typed)
		if err != nil {
			return nil, err
		}
	} else if raw, err = jsonpatch.CreateMergePatch(desired, accepted); err != nil {
		return nil, err
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, nil
	}
	p = withoutNeedlessOrder(o, p, desired, accepted)
	if m, ok := p["metadata"].(map[string]any); ok {
		for k, v := range m {
			md[k] = v
		}
	}
	p["apiVersion"], p["kind"], p["metadata"] = o.APIVersion, o.Kind, md
	return p, nil
}

// withoutNeedlessOrder drops each "$setElementOrder/…" directive of a
// strategic-merge patch that the accepted object does not need: they
// would fill a file people review with noise. One that order depends on
// (an env var added after another) stays.
func withoutNeedlessOrder(o Object, p map[string]any, desired, accepted []byte) map[string]any {
	typed, err := scheme.Scheme.New(schema.FromAPIVersionAndKind(o.APIVersion, o.Kind))
	if err != nil {
		return p
	}
	var want any
	if err := json.Unmarshal(accepted, &want); err != nil {
		return p
	}
	gives := func() bool {
		raw, err := json.Marshal(p)
		if err != nil {
			return false
		}
		got, err := strategicpatch.StrategicMergePatch(desired, raw, typed)
		if err != nil {
			return false
		}
		var g any
		return json.Unmarshal(got, &g) == nil && equalValue(g, want)
	}
	if !gives() {
		return p
	}
	dropOrder(p, gives)
	return p
}

// dropOrder removes, depth first, each order directive under v whose
// removal still gives the accepted object.
func dropOrder(v any, gives func() bool) {
	switch t := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(t) {
			if strings.HasPrefix(k, "$setElementOrder/") {
				old := t[k]
				delete(t, k)
				if !gives() {
					t[k] = old
				}
				continue
			}
			dropOrder(t[k], gives)
		}
	case []any:
		for _, it := range t {
			dropOrder(it, gives)
		}
	}
}

// keepIdentity leaves a document's identity as it was written: a patch
// without a namespace (the app's) does not gain one.
func keepIdentity(existing, merged map[string]any) {
	old, _ := existing["metadata"].(map[string]any)
	md, _ := merged["metadata"].(map[string]any)
	if _, ok := old["namespace"]; !ok && md != nil {
		delete(md, "namespace")
	}
}

// mergePatches combines the patch already in the file with the new one,
// so applying the result equals applying both in turn.
func mergePatches(o Object, existing, next map[string]any) (map[string]any, error) {
	if typed, err := scheme.Scheme.New(schema.FromAPIVersionAndKind(o.APIVersion, o.Kind)); err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			return nil, err
		}
		// The merge writes into its first argument: give it a copy, as
		// the caller still edits the file from existing.
		base, err := normalizeJSON(existing)
		if err != nil {
			return nil, err
		}
		out, err := strategicpatch.MergeStrategicMergeMapPatchUsingLookupPatchMeta(meta, base, next)
		if err != nil {
			return nil, err
		}
		return normalizeJSON(out)
	}
	a, err := json.Marshal(existing)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	out, err := jsonpatch.MergeMergePatches(a, b)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(out, &m)
}

// normalizeJSON round-trips a map through JSON so its values have the
// types the editor compares (map[string]any, []any, float64).
func normalizeJSON(m map[string]any) (map[string]any, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// encodeValue encodes a new document in the file's sequence style, keys
// in kubectl's order (apiVersion, kind, metadata, then the rest).
func encodeValue(v map[string]any, fileText string) (string, error) {
	n := newNode(v, nil)
	orderKeys(n, "apiVersion", "kind", "metadata")
	return encodeDoc(&kyaml.Node{Kind: kyaml.DocumentNode, Content: []*kyaml.Node{n}}, fileText)
}

// orderKeys moves the given keys of a mapping node to its front.
func orderKeys(n *kyaml.Node, first ...string) {
	var front, rest []*kyaml.Node
	for _, k := range first {
		if i := keyIndex(n, k); i >= 0 {
			front = append(front, n.Content[i], n.Content[i+1])
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		isFirst := false
		for _, k := range first {
			isFirst = isFirst || n.Content[i].Value == k
		}
		if !isFirst {
			rest = append(rest, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = append(front, rest...)
}

// repoFile is where the repository model lives.
func (w *writer) repoFile() string {
	if w.model.File == "" {
		return config.RepoFileName
	}
	if rel, ok := w.fsys.Rel(w.model.File); ok {
		return rel
	}
	return w.model.File
}
