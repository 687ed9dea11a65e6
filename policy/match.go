package policy

import (
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/labels"
)

// world is what constraints know beyond the object: the namespaces' labels
// and the inventory.
type world struct {
	namespaces map[string]map[string]string
	inventory  ast.Value
}

// applies is Gatekeeper's match. Deletions are not judged: Gatekeeper's
// admission webhook is not sent DELETE by default, and templates written for
// CREATE/UPDATE would deny removing a non-compliant object.
func (c *constraint) applies(o Object, w *world) bool {
	if o.action() == ActionDelete {
		return false
	}
	obj := o.Obj
	gvk := obj.GroupVersionKind()
	m := c.raw.match
	isNamespace := gvk.Group == "" && gvk.Kind == "Namespace"
	ns := obj.GetNamespace()
	if isNamespace {
		ns = obj.GetName()
	}
	if len(m.Kinds) > 0 {
		ok := false
		for _, k := range m.Kinds {
			if (len(k.Kinds) == 0 || slices.Contains(k.Kinds, "*") || slices.Contains(k.Kinds, gvk.Kind)) &&
				(len(k.APIGroups) == 0 || slices.Contains(k.APIGroups, "*") || slices.Contains(k.APIGroups, gvk.Group)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	switch m.Scope {
	case "Cluster":
		if !isNamespace && obj.GetNamespace() != "" {
			return false
		}
	case "Namespaced":
		if isNamespace || obj.GetNamespace() == "" {
			return false
		}
	}
	if len(m.Namespaces) > 0 && ns != "" && !slices.ContainsFunc(m.Namespaces, func(p string) bool { return wildcard(p, ns) }) {
		return false
	}
	if ns != "" && slices.ContainsFunc(m.ExcludedNamespaces, func(p string) bool { return wildcard(p, ns) }) {
		return false
	}
	if c.labels != nil && !c.labels.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	if c.nsLabels != nil {
		switch {
		case isNamespace:
			if !c.nsLabels.Matches(labels.Set(obj.GetLabels())) {
				return false
			}
		case ns == "":
			// Cluster-scoped objects other than Namespaces match.
		default:
			l, known := w.namespaces[ns]
			if !known || !c.nsLabels.Matches(labels.Set(l)) {
				return false // unknown namespace: cannot be selected
			}
		}
	}
	if m.Name != "" && !wildcard(m.Name, obj.GetName()) {
		return false
	}
	return true
}

// wildcard is Gatekeeper's prefix or suffix glob.
func wildcard(pattern, s string) bool {
	switch {
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(s, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(s, strings.TrimPrefix(pattern, "*"))
	default:
		return pattern == s
	}
}
