package schema

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// Options say what to validate against.
type Options struct {
	// KubeVersion is the target cluster's version ("1.31", "v1.31.2");
	// the nearest shipped version is used. Default: the newest shipped.
	KubeVersion string
	// CRDs are CustomResourceDefinitions found elsewhere in the
	// repository; those among the validated objects count too.
	CRDs []*unstructured.Unstructured
}

// Result is what offline validation found.
type Result struct {
	// Version is the shipped Kubernetes version ("1.34") validated against.
	Version string
	// Target is Options.KubeVersion; Exact says Version is its own.
	Target string
	Exact  bool
	// Problems are the fields the schemas reject, in object order.
	Problems []Problem
	// Unchecked are the objects no schema covers, with the reason.
	Unchecked []Unchecked
	// Checked counts the objects validated against a schema.
	Checked int
	// NotChecked is what the API server would also check and no schema
	// says (NotChecked()): always listed, so a pass never claims more.
	NotChecked []string
}

// Problem is one field of one object that the schema rejects.
type Problem struct {
	Object *unstructured.Unstructured
	// Path is the field path as the API server prints it: with a leading
	// dot for type and unknown-field errors (structured-merge-diff's form,
	// ".spec.replicas"), without for the rest ("spec.selector").
	Path string
	// Message is the whole error, path first, as the server words it.
	Message string
}

// Unchecked is an object no schema covers.
type Unchecked struct {
	Object *unstructured.Unstructured
	Reason string
}

// NotChecked lists what the API server checks and offline validation
// cannot: it is in the server's code, its admission chain or its state,
// not in the schema.
func NotChecked() []string {
	return []string{
		"the server's own validation (name and label syntax, ports and ranges, selectors matching templates, the less common required fields of built-in kinds, and required fields below an absent one)",
		"immutable fields",
		"admission webhooks and policies, quotas",
		"CEL rules of CRDs",
		"that namespaces and referenced objects exist",
	}
}

// Validate checks objs against the schemas of the Kubernetes version
// nearest opts.KubeVersion and against the CRDs among objs and opts.CRDs.
func Validate(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*Result, error) {
	version, exact := Nearest(opts.KubeVersion)
	if version == "" {
		return nil, errors.New("validate offline: no Kubernetes schema is shipped")
	}
	cat, err := Load(version)
	if err != nil {
		return nil, err
	}
	res := &Result{Version: cat.MinorVersion(), Target: opts.KubeVersion, Exact: exact, NotChecked: NotChecked()}
	crds := newCRDIndex(cat, append(append([]*unstructured.Unstructured(nil), opts.CRDs...), objs...))
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gvk := o.GroupVersionKind()
		if name, ok := cat.byGVK[gvk]; ok {
			res.Checked++
			res.Problems = append(res.Problems, cat.validate(o, name)...)
			continue
		}
		cr, why := crds.lookup(gvk)
		if cr == nil {
			res.Unchecked = append(res.Unchecked, Unchecked{Object: o, Reason: why})
			continue
		}
		res.Checked++
		res.Problems = append(res.Problems, cr.validate(o)...)
	}
	return res, nil
}

// validate checks one built-in object: first the conversion a server-side
// apply makes (types, unknown fields, list keys), which ends the request
// on the server when it fails; then the schema's enums and quantities.
func (c *Catalog) validate(o *unstructured.Unstructured, model string) []Problem {
	if _, err := c.conv.ObjectToTyped(o); err != nil {
		return conversionProblems(o, err)
	}
	// Status is not applied and metadata is the server's to check: the
	// walk leaves them out.
	root := *c.models[model]
	root.Properties = map[string]spec.Schema{}
	for name, prop := range c.models[model].Properties {
		if name != "status" && name != "metadata" {
			root.Properties[name] = prop
		}
	}
	errs := c.walk(o.UnstructuredContent(), &root, nil, 0)
	return fieldProblems(o, errs)
}

// conversionProblems turns structured-merge-diff's errors into problems,
// one per field.
func conversionProblems(o *unstructured.Unstructured, err error) []Problem {
	var ves typed.ValidationErrors
	if !errors.As(err, &ves) {
		return []Problem{{Object: o, Message: err.Error()}}
	}
	out := make([]Problem, 0, len(ves))
	for _, ve := range ves {
		out = append(out, Problem{Object: o, Path: ve.Path, Message: ve.Error()})
	}
	return out
}

// fieldProblems turns field errors (the server's validation form) into
// problems.
func fieldProblems(o *unstructured.Unstructured, errs field.ErrorList) []Problem {
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, Problem{Object: o, Path: e.Field, Message: e.Error()})
	}
	return out
}

// Error is one problem as an error naming its object.
func (p Problem) Error() string {
	return fmt.Sprintf("%s: %s", objectName(p.Object), p.Message)
}

// objectName names an object as the diff does: Kind namespace/name.
func objectName(o *unstructured.Unstructured) string {
	if o == nil {
		return "object"
	}
	if ns := o.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", o.GetKind(), ns, o.GetName())
	}
	return fmt.Sprintf("%s %s", o.GetKind(), o.GetName())
}

// String names the object the reason is about.
func (u Unchecked) String() string { return objectName(u.Object) + ": " + u.Reason }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gvkString prints a kind as apiVersion and kind.
func gvkString(gvk kschema.GroupVersionKind) string {
	return gvk.GroupVersion().String() + " " + gvk.Kind
}
