package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ObjectKey identifies a rendered object within one app.
type ObjectKey struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
}

// KeyOf returns the key of an object.
func KeyOf(u *unstructured.Unstructured) ObjectKey {
	return ObjectKey{
		APIVersion: u.GetAPIVersion(),
		Kind:       u.GetKind(),
		Namespace:  u.GetNamespace(),
		Name:       u.GetName(),
	}
}

// String formats the key as "apiVersion Kind namespace/name" (no namespace
// part for cluster-scoped objects).
func (k ObjectKey) String() string {
	if k.Namespace == "" {
		return fmt.Sprintf("%s %s %s", k.APIVersion, k.Kind, k.Name)
	}
	return fmt.Sprintf("%s %s %s/%s", k.APIVersion, k.Kind, k.Namespace, k.Name)
}

// Source is where an object came from in the repository.
type Source struct {
	// File is the repository-relative, slash-separated path of the file
	// that produced the object: the manifest, the Kustomize resource or
	// kustomization (for generated objects), or the Helm template.
	File string
	// Line is the 1-based line where the object starts in File; exact for
	// plain YAML and Kustomize resources, the document's first line in a
	// Helm template, the generator entry for Kustomize-generated objects.
	Line int
	// HelmHook is the value of the object's helm.sh/hook annotation when
	// it is a Helm hook (kept in the output, marked here); empty otherwise.
	HelmHook string
	// Decrypted marks a v1 Secret whose every value was decrypted from
	// SOPS-encrypted files: it is encrypted in Git. Policies see its values
	// masked, whatever their trust.
	Decrypted bool
}

// SourceMap maps every rendered object to its source.
type SourceMap map[ObjectKey]Source

// Of returns the source of an object.
func (m SourceMap) Of(u *unstructured.Unstructured) (Source, bool) {
	s, ok := m[KeyOf(u)]
	return s, ok
}

// rendered is an object with its source, as the renderers produce them.
type rendered struct {
	obj *unstructured.Unstructured
	src Source
	// unstable is set on a Helm chart's object whose fields differ
	// between two renders of the same inputs (see findUnstable).
	unstable *unstable
}
