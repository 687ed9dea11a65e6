package render

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/openapi"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/excerpt"
)

// renderKustomize builds the app's kustomization through krusty on the
// confined repository view, after scanning it for what gantry refuses.
func renderKustomize(ctx context.Context, fsys *repoFS, app config.App) ([]rendered, []error) {
	dir := pathJoin(app.Path)
	deps, errs := scanKustomization(fsys, dir)
	if len(errs) > 0 {
		return nil, errs
	}
	kfile := kustomizationFile(fsys, dir)
	fsys.sops.secretSources = deps.SecretSources
	fsys.strict = true
	m, err := runKrusty(fsys, fsys.fs.Abs(dir))
	fsys.strict = false
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, []error{cerr}
		}
		if v := fsys.Violation(); v != nil {
			if located, ok := v.(*Error); ok {
				return nil, []error{located}
			}
			err = v
		}
		return nil, []error{fileError(kfile, 0, err, "kustomize build %s: %s", dir, oneLine(err.Error()))}
	}
	lines := &lineFinder{fsys: fsys, files: deps.Files, dirs: deps.Dirs}
	var out []rendered
	for _, res := range m.Resources() {
		src := lines.source(kfile, res.GetKind(), res.GetNamespace(), res.GetName())
		b, err := res.MarshalJSON()
		if err != nil {
			errs = append(errs, fileError(src.File, src.Line, ErrInvalid, "encode %s: %v", res.CurId(), err))
			continue
		}
		obj, err := decodeJSONObject(b)
		if err != nil {
			errs = append(errs, fileError(src.File, src.Line, ErrInvalid, "decode %s: %v", res.CurId(), err))
			continue
		}
		out = append(out, rendered{obj: obj, src: src})
	}
	return out, errs
}

// runKrusty runs one Kustomize build with plugins disabled, recovering
// its panics. Builds run concurrently without a lock: the only process-wide
// state krusty changes is kyaml's OpenAPI schema, which every build sets to
// the same built-in schema because checkKustomization refuses `openapi:`
// in every kustomization served. The schema is parsed once, under kyaml's
// own lock, before the build, so that no build reads it while another
// parses it.
func runKrusty(fsys *repoFS, dir string) (m resmap.ResMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("kustomize panicked: %v", p)
		}
	}()
	openapi.Schema()
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsRootOnly
	opts.PluginConfig = types.DisabledPluginConfig()
	return krusty.MakeKustomizer(opts).Run(fsys, dir)
}

// lineFinder maps Kustomize's output objects back to the repository:
// Kustomize's own origin annotations would say it exactly, but turning
// them on makes Kustomize annotate every resource after every transformer,
// about eight times slower on a large overlay. So an object is matched by
// kind to the resources the build read and to its generators' entries; the
// longest original name contained in the output name wins (name prefixes,
// suffixes and hashes are added by Kustomize), then a matching namespace.
type lineFinder struct {
	fsys   *repoFS
	files  []string // resource files the kustomizations name
	dirs   []string // kustomization directories reached
	docs   map[string][]rendered
	nodes  map[string]*yaml.Node
	byKind map[string][]candidate
}

// generatorFields maps a generated kind to its kustomization field.
var generatorFields = map[string]string{
	"ConfigMap": "configMapGenerator",
	"Secret":    "secretGenerator",
}

// candidate is an object of the build's input: where it is and its name.
type candidate struct {
	src       Source
	name      string
	namespace string
}

// index returns the build's input objects by kind, built once: the
// resources of the files read and the generators' entries.
func (l *lineFinder) index() map[string][]candidate {
	if l.byKind != nil {
		return l.byKind
	}
	l.byKind = map[string][]candidate{}
	for _, f := range l.files {
		for _, o := range l.load(f) {
			k := o.obj.GetKind()
			l.byKind[k] = append(l.byKind[k], candidate{o.src, o.obj.GetName(), o.obj.GetNamespace()})
		}
	}
	for kind, field := range generatorFields {
		for _, d := range l.dirs {
			kf := kustomizationFile(l.fsys, d)
			for _, item := range seqItems(mapValue(l.kustomization(kf), field)) {
				n := mapValue(item, "name")
				if n == nil {
					continue
				}
				ns := ""
				if v := mapValue(item, "namespace"); v != nil {
					ns = v.Value
				}
				l.byKind[kind] = append(l.byKind[kind], candidate{Source{File: kf, Line: item.Line}, n.Value, ns})
			}
		}
	}
	return l.byKind
}

// source returns the file and line that produced an output object, or the
// app's kustomization when nothing matches.
func (l *lineFinder) source(kfile, kind, namespace, name string) Source {
	best, bestLen, bestNS := Source{File: kfile}, -1, false
	for _, c := range l.index()[kind] {
		if !strings.Contains(name, c.name) {
			continue
		}
		sameNS := c.namespace != "" && c.namespace == namespace
		if len(c.name) > bestLen || (len(c.name) == bestLen && sameNS && !bestNS) {
			best, bestLen, bestNS = c.src, len(c.name), sameNS
		}
	}
	return best
}

// load returns the objects of a repository file, decoded once.
func (l *lineFinder) load(file string) []rendered {
	if l.docs == nil {
		l.docs = map[string][]rendered{}
	}
	objs, ok := l.docs[file]
	if !ok {
		if data, err := l.fsys.ReadFile(file); err == nil {
			if docs, err := decodeYAML(file, data, l.fsys.lim); err == nil {
				objs, _ = objectsFromDocs(file, docs)
			}
		}
		l.docs[file] = objs
	}
	return objs
}

// kustomization returns the root node of a kustomization file, parsed once.
func (l *lineFinder) kustomization(file string) *yaml.Node {
	if l.nodes == nil {
		l.nodes = map[string]*yaml.Node{}
	}
	root, ok := l.nodes[file]
	if !ok && file != "" {
		if data, err := l.fsys.ReadFile(file); err == nil {
			var doc yaml.Node
			if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) > 0 {
				root = doc.Content[0]
			}
		}
		l.nodes[file] = root
	}
	return root
}

// oneLine folds a library's message onto one line, its quoted values cut
// (Kustomize quotes whole kustomization items back across several lines),
// so that a render error stays one line of the CLI's output and of an
// annotation.
func oneLine(msg string) string {
	return excerpt.Clip(excerpt.OneLine(msg))
}

// decodeJSONObject decodes a JSON object into an Unstructured with
// integers as int64 and other numbers as float64.
func decodeJSONObject(b []byte) (*unstructured.Unstructured, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: normalizeNumbers(v).(map[string]any)}, nil
}

// normalizeNumbers replaces json.Number values in place.
func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalizeNumbers(e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = normalizeNumbers(e)
		}
		return t
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	default:
		return v
	}
}
