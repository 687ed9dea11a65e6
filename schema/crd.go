package schema

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	openapierrors "k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// customType is one served version of a CustomResourceDefinition found in
// the repository.
type customType struct {
	crd       string
	validator *validate.SchemaValidator
	// conv is the type converter of a server-side apply of the kind.
	conv managedfields.TypeConverter
	// broken says why the schema cannot be used; objects of the kind are
	// then unchecked.
	broken string
}

// crdIndex holds the custom kinds the repository defines.
type crdIndex struct {
	byGVK map[kschema.GroupVersionKind]*customType
	// kinds holds group and kind of every CRD, to tell a missing version
	// from a missing definition.
	kinds map[kschema.GroupKind]string
}

// newCRDIndex reads the CustomResourceDefinitions among objs. A CRD the
// API server would refuse is not trusted for validation: its kinds are
// reported unchecked with the reason.
func newCRDIndex(cat *Catalog, objs []*unstructured.Unstructured) *crdIndex {
	idx := &crdIndex{byGVK: map[kschema.GroupVersionKind]*customType{}, kinds: map[kschema.GroupKind]string{}}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Group != "apiextensions.k8s.io" || gvk.Kind != "CustomResourceDefinition" || gvk.Version != "v1" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		if group == "" || kind == "" {
			continue
		}
		idx.kinds[kschema.GroupKind{Group: group, Kind: kind}] = o.GetName()
		for _, v := range versions {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			name, _ := vm["name"].(string)
			if served, _ := vm["served"].(bool); !served || name == "" {
				continue
			}
			ct := &customType{crd: o.GetName()}
			raw, found, _ := unstructured.NestedFieldNoCopy(vm, "schema", "openAPIV3Schema")
			if !found {
				ct.broken = "its version " + name + " has no schema"
			} else {
				gvk := kschema.GroupVersionKind{Group: group, Version: name, Kind: kind}
				ct.validator, ct.broken = customValidator(raw)
				if ct.broken == "" {
					ct.conv, ct.broken = cat.customConverter(gvk, raw)
				}
			}
			idx.byGVK[kschema.GroupVersionKind{Group: group, Version: name, Kind: kind}] = ct
		}
	}
	return idx
}

// lookup finds the custom type of gvk, or says why there is none.
func (idx *crdIndex) lookup(gvk kschema.GroupVersionKind) (*customType, string) {
	if ct := idx.byGVK[gvk]; ct != nil {
		if ct.broken != "" {
			return nil, fmt.Sprintf("not checked: CustomResourceDefinition %s is not usable (%s)", ct.crd, ct.broken)
		}
		return ct, ""
	}
	if crd, ok := idx.kinds[gvk.GroupKind()]; ok {
		return nil, fmt.Sprintf("not checked: CustomResourceDefinition %s serves no version %s", crd, gvk.Version)
	}
	if gvk.Group == "" || !strings.Contains(gvk.Group, ".") {
		return nil, "not checked: " + gvkString(gvk) + " is not a kind of this Kubernetes version"
	}
	return nil, "not checked: no schema for " + gvkString(gvk) + " (its CustomResourceDefinition is not in the repository, or an aggregated API serves it)"
}

// customConverter makes the type converter a server-side apply of a
// custom kind uses: the CRD's schema with metadata as ObjectMeta, unknown
// fields refused unless the schema preserves them. Integer-or-string
// fields are untyped here; the validator checks their type.
func (c *Catalog) customConverter(gvk kschema.GroupVersionKind, raw any) (managedfields.TypeConverter, string) {
	s, why := decodeSchema(raw, false)
	if why != "" {
		return nil, why
	}
	models := c.closure(objectMeta)
	if s.Properties == nil {
		s.Properties = map[string]spec.Schema{}
	}
	s.Properties["metadata"] = *spec.RefSchema("#/components/schemas/" + objectMeta)
	s.Properties["apiVersion"] = *spec.StringProperty()
	s.Properties["kind"] = *spec.StringProperty()
	s.AddExtension("x-kubernetes-group-version-kind", []any{map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}})
	models["gantry.custom."+gvk.Kind] = s
	conv, err := managedfields.NewTypeConverter(models, false)
	if err != nil {
		return nil, "its schema is not structural: " + err.Error()
	}
	return conv, ""
}

// customValidator makes the validator of a CRD version's
// openAPIV3Schema, read as the API server reads it.
func customValidator(raw any) (*validate.SchemaValidator, string) {
	s, why := decodeSchema(raw, true)
	if why != "" {
		return nil, why
	}
	return validate.NewSchemaValidator(s, nil, "", strfmt.Default), ""
}

// decodeSchema reads a CRD's openAPIV3Schema; typed gives
// x-kubernetes-int-or-string fields the integer-or-string type (for the
// validator), else no type (for the converter).
func decodeSchema(raw any, typed bool) (*spec.Schema, string) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, "its schema is not JSON"
	}
	var s spec.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, "its schema does not decode: " + err.Error()
	}
	if why := postProcess(&s, typed, 0); why != "" {
		return nil, why
	}
	return &s, ""
}

// postProcess makes a CRD schema what the API server validates with:
// x-kubernetes-int-or-string becomes the integer-or-string type. $ref is
// refused, as the server refuses it, so nothing is ever resolved.
func postProcess(s *spec.Schema, typed bool, depth int) string {
	if depth > maxDepth {
		return "its schema is nested too deeply"
	}
	if s.Ref.String() != "" {
		return "its schema uses $ref, which the API server refuses"
	}
	if v, _ := s.Extensions["x-kubernetes-int-or-string"].(bool); v {
		s.Type = nil
		if typed {
			s.Type = spec.StringOrArray{"integer", "string"}
		}
	}
	// Properties are held by value: each is processed and stored back.
	for k, p := range s.Properties {
		if why := postProcess(&p, typed, depth+1); why != "" {
			return why
		}
		s.Properties[k] = p
	}
	children := make([]*spec.Schema, 0, len(s.AllOf)+len(s.AnyOf)+len(s.OneOf)+2)
	for i := range s.AllOf {
		children = append(children, &s.AllOf[i])
	}
	for i := range s.AnyOf {
		children = append(children, &s.AnyOf[i])
	}
	for i := range s.OneOf {
		children = append(children, &s.OneOf[i])
	}
	if s.Not != nil {
		children = append(children, s.Not)
	}
	if s.Items != nil {
		if s.Items.Schema != nil {
			children = append(children, s.Items.Schema)
		}
		for i := range s.Items.Schemas {
			children = append(children, &s.Items.Schemas[i])
		}
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		children = append(children, s.AdditionalProperties.Schema)
	}
	for _, c := range children {
		if why := postProcess(c, typed, depth+1); why != "" {
			return why
		}
	}
	return ""
}

// validate checks a custom object against its CRD's schema, with the
// field paths and wording of the API server's CustomResource validation.
func (ct *customType) validate(o *unstructured.Unstructured) []Problem {
	if _, err := ct.conv.ObjectToTyped(o); err != nil {
		return conversionProblems(o, err)
	}
	res := ct.validator.Validate(o.UnstructuredContent())
	var errs field.ErrorList
	for _, e := range res.Errors {
		ve, ok := e.(*openapierrors.Validation)
		if !ok {
			errs = append(errs, field.Invalid(nil, "", e.Error()))
			continue
		}
		var p *field.Path
		if ve.Name != "" && ve.Name != "." {
			p = p.Child(strings.TrimPrefix(ve.Name, "."))
		}
		value := ve.Value
		if value == nil {
			value = ""
		}
		switch ve.Code() {
		case openapierrors.RequiredFailCode:
			errs = append(errs, field.Required(p, ""))
		case openapierrors.EnumFailCode:
			errs = append(errs, field.NotSupported(p, ve.Value, enumStrings(ve.Values)))
		case openapierrors.InvalidTypeCode:
			errs = append(errs, field.TypeInvalid(p, value, ve.Error()))
		default:
			errs = append(errs, field.Invalid(p, value, ve.Error()))
		}
	}
	return fieldProblems(o, errs)
}
