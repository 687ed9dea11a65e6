// Package schema validates rendered objects without a cluster: against the
// Kubernetes OpenAPI schemas shipped in the binary (generated once from
// kube-apiserver by hack/openapigen) and against the schemas of the
// CustomResourceDefinitions found in the repository. Type errors and
// unknown fields come from the same structured-merge-diff conversion a
// server-side apply runs, so their field paths are the server's; required
// fields and enums come from the OpenAPI schema; what only the server
// checks is listed, never passed silently.
package schema

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

//go:generate go run ../hack/openapigen -out data

//go:embed data/kubernetes-*.json.gz
var data embed.FS

// Catalog is the OpenAPI schema of one Kubernetes version.
type Catalog struct {
	// Version is the full version the schemas were read from, e.g. 1.34.4.
	Version string
	models  map[string]*spec.Schema
	// byGVK names the model of each kind.
	byGVK map[kschema.GroupVersionKind]string
	conv  managedfields.TypeConverter
}

// MinorVersion is the catalog's "major.minor", as the diff check names it.
func (c *Catalog) MinorVersion() string {
	parts := strings.SplitN(c.Version, ".", 3)
	if len(parts) < 2 {
		return c.Version
	}
	return parts[0] + "." + parts[1]
}

var (
	catalogMu sync.Mutex
	catalogs  = map[string]*Catalog{}
)

// Shipped lists the Kubernetes versions ("1.34") whose schemas are in the
// binary, oldest first.
func Shipped() []string {
	entries, _ := data.ReadDir("data")
	var out []string
	for _, e := range entries {
		v := strings.TrimSuffix(strings.TrimPrefix(e.Name(), "kubernetes-"), ".json.gz")
		if _, ok := parseMinor(v); ok {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { a, _ := parseMinor(out[i]); b, _ := parseMinor(out[j]); return a < b })
	return out
}

// Nearest picks the shipped version closest to target ("1.31", "v1.31.2";
// "" means the newest) and says whether it is the target's own.
func Nearest(target string) (version string, exact bool) {
	shipped := Shipped()
	if len(shipped) == 0 {
		return "", false
	}
	want, ok := parseMinor(target)
	if !ok {
		return shipped[len(shipped)-1], target == ""
	}
	best, bestDist := "", -1
	for _, v := range shipped {
		m, _ := parseMinor(v)
		d := m - want
		if d < 0 {
			d = -d
		}
		// Ties go to the newer version: it knows the fields the older
		// one had, deprecations aside.
		if bestDist < 0 || d <= bestDist {
			best, bestDist = v, d
		}
	}
	return best, bestDist == 0
}

// parseMinor reads "1.31", "v1.31.2" or "1.31+" as its minor number.
func parseMinor(v string) (int, bool) {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	m, err := strconv.Atoi(strings.TrimRight(parts[1], "+"))
	return m, err == nil && m >= 0
}

// Load returns the catalog of a shipped version ("1.34"), decoded once per
// process.
func Load(version string) (*Catalog, error) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	if c := catalogs[version]; c != nil {
		return c, nil
	}
	raw, err := data.ReadFile(path.Join("data", "kubernetes-"+version+".json.gz"))
	if err != nil {
		return nil, fmt.Errorf("load schemas of Kubernetes %s: not shipped (shipped: %s)", version, strings.Join(Shipped(), ", "))
	}
	c, err := decode(raw)
	if err != nil {
		return nil, fmt.Errorf("load schemas of Kubernetes %s: %w", version, err)
	}
	catalogs[version] = c
	return c, nil
}

// decode reads a gzipped schema file and builds its type converter.
func decode(raw []byte) (*Catalog, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var file struct {
		Version string                  `json:"version"`
		Schemas map[string]*spec.Schema `json:"schemas"`
	}
	if err := json.Unmarshal(plain, &file); err != nil {
		return nil, err
	}
	c := &Catalog{Version: file.Version, models: file.Schemas, byGVK: map[kschema.GroupVersionKind]string{}}
	for name, s := range c.models {
		for _, gvk := range gvksOf(s) {
			c.byGVK[gvk] = name
		}
	}
	if c.conv, err = managedfields.NewTypeConverter(c.models, false); err != nil {
		return nil, fmt.Errorf("build type converter: %w", err)
	}
	return c, nil
}

// gvksOf reads a model's x-kubernetes-group-version-kind extension.
func gvksOf(s *spec.Schema) []kschema.GroupVersionKind {
	raw, ok := s.Extensions["x-kubernetes-group-version-kind"].([]any)
	if !ok {
		return nil
	}
	var out []kschema.GroupVersionKind
	for _, e := range raw {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		out = append(out, kschema.GroupVersionKind{Group: g, Version: v, Kind: k})
	}
	return out
}

// resolve follows a schema's reference ($ref, or allOf holding one ref, as
// OpenAPI v3 documents spell a field of a named type).
func (c *Catalog) resolve(s *spec.Schema) *spec.Schema {
	s, _ = c.resolveNamed(s)
	return s
}

// resolveNamed is resolve, with the name of the model it ends at ("" for
// an inline schema).
func (c *Catalog) resolveNamed(s *spec.Schema) (*spec.Schema, string) {
	name := ""
	for i := 0; s != nil && i < 8; i++ {
		ref := s.Ref.String()
		if ref == "" && len(s.AllOf) == 1 {
			ref = s.AllOf[0].Ref.String()
		}
		if ref == "" {
			return s, name
		}
		name = strings.TrimPrefix(ref, "#/components/schemas/")
		s = c.models[name]
	}
	return s, name
}

// objectMeta is the model of every object's metadata.
const objectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

// closure copies the model name and every model it refers to, so a
// custom kind's converter can embed ObjectMeta as the server does.
func (c *Catalog) closure(name string) map[string]*spec.Schema {
	out := map[string]*spec.Schema{}
	var visit func(s *spec.Schema)
	add := func(ref string) {
		n := strings.TrimPrefix(ref, "#/components/schemas/")
		if _, seen := out[n]; seen || c.models[n] == nil {
			return
		}
		out[n] = c.models[n]
		visit(c.models[n])
	}
	visit = func(s *spec.Schema) {
		if s == nil {
			return
		}
		if r := s.Ref.String(); r != "" {
			add(r)
		}
		for _, a := range s.AllOf {
			visit(&a)
		}
		for _, p := range s.Properties {
			visit(&p)
		}
		if s.Items != nil {
			visit(s.Items.Schema)
		}
		if s.AdditionalProperties != nil {
			visit(s.AdditionalProperties.Schema)
		}
	}
	add(name)
	return out
}
