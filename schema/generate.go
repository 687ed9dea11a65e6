package schema

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/client-go/openapi"
)

// Generate reads every group-version document an API server serves under
// /openapi/v3 and returns the schema file gantry ships for its version
// (gzipped JSON: the version and the component schemas without their
// descriptions, which validation never reads). hack/openapigen runs it
// against the local cluster; a test checks the shipped file against it.
func Generate(version string, paths map[string]openapi.GroupVersion) (plain, gz []byte, err error) {
	names := make([]string, 0, len(paths))
	for p := range paths {
		if builtinPath(p) {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	schemas := map[string]any{}
	for _, p := range names {
		raw, err := paths[p].Schema("application/json")
		if err != nil {
			return nil, nil, fmt.Errorf("read /openapi/v3/%s: %w", p, err)
		}
		var doc struct {
			Components struct {
				Schemas map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, nil, fmt.Errorf("decode /openapi/v3/%s: %w", p, err)
		}
		for name, s := range doc.Components.Schemas {
			schemas[name] = stripDescriptions(s)
		}
	}
	// encoding/json sorts map keys: the same server gives the same bytes.
	if plain, err = json.Marshal(map[string]any{"version": strings.TrimPrefix(version, "v"), "schemas": schemas}); err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if _, err := zw.Write(plain); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	return plain, buf.Bytes(), nil
}

// builtinPath tells whether an /openapi/v3 path serves a group built into
// Kubernetes: the core group, a group without a dot or one under k8s.io.
// CRDs (whose groups hold a dot) are left out, so a cluster that serves
// some, such as the test cluster after its CRD tests, makes the same file.
func builtinPath(p string) bool {
	if p == "api" || strings.HasPrefix(p, "api/") {
		return true
	}
	rest, ok := strings.CutPrefix(p, "apis/")
	if !ok {
		return false
	}
	group, _, _ := strings.Cut(rest, "/")
	return !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io")
}

// FileName is the name of the shipped schema file of a version such as
// "1.34".
func FileName(minor string) string { return "kubernetes-" + minor + ".json.gz" }

// stripDescriptions drops description texts (not a property named
// "description", which is a schema).
func stripDescriptions(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if _, isText := e.(string); isText && k == "description" {
				delete(t, k)
				continue
			}
			t[k] = stripDescriptions(e)
		}
	case []any:
		for i := range t {
			t[i] = stripDescriptions(t[i])
		}
	}
	return v
}
