package render

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ScopeFunc tells whether a kind is namespaced, for kinds neither built in
// nor defined by a CRD in the same app (typically from the target
// cluster's discovery). known is false when it cannot tell.
type ScopeFunc func(gk schema.GroupKind) (namespaced, known bool)

// clusterScoped are the built-in cluster-scoped kinds of Kubernetes.
var clusterScoped = map[schema.GroupKind]bool{
	{Group: "", Kind: "Namespace"}:                                                    true,
	{Group: "", Kind: "Node"}:                                                         true,
	{Group: "", Kind: "PersistentVolume"}:                                             true,
	{Group: "", Kind: "ComponentStatus"}:                                              true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicy"}:          true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingAdmissionPolicyBinding"}:   true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      true,
	{Group: "storage.k8s.io", Kind: "CSINode"}:                                        true,
	{Group: "storage.k8s.io", Kind: "VolumeAttachment"}:                               true,
	{Group: "storage.k8s.io", Kind: "VolumeAttributesClass"}:                          true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                true,
	{Group: "networking.k8s.io", Kind: "IPAddress"}:                                   true,
	{Group: "networking.k8s.io", Kind: "ServiceCIDR"}:                                 true,
	{Group: "certificates.k8s.io", Kind: "CertificateSigningRequest"}:                 true,
	{Group: "certificates.k8s.io", Kind: "ClusterTrustBundle"}:                        true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "FlowSchema"}:                       true,
	{Group: "flowcontrol.apiserver.k8s.io", Kind: "PriorityLevelConfiguration"}:       true,
	{Group: "resource.k8s.io", Kind: "DeviceClass"}:                                   true,
	{Group: "resource.k8s.io", Kind: "ResourceSlice"}:                                 true,
	{Group: "internal.apiserver.k8s.io", Kind: "StorageVersion"}:                      true,
	{Group: "storagemigration.k8s.io", Kind: "StorageVersionMigration"}:               true,
	{Group: "authentication.k8s.io", Kind: "TokenReview"}:                             true,
	{Group: "authentication.k8s.io", Kind: "SelfSubjectReview"}:                       true,
	{Group: "authorization.k8s.io", Kind: "SubjectAccessReview"}:                      true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectAccessReview"}:                  true,
	{Group: "authorization.k8s.io", Kind: "SelfSubjectRulesReview"}:                   true,
	{Group: "policy", Kind: "PodSecurityPolicy"}:                                      true,
}

// namespacedFunc returns whether a group/kind is namespaced: built-in
// kinds from the table above, kinds defined by CRDs rendered in the same
// app from their spec.scope, then scope, and namespaced when nobody knows.
func namespacedFunc(objs []rendered, scope ScopeFunc) func(schema.GroupKind) bool {
	crds := map[schema.GroupKind]bool{}
	for _, r := range objs {
		u := r.obj
		if u.GetKind() != "CustomResourceDefinition" || !strings.HasPrefix(u.GetAPIVersion(), "apiextensions.k8s.io/") {
			continue
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		sc, _, _ := unstructured.NestedString(u.Object, "spec", "scope")
		crds[schema.GroupKind{Group: group, Kind: kind}] = sc != "Cluster"
	}
	return func(gk schema.GroupKind) bool {
		if clusterScoped[gk] {
			return false
		}
		if ns, ok := crds[gk]; ok {
			return ns
		}
		if scope != nil {
			if ns, known := scope(gk); known {
				return ns
			}
		}
		return true
	}
}

// defaultNamespaces sets ns on namespaced objects without a namespace, and
// clears the namespace of cluster-scoped ones.
func defaultNamespaces(objs []rendered, ns string, scope ScopeFunc) {
	namespaced := namespacedFunc(objs, scope)
	for _, r := range objs {
		gk := r.obj.GroupVersionKind().GroupKind()
		switch {
		case !namespaced(gk):
			if r.obj.GetNamespace() != "" {
				r.obj.SetNamespace("")
			}
		case r.obj.GetNamespace() == "":
			r.obj.SetNamespace(ns)
		}
	}
}
