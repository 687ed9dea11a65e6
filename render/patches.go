package render

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/config"

	"github.com/gantryops/gantry/excerpt"
)

// A post-render patch file holds YAML documents of two shapes:
//
//   - a strategic-merge patch: a partial object with apiVersion, kind and
//     metadata.name (and metadata.namespace, defaulting to the app's), merged
//     into the rendered object of that key; "$patch: delete" at its root
//     removes the object;
//   - a JSON 6902 patch: {target: {group, version, kind, name, namespace},
//     patch: [ops...]} where patch is a list of operations or a string
//     holding them, applied to the rendered object the target selects.
//
// Built-in kinds merge with Kubernetes' strategic-merge rules; other kinds
// with JSON merge patch (RFC 7386).

// patchTarget selects one rendered object.
type patchTarget struct {
	Group     string `json:"group"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// patchDoc is one patch from a file.
type patchDoc struct {
	file   string
	line   int
	target patchTarget
	smp    map[string]any // strategic merge patch, or nil
	ops    []byte         // JSON 6902 operations as JSON, or nil
}

// applyPatches applies the app's post-render patches, in the order of
// app.Patches and, within a directory, of file names. A patch entry that
// does not exist applies nothing, so a patches directory for accepted
// drift may be declared before it is first written.
func applyPatches(fsys *repoFS, app config.App, ns string, objs []rendered, scope ScopeFunc) ([]rendered, []error) {
	if len(app.Patches) == 0 {
		return objs, nil
	}
	docs, errs := readPatches(fsys, app.Name, app.Patches)
	if len(errs) > 0 {
		return nil, errs
	}
	namespaced := namespacedFunc(objs, scope)
	for _, p := range docs {
		gk := schema.GroupKind{Group: p.target.Group, Kind: p.target.Kind}
		if p.target.Namespace == "" && namespaced(gk) {
			p.target.Namespace = ns
		}
		i := findTarget(objs, p.target)
		if i < 0 {
			errs = append(errs, fileError(p.file, p.line, ErrInvalid, "patch targets %s, which the app does not render", p.target))
			continue
		}
		if p.smp != nil {
			if d, _ := p.smp["$patch"].(string); d == "delete" {
				objs = append(objs[:i], objs[i+1:]...)
				continue
			}
		}
		patched, err := patchObject(objs[i], p)
		if err != nil {
			errs = append(errs, fileError(p.file, p.line, ErrInvalid, "apply patch to %s: %v", describe(objs[i].obj), err))
			continue
		}
		objs[i].obj = patched.obj
	}
	return objs, errs
}

// String formats a target as "Kind namespace/name".
func (t patchTarget) String() string {
	if t.Namespace == "" {
		return fmt.Sprintf("%s %s", t.Kind, t.Name)
	}
	return fmt.Sprintf("%s %s/%s", t.Kind, t.Namespace, t.Name)
}

// findTarget returns the index of the object a target selects, or -1.
func findTarget(objs []rendered, t patchTarget) int {
	for i, o := range objs {
		gvk := o.obj.GroupVersionKind()
		if gvk.Kind != t.Kind || o.obj.GetName() != t.Name || o.obj.GetNamespace() != t.Namespace {
			continue
		}
		if gvk.Group != t.Group || (t.Version != "" && gvk.Version != t.Version) {
			continue
		}
		return i
	}
	return -1
}

// readPatches reads every patch document of the app's patch entries.
func readPatches(fsys *repoFS, app string, entries []string) ([]patchDoc, []error) {
	var docs []patchDoc
	var errs []error
	for i, e := range entries {
		entry := pathJoin(e)
		if strings.HasPrefix(entry, "../") || entry == ".." || path.IsAbs(entry) {
			errs = append(errs, fileError(config.RepoFileName, gantryItemLine(fsys, app, i, "patches"), ErrOutsideRepo, "patches entry %s leads outside the repository", excerpt.Quote(e)))
			continue
		}
		real, err := fsys.resolve(entry)
		if isNotExist(err) {
			continue
		}
		if err != nil {
			errs = append(errs, locate(err, entry, "%v", err))
			continue
		}
		files := []string{entry}
		if fsys.IsDir(real) {
			if files, err = fsys.listFiles(entry, true); err != nil {
				errs = append(errs, locate(err, entry, "%v", err))
				continue
			}
		}
		for _, f := range files {
			if !isManifest(f) {
				continue
			}
			d, ferrs := readPatchFile(fsys, f)
			docs = append(docs, d...)
			errs = append(errs, ferrs...)
		}
	}
	return docs, errs
}

// readPatchFile reads the patch documents of one file.
func readPatchFile(fsys *repoFS, file string) ([]patchDoc, []error) {
	data, err := fsys.ReadFile(file)
	if err != nil {
		return nil, []error{locate(err, file, "%v", err)}
	}
	docs, err := fsys.decode(file, data)
	if err != nil {
		return nil, []error{err}
	}
	var out []patchDoc
	var errs []error
	for _, d := range docs {
		m, ok := d.Value.(map[string]any)
		if !ok {
			errs = append(errs, fileError(file, d.Line, ErrInvalid, "patch is not a mapping"))
			continue
		}
		p, err := parsePatch(m)
		if err != nil {
			errs = append(errs, fileError(file, d.Line, ErrInvalid, "%v", err))
			continue
		}
		p.file, p.line = file, d.Line
		out = append(out, p)
	}
	return out, errs
}

// parsePatch tells the two patch shapes apart.
func parsePatch(m map[string]any) (patchDoc, error) {
	if t, ok := m["target"]; ok {
		var p patchDoc
		b, _ := json.Marshal(t)
		if err := json.Unmarshal(b, &p.target); err != nil {
			return p, fmt.Errorf("read patch target: %w", err)
		}
		if p.target.Kind == "" || p.target.Name == "" {
			return p, fmt.Errorf("json 6902 patch target needs kind and name")
		}
		switch ops := m["patch"].(type) {
		case []any:
			p.ops, _ = json.Marshal(ops)
		case string:
			j, err := sigsyaml.YAMLToJSON([]byte(ops))
			if err != nil {
				return p, fmt.Errorf("read json 6902 operations: %w", err)
			}
			p.ops = j
		default:
			return p, fmt.Errorf("json 6902 patch needs a list of operations under patch")
		}
		return p, nil
	}
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	ns, _ := md["namespace"].(string)
	if apiVersion == "" || kind == "" || name == "" {
		return patchDoc{}, fmt.Errorf("patch has neither target and patch (json 6902) nor apiVersion, kind and metadata.name (strategic merge)")
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return patchDoc{}, fmt.Errorf("patch apiVersion %q: %w", apiVersion, err)
	}
	return patchDoc{
		target: patchTarget{Group: gv.Group, Version: gv.Version, Kind: kind, Name: name, Namespace: ns},
		smp:    m,
	}, nil
}

// patchObject applies one patch to one object.
func patchObject(o rendered, p patchDoc) (rendered, error) {
	orig, err := json.Marshal(o.obj.Object)
	if err != nil {
		return o, err
	}
	var out []byte
	if p.ops != nil {
		ops, err := jsonpatch.DecodePatch(p.ops)
		if err != nil {
			return o, fmt.Errorf("decode json 6902 operations: %w", err)
		}
		if out, err = ops.Apply(orig); err != nil {
			return o, err
		}
	} else {
		patch, err := json.Marshal(p.smp)
		if err != nil {
			return o, err
		}
		if typed, err := scheme.Scheme.New(o.obj.GroupVersionKind()); err == nil {
			out, err = strategicpatch.StrategicMergePatch(orig, patch, typed)
			if err != nil {
				return o, err
			}
		} else if out, err = jsonpatch.MergePatch(orig, patch); err != nil {
			return o, err
		}
	}
	obj, err := decodeJSONObject(out)
	if err != nil {
		return o, err
	}
	return rendered{obj: obj, src: o.src}, nil
}
