// Package preview turns an app's render into a preview environment: every
// object moved into one namespace of the pull request's own, references to
// the app's namespaces rewritten to it, and whatever would reach beyond
// that namespace refused. It is pure: the cluster is asked nothing but
// whether a kind is namespaced, through a function the caller gives.
package preview

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/excerpt"
)

// MaxNamespace is the longest preview namespace: shorter than a DNS label's
// 63 characters so an Ingress host label can hold a prefix and the
// namespace (see host).
const MaxNamespace = 48

// Namespace is the preview namespace of app for pull request pr of repo:
// "gantry-pr-<pr>-<app>-<hash>", the app cut to fit MaxNamespace. The hash
// covers the repository, the pull request and the whole app name, so no
// app name, however crafted, and no other repository's pull request of the
// same number, gets the namespace of another preview.
func Namespace(repo string, pr int, app string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(repo)) + "\x00" + strconv.Itoa(pr) + "\x00" + app))
	hash := hex.EncodeToString(sum[:])[:10]
	prefix := "gantry-pr-" + strconv.Itoa(pr) + "-"
	part := dnsOnly(app)
	if room := MaxNamespace - len(prefix) - len(hash) - 1; len(part) > room {
		part = part[:max(room, 0)]
	}
	part = strings.Trim(part, "-")
	if part == "" {
		return prefix + hash
	}
	return prefix + part + "-" + hash
}

// dnsOnly keeps the characters a DNS label may hold, lower-cased.
func dnsOnly(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Options say how a render becomes a preview.
type Options struct {
	// Namespace is the preview's namespace (see Namespace).
	Namespace string
	// SourceNamespaces are the namespaces the app deploys to outside a
	// preview (its default namespace); those its objects name are added.
	// References to them are rewritten to Namespace.
	SourceNamespaces []string
	// ClusterRoles are the ClusterRoles a RoleBinding of a preview may
	// bind (within the preview namespace); any other is refused.
	ClusterRoles []string
	// IngressDomain hosts every Ingress host of a preview under it; empty
	// refuses Ingresses, whose hosts would otherwise take production's.
	IngressDomain string
	// SkipClusterScoped drops cluster-scoped objects with a note instead
	// of refusing the preview.
	SkipClusterScoped bool
	// MaxObjects refuses a render of more objects; 0 is no limit.
	MaxObjects int
}

// Namespaced says whether a kind is namespaced, as the cluster serves it;
// an error means the cluster does not serve it.
type Namespaced func(gvk schema.GroupVersionKind) (bool, error)

// Refusal is an object a preview cannot hold, and why.
type Refusal struct {
	// Object is "Kind/namespace/name" as rendered, "" for the render as a
	// whole (too many objects).
	Object string
	Reason string
}

func (r Refusal) String() string {
	if r.Object == "" {
		return r.Reason
	}
	return r.Object + ": " + r.Reason
}

// Result is a render made a preview. The preview may be applied only when
// Refused is empty.
type Result struct {
	Objects []*unstructured.Unstructured
	Refused []Refusal
	// Notes say what was dropped or changed beyond the namespace.
	Notes []string
	// Hosts are the Ingress hosts of the preview, rewritten.
	Hosts []string
}

// Rewrite makes objs a preview as opts says. objs are not changed.
func Rewrite(objs []*unstructured.Unstructured, opts Options, namespaced Namespaced) Result {
	var res Result
	if opts.MaxObjects > 0 && len(objs) > opts.MaxObjects {
		res.Refused = append(res.Refused, Refusal{Reason: fmt.Sprintf("the app renders %d objects, more than the %d a preview may hold (previews.maxObjects)", len(objs), opts.MaxObjects)})
		return res
	}
	sources := sourceNamespaces(objs, opts)
	dns := dnsRewriter(sources, opts.Namespace)
	for _, in := range objs {
		ref := refString(in)
		gvk := in.GroupVersionKind()
		if gvk.Group == "" && gvk.Kind == "Namespace" {
			res.Notes = append(res.Notes, fmt.Sprintf("%s not created: the preview has its own namespace", ref))
			continue
		}
		ns, err := namespaced(gvk)
		switch {
		case err != nil:
			res.Refused = append(res.Refused, Refusal{ref, "the cluster does not serve this kind (" + excerpt.OneLine(err.Error()) + ")"})
			continue
		case !ns && opts.SkipClusterScoped:
			res.Notes = append(res.Notes, fmt.Sprintf("%s skipped: cluster-scoped objects are shared with production, never previewed", ref))
			continue
		case !ns:
			res.Refused = append(res.Refused, Refusal{ref, "cluster-scoped: a preview creates objects in its own namespace only"})
			continue
		}
		u := in.DeepCopy()
		u.SetNamespace(opts.Namespace)
		u.SetOwnerReferences(nil)
		rewriteStrings(u.Object, dns)
		if why := checkKind(u, sources, &opts, &res); why != "" {
			res.Refused = append(res.Refused, Refusal{ref, why})
			continue
		}
		res.Objects = append(res.Objects, u)
	}
	sort.Strings(res.Hosts)
	res.Hosts = slices.Compact(res.Hosts)
	return res
}

// sourceNamespaces are the app's namespaces: the options' and those the
// objects name, the preview's own left out.
func sourceNamespaces(objs []*unstructured.Unstructured, opts Options) []string {
	set := map[string]bool{}
	for _, n := range opts.SourceNamespaces {
		set[n] = true
	}
	for _, u := range objs {
		set[u.GetNamespace()] = true
		if u.GetAPIVersion() == "v1" && u.GetKind() == "Namespace" {
			set[u.GetName()] = true
		}
	}
	delete(set, "")
	delete(set, opts.Namespace)
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// checkKind rewrites and checks what some kinds say beyond their own
// namespace; it returns why the object is refused, "" when it is not.
func checkKind(u *unstructured.Unstructured, sources []string, opts *Options, res *Result) string {
	gvk := u.GroupVersionKind()
	switch {
	case gvk.Group == "rbac.authorization.k8s.io" && gvk.Kind == "RoleBinding":
		return roleBinding(u, sources, opts)
	case gvk.Group == "networking.k8s.io" && gvk.Kind == "Ingress":
		return ingress(u, opts, res)
	case gvk.Group == "" && (gvk.Kind == "ResourceQuota" || gvk.Kind == "LimitRange"):
		return "a preview's quota and limits are the server's (previews.quota, previews.limits)"
	case gvk.Group == "" && gvk.Kind == "PersistentVolumeClaim":
		if v, _, _ := unstructured.NestedString(u.Object, "spec", "volumeName"); v != "" {
			return fmt.Sprintf("binds the PersistentVolume %q by name: a preview claims new volumes only", v)
		}
	}
	return ""
}

// roleBinding allows a binding to a Role of the preview, or to a
// ClusterRole the server lists; ServiceAccount subjects of the app's
// namespaces move into the preview, those of any other are refused.
func roleBinding(u *unstructured.Unstructured, sources []string, opts *Options) string {
	kind, _, _ := unstructured.NestedString(u.Object, "roleRef", "kind")
	name, _, _ := unstructured.NestedString(u.Object, "roleRef", "name")
	if kind == "ClusterRole" && !slices.Contains(opts.ClusterRoles, name) {
		return fmt.Sprintf("binds the ClusterRole %q, which the server does not allow previews to bind (previews.clusterRoles)", name)
	}
	subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
	for i, s := range subjects {
		m, ok := s.(map[string]any)
		if !ok {
			return "a subject is not an object"
		}
		if m["kind"] != "ServiceAccount" {
			continue
		}
		ns, _ := m["namespace"].(string)
		if ns != "" && ns != opts.Namespace && !slices.Contains(sources, ns) {
			return fmt.Sprintf("grants the ServiceAccount %s/%v, outside the preview", ns, m["name"])
		}
		m["namespace"] = opts.Namespace
		subjects[i] = m
	}
	if len(subjects) > 0 {
		_ = unstructured.SetNestedSlice(u.Object, subjects, "subjects")
	}
	return ""
}

// ingress moves every host of an Ingress under the preview domain, so a
// preview never answers for production's hosts.
func ingress(u *unstructured.Unstructured, opts *Options, res *Result) string {
	if opts.IngressDomain == "" {
		return "an Ingress would answer for production's hosts; the server sets no previews.ingressDomain to host previews under"
	}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for i, r := range rules {
		m, ok := r.(map[string]any)
		if !ok {
			return "a rule is not an object"
		}
		h, _ := m["host"].(string)
		nh, why := host(h, opts)
		if why != "" {
			return why
		}
		m["host"] = nh
		rules[i] = m
		res.Hosts = append(res.Hosts, nh)
	}
	if len(rules) > 0 {
		_ = unstructured.SetNestedSlice(u.Object, rules, "spec", "rules")
	}
	tls, _, _ := unstructured.NestedSlice(u.Object, "spec", "tls")
	for i, t := range tls {
		m, ok := t.(map[string]any)
		if !ok {
			return "a tls entry is not an object"
		}
		hosts, _ := m["hosts"].([]any)
		for j, h := range hosts {
			s, _ := h.(string)
			nh, why := host(s, opts)
			if why != "" {
				return why
			}
			hosts[j] = nh
		}
		tls[i] = m
	}
	if len(tls) > 0 {
		_ = unstructured.SetNestedSlice(u.Object, tls, "spec", "tls")
	}
	return ""
}

// host is a production host's preview host: its first label, cut to fit,
// then the namespace, as one label under the preview domain (one label,
// so one wildcard DNS record and certificate cover every preview).
func host(h string, opts *Options) (string, string) {
	if h == "" {
		return "", "a rule without a host answers for every host; a preview needs one"
	}
	if strings.HasPrefix(h, "*") {
		return "", fmt.Sprintf("the wildcard host %q cannot be previewed", h)
	}
	first, _, _ := strings.Cut(h, ".")
	first = strings.Trim(dnsOnly(first), "-")
	if room := 63 - len(opts.Namespace) - 1; len(first) > room {
		first = strings.Trim(first[:max(room, 0)], "-")
	}
	if first == "" {
		return opts.Namespace + "." + opts.IngressDomain, ""
	}
	return first + "-" + opts.Namespace + "." + opts.IngressDomain, ""
}

// dnsRewriter returns a function rewriting the cluster DNS names of the
// source namespaces' Services ("svc.ns.svc", "svc.ns.svc.cluster.local")
// to the preview namespace's; nil when there is nothing to rewrite.
func dnsRewriter(sources []string, to string) func(string) string {
	if len(sources) == 0 {
		return nil
	}
	quoted := make([]string, len(sources))
	for i, s := range sources {
		quoted[i] = regexp.QuoteMeta(s)
	}
	re := regexp.MustCompile(`\.(?:` + strings.Join(quoted, "|") + `)\.svc\b`)
	return func(s string) string {
		if !strings.Contains(s, ".svc") {
			return s
		}
		return re.ReplaceAllString(s, "."+to+".svc")
	}
}

// rewriteStrings applies f to every string value of obj outside its
// metadata, apiVersion and kind.
func rewriteStrings(obj map[string]any, f func(string) string) {
	if f == nil {
		return
	}
	for k, v := range obj {
		if k == "metadata" || k == "apiVersion" || k == "kind" {
			continue
		}
		obj[k] = rewriteValue(v, f)
	}
}

func rewriteValue(v any, f func(string) string) any {
	switch t := v.(type) {
	case string:
		return f(t)
	case map[string]any:
		for k, x := range t {
			t[k] = rewriteValue(x, f)
		}
	case []any:
		for i, x := range t {
			t[i] = rewriteValue(x, f)
		}
	}
	return v
}

// refString is "Kind/namespace/name" of an object as rendered.
func refString(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// ServiceNames are the cluster DNS names of the Services among objs, with
// their first port: "web.<namespace>.svc.cluster.local:80". Headless and
// ExternalName Services are left out.
func ServiceNames(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, u := range objs {
		if u.GetAPIVersion() != "v1" || u.GetKind() != "Service" {
			continue
		}
		typ, _, _ := unstructured.NestedString(u.Object, "spec", "type")
		ip, _, _ := unstructured.NestedString(u.Object, "spec", "clusterIP")
		if typ == "ExternalName" || ip == "None" {
			continue
		}
		name := u.GetName() + "." + u.GetNamespace() + ".svc.cluster.local"
		ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
		if len(ports) > 0 {
			if m, ok := ports[0].(map[string]any); ok {
				if p, ok := m["port"].(int64); ok {
					name += ":" + strconv.FormatInt(p, 10)
				} else if p, ok := m["port"].(float64); ok {
					name += ":" + strconv.FormatInt(int64(p), 10)
				}
			}
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
