package schema

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// maxDepth bounds the walk: a rendered object deeper than this is
// hostile, and the conversion already accepted its shape.
const maxDepth = 64

// walk checks the enums of a value that already converted to its type,
// and the required fields the server enforces (serverRequired), with the
// server's paths (field.Path), so errors read as the server's own.
//
// Quantities are parsed as the server decodes them: its error names no
// field, so offline it is the more precise of the two.
func (c *Catalog) walk(v any, s *spec.Schema, p *field.Path, depth int) field.ErrorList {
	if q, ok := v.(string); ok && c.isQuantity(s) {
		if _, err := resource.ParseQuantity(q); err != nil {
			return field.ErrorList{field.Invalid(p, q, err.Error())}
		}
		return nil
	}
	s, model := c.resolveNamed(s)
	if s == nil || v == nil || depth > maxDepth {
		return nil
	}
	var errs field.ErrorList
	switch t := v.(type) {
	case map[string]any:
		errs = append(errs, missingRequired(model, t, p)...)
		for _, k := range sortedKeys(t) {
			if prop, ok := s.Properties[k]; ok {
				errs = append(errs, c.walk(t[k], &prop, p.Child(k), depth+1)...)
				continue
			}
			if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
				errs = append(errs, c.walk(t[k], s.AdditionalProperties.Schema, p.Key(k), depth+1)...)
			}
		}
	case []any:
		if s.Items != nil && s.Items.Schema != nil {
			for i, e := range t {
				errs = append(errs, c.walk(e, s.Items.Schema, p.Index(i), depth+1)...)
			}
		}
	case string:
		// An empty string is an unset field the server defaults.
		if len(s.Enum) > 0 && t != "" && !inEnum(t, s.Enum) {
			errs = append(errs, field.NotSupported(p, t, enumStrings(s.Enum)))
		}
	}
	return errs
}

// isQuantity says whether a schema refers to the Quantity model.
func (c *Catalog) isQuantity(s *spec.Schema) bool {
	if s == nil {
		return false
	}
	ref := s.Ref.String()
	if ref == "" && len(s.AllOf) == 1 {
		ref = s.AllOf[0].Ref.String()
	}
	return ref == "#/components/schemas/"+quantityModel
}

// quantityModel is the model of resource quantities ("100m", "1Gi").
const quantityModel = "io.k8s.apimachinery.pkg.api.resource.Quantity"

func inEnum(v string, enum []any) bool {
	for _, e := range enum {
		if s, ok := e.(string); ok && s == v {
			return true
		}
	}
	return false
}

func enumStrings(enum []any) []string {
	out := make([]string, 0, len(enum))
	for _, e := range enum {
		out = append(out, fmt.Sprint(e))
	}
	return out
}
