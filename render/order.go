package render

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rank puts CRDs first and Namespaces second, so that what others depend
// on is applied and read first.
func rank(u *unstructured.Unstructured) int {
	gk := u.GroupVersionKind().GroupKind()
	switch {
	case gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition":
		return 0
	case gk.Group == "" && gk.Kind == "Namespace":
		return 1
	default:
		return 2
	}
}

// sortObjects orders objects CRDs, Namespaces, then by kind, namespace,
// name and apiVersion: a total order, so output is deterministic.
func sortObjects(objs []rendered) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i].obj, objs[j].obj
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		if a.GetName() != b.GetName() {
			return a.GetName() < b.GetName()
		}
		return a.GetAPIVersion() < b.GetAPIVersion()
	})
}
