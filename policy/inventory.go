package policy

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/resolver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// valueResolver answers data.inventory with a value built once per
// evaluation.
type valueResolver struct{ v ast.Value }

// Eval returns the inventory.
func (r valueResolver) Eval(context.Context, resolver.Input) (resolver.Result, error) {
	return resolver.Result{Value: r.v}, nil
}

// buildWorld collects the namespaces and, when a template reads it, the
// inventory: live objects first, then the rendered state over them, minus
// what is being deleted.
func buildWorld(in Input, withInventory bool) (*world, error) {
	w := &world{namespaces: map[string]map[string]string{}}
	type key struct{ ns, gv, kind, name string }
	inv := map[key]ast.Value{}
	add := func(u interface {
		GetNamespace() string
		GetName() string
		GetAPIVersion() string
		GetKind() string
		GetLabels() map[string]string
	}, v ast.Value) {
		if u.GetKind() == "Namespace" && !strings.Contains(u.GetAPIVersion(), "/") {
			w.namespaces[u.GetName()] = u.GetLabels()
		}
		if v != nil {
			inv[key{u.GetNamespace(), u.GetAPIVersion(), u.GetKind(), u.GetName()}] = v
		}
	}
	for _, u := range in.Inventory {
		var v ast.Value
		if withInventory {
			var err error
			if v, err = toValue(u); err != nil {
				return nil, err
			}
		}
		add(u, v)
	}
	// The inventory is shared by every goroutine: convert strictly, not
	// lazily like the objects under evaluation.
	strict := func(u *unstructured.Unstructured) (ast.Value, error) {
		if !withInventory {
			return nil, nil
		}
		return toValue(u)
	}
	for _, o := range in.Objects {
		if o.Live != nil {
			v, err := strict(o.Live)
			if err != nil {
				return nil, err
			}
			add(o.Live, v)
		}
	}
	for _, o := range in.Objects {
		if o.action() == ActionDelete {
			u := o.Obj
			delete(inv, key{u.GetNamespace(), u.GetAPIVersion(), u.GetKind(), u.GetName()})
			if u.GetKind() == "Namespace" {
				delete(w.namespaces, u.GetName())
			}
			continue
		}
		v, err := strict(o.Obj)
		if err != nil {
			return nil, err
		}
		add(o.Obj, v)
	}
	if !withInventory {
		return w, nil
	}
	// data.inventory.namespace[ns][groupversion][kind][name] and
	// data.inventory.cluster[groupversion][kind][name].
	tree := map[string]any{}
	for k, v := range inv {
		path := []string{"cluster", k.gv, k.kind, k.name}
		if k.ns != "" {
			path = []string{"namespace", k.ns, k.gv, k.kind, k.name}
		}
		node := tree
		for _, p := range path[:len(path)-1] {
			next, ok := node[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[p] = next
			}
			node = next
		}
		node[path[len(path)-1]] = v
	}
	w.inventory = treeValue(tree)
	return w, nil
}

// treeValue turns nested maps with ast.Value leaves into a Rego object.
func treeValue(tree map[string]any) ast.Value {
	obj := ast.NewObject()
	for _, k := range slices.Sorted(maps.Keys(tree)) {
		switch v := tree[k].(type) {
		case map[string]any:
			obj.Insert(ast.StringTerm(k), ast.NewTerm(treeValue(v)))
		case ast.Value:
			obj.Insert(ast.StringTerm(k), ast.NewTerm(v))
		}
	}
	return obj
}
