package cluster

import (
	"cmp"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectRef identifies an object across API versions: the version is kept
// to reach it again, but two refs that differ only in version are the same
// object (see Key).
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the ref of an object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// String is Kind/namespace/name, or Kind/name for a cluster-scoped object:
// the form every error and output line starts with.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// GroupVersionKind returns the ref's kind with its version.
func (r ObjectRef) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// Key identifies the object regardless of API version.
func (r ObjectRef) Key() string {
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

// isCRD reports whether the object is a CustomResourceDefinition.
func isCRD(r ObjectRef) bool {
	return r.Group == "apiextensions.k8s.io" && r.Kind == "CustomResourceDefinition"
}

// isNamespace reports whether the object is a Namespace.
func isNamespace(r ObjectRef) bool { return r.Group == "" && r.Kind == "Namespace" }

// isSecret reports whether the object is a Secret.
func isSecret(r ObjectRef) bool { return r.Group == "" && r.Kind == "Secret" }

// stage is the apply order: CRDs, then Namespaces, then the rest.
func stage(r ObjectRef) int {
	switch {
	case isCRD(r):
		return 0
	case isNamespace(r):
		return 1
	}
	return 2
}

// sortRefs orders refs by stage, then kind, namespace and name, the order
// every output lists objects in.
func sortRefs(refs []ObjectRef) {
	slices.SortFunc(refs, compareRefs)
}

func compareRefs(a, b ObjectRef) int {
	return cmp.Or(cmp.Compare(stage(a), stage(b)), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Group, b.Group),
		cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// ObjectError is the failure of one object; the message starts with the
// object, e.g. "Deployment/web/api dry-run failed: …".
type ObjectError struct {
	Ref ObjectRef
	Op  string
	Err error
}

func (e *ObjectError) Error() string { return fmt.Sprintf("%s %s failed: %v", e.Ref, e.Op, e.Err) }

// Unwrap returns the API error.
func (e *ObjectError) Unwrap() error { return e.Err }

// SetSources sets the Source of every object source knows (the
// repository file and line it was rendered from, "" when unknown), so
// that errors point at the line to fix.
func (s *DiffSet) SetSources(source func(ObjectRef) string) {
	for i := range s.Objects {
		s.Objects[i].Source = source(s.Objects[i].Object)
	}
}

// SetSources sets the Source of every object source knows, as
// DiffSet.SetSources does.
func (s *ChangeSet) SetSources(source func(ObjectRef) string) {
	for i := range s.Objects {
		s.Objects[i].Source = source(s.Objects[i].Object)
	}
}
