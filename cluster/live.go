package cluster

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/nondet"
)

// planned is one rendered object made ready for a dry-run or an apply:
// labelled, namespaced, with its live state and ignore rules applied.
type planned struct {
	ref     ObjectRef
	desired *unstructured.Unstructured
	mapping *meta.RESTMapping
	live    *unstructured.Unstructured
	// pending says why the object cannot be sent to the API server before
	// apply creates what it depends on (its CRD or its namespace).
	pending string
	// conflict names the other owner of the live object (see
	// foreignOwner); the object is then neither dry-run, applied nor
	// shown, and live is nil so nothing of its content is used.
	conflict string
	err      error
	// previous is the object in the render at the app's last applied
	// commit, when the caller gave it (see attachPrevious).
	previous *unstructured.Unstructured
	// unstablePaths are the fields render found not deterministic (see
	// takeUnstable); unstable says what keepUnstable did with each.
	unstablePaths [][]string
	unstable      []nondet.Field
}

// plan prepares the rendered objects of repo's app, marked with their
// owner, and reads their live state with one LIST per kind and namespace.
// Errors of single objects are kept on them; the error returned is for the
// whole app.
func (c *Client) plan(ctx context.Context, repo string, app config.App, objs []*unstructured.Unstructured) ([]*planned, error) {
	ns := app.Namespace
	if ns == "" {
		ns = "default"
	}
	crds := map[schema.GroupKind]*unstructured.Unstructured{}
	namespaces := map[string]bool{}
	for _, o := range objs {
		r := RefOf(o)
		if isCRD(r) {
			g, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			k, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			crds[schema.GroupKind{Group: g, Kind: k}] = o
		}
		if isNamespace(r) {
			namespaces[r.Name] = true
		}
	}
	mappings := map[schema.GroupVersionKind]*meta.RESTMapping{}
	mappingErrs := map[schema.GroupVersionKind]error{}
	seen := map[string]bool{}
	ps := make([]*planned, 0, len(objs))
	for _, o := range objs {
		d := o.DeepCopy()
		markOwner(d, repo, app.Name)
		p := &planned{desired: d, unstablePaths: takeUnstable(d)}
		ps = append(ps, p)
		gvk := d.GroupVersionKind()
		m, ok := mappings[gvk]
		if !ok && mappingErrs[gvk] == nil {
			var err error
			if m, err = c.mapping(gvk); err != nil {
				mappingErrs[gvk] = err
			} else {
				mappings[gvk] = m
			}
		}
		p.mapping = m
		namespaced := m != nil && m.Scope.Name() == meta.RESTScopeNameNamespace
		if m == nil {
			crd := crds[gvk.GroupKind()]
			if crd == nil {
				if d.GetNamespace() == "" {
					d.SetNamespace(ns) // most kinds are namespaced; only for the error's name
				}
				p.ref = RefOf(d)
				p.err = &ObjectError{Ref: p.ref, Op: "resolve kind", Err: mappingErrs[gvk]}
				continue
			}
			scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
			namespaced = scope == "Namespaced"
			p.pending = fmt.Sprintf("its CustomResourceDefinition %s is applied first", crd.GetName())
		}
		if namespaced && d.GetNamespace() == "" {
			d.SetNamespace(ns)
		}
		if !namespaced {
			d.SetNamespace("")
		}
		p.ref = RefOf(d)
		if seen[p.ref.Key()] {
			p.err = &ObjectError{Ref: p.ref, Op: "render", Err: fmt.Errorf("rendered twice")}
			continue
		}
		seen[p.ref.Key()] = true
	}
	if err := c.readLive(ctx, ps); err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.err == nil {
			claim(p, repo, app.Name)
		}
	}
	for _, p := range ps {
		if p.err != nil || p.conflict != "" {
			continue
		}
		if p.pending == "" && p.ref.Namespace != "" && namespaces[p.ref.Namespace] && !c.namespaceLive(ps, p.ref.Namespace) {
			p.pending = fmt.Sprintf("its Namespace %s is created first", p.ref.Namespace)
		}
		p.unstable = keepUnstable(p.desired, p.live, p.unstablePaths)
		if err := applyIgnoreRules(app.Ignore, p.desired, p.live); err != nil {
			p.err = &ObjectError{Ref: p.ref, Op: "ignore rules", Err: err}
		}
		stamp(p.desired)
	}
	return ps, nil
}

// claim checks that the live object of p is the app's own or no one's; for
// an object another app or repository owns it records the conflict, drops
// the live object and reports true.
func claim(p *planned, repo, app string) bool {
	if owner := foreignOwner(p.live, repo, app); owner != "" {
		p.conflict, p.live = owner, nil
		return true
	}
	return false
}

// namespaceLive reports whether the planned Namespace ns exists.
func (c *Client) namespaceLive(ps []*planned, ns string) bool {
	for _, p := range ps {
		if isNamespace(p.ref) && p.ref.Name == ns {
			return p.live != nil || p.conflict != ""
		}
	}
	return true
}

// readLive fills in the live state of the planned objects: one LIST per
// resource and namespace, paged, in parallel. For a custom resource whose
// CRD changes version, the object is read at the version served now.
func (c *Client) readLive(ctx context.Context, ps []*planned) error {
	type bucket struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	buckets := map[bucket]*meta.RESTMapping{}
	for _, p := range ps {
		if p.err == nil && p.mapping != nil {
			buckets[bucket{p.mapping.Resource, p.ref.Namespace}] = p.mapping
		}
	}
	var mu sync.Mutex
	live := map[string]*unstructured.Unstructured{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for b, m := range buckets {
		g.Go(func() error {
			items, err := c.list(gctx, m, b.ns)
			if err != nil {
				return fmt.Errorf("list %s in %q: %w", b.gvr.Resource, b.ns, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, u := range items {
				live[RefOf(u).Key()] = u
			}
			return nil
		})
	}
	for _, p := range ps {
		if p.err != nil || p.mapping != nil {
			continue
		}
		// A custom resource of a CRD in the same app: read it at a version
		// the cluster serves now, if the CRD is installed at all.
		m, err := c.mapper.RESTMapping(p.ref.GroupVersionKind().GroupKind())
		if err != nil {
			continue
		}
		g.Go(func() error {
			u, err := c.resource(m, p.ref.Namespace).Get(gctx, p.ref.Name, metav1.GetOptions{})
			if err == nil {
				mu.Lock()
				live[p.ref.Key()] = u
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, p := range ps {
		p.live = live[p.ref.Key()]
	}
	return nil
}

// list reads every object of one resource in one namespace.
func (c *Client) list(ctx context.Context, m *meta.RESTMapping, ns string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	opts := metav1.ListOptions{Limit: 500}
	for {
		l, err := c.resource(m, ns).List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			u := &l.Items[i]
			if u.GetAPIVersion() == "" {
				u.SetGroupVersionKind(m.GroupVersionKind)
			}
			out = append(out, u)
		}
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
