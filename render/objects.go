package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// objectsFromDocs turns decoded documents of one file into objects: List
// kinds are expanded into their items, and every object must have
// apiVersion, kind and metadata.name. All bad documents are reported.
func objectsFromDocs(file string, docs []document) ([]rendered, []error) {
	var out []rendered
	var errs []error
	for _, d := range docs {
		m, ok := d.Value.(map[string]any)
		if !ok {
			errs = append(errs, fileError(file, d.Line, ErrInvalid, "document is not a mapping, want a Kubernetes object"))
			continue
		}
		if d.ItemLines != nil {
			items, _ := m["items"].([]any)
			for i, it := range items {
				line := d.Line
				if i < len(d.ItemLines) {
					line = d.ItemLines[i]
				}
				im, ok := it.(map[string]any)
				if !ok {
					errs = append(errs, fileError(file, line, ErrInvalid, "list item is not a mapping, want a Kubernetes object"))
					continue
				}
				r, err := newObject(file, line, im)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, r)
			}
			continue
		}
		r, err := newObject(file, d.Line, m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errs
}

// newObject checks that m is a Kubernetes object and wraps it.
func newObject(file string, line int, m map[string]any) (rendered, error) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	switch {
	case apiVersion == "" && kind == "":
		return rendered{}, fileError(file, line, ErrInvalid, "document has no apiVersion and kind, want a Kubernetes object")
	case apiVersion == "":
		return rendered{}, fileError(file, line, ErrInvalid, "%s has no apiVersion", kind)
	case kind == "":
		return rendered{}, fileError(file, line, ErrInvalid, "object of apiVersion %s has no kind", apiVersion)
	}
	if md, ok := m["metadata"]; ok {
		if _, isMap := md.(map[string]any); !isMap {
			return rendered{}, fileError(file, line, ErrInvalid, "%s metadata is not a mapping", kind)
		}
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetName() == "" {
		return rendered{}, fileError(file, line, ErrInvalid, "%s has no metadata.name", kind)
	}
	return rendered{obj: u, src: Source{File: file, Line: line}}, nil
}

// describe names an object for messages: "Deployment web/api".
func describe(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
	}
	return fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
}
