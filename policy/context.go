package policy

import (
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/change"
)

// Action is what applying the change will do to an object.
type Action = change.Action

// The planned actions.
const (
	ActionCreate    = change.Create
	ActionUpdate    = change.Update
	ActionDelete    = change.Delete
	ActionUnchanged = change.Unchanged
	// ActionConflict is an object another app or repository owns: its
	// live object is not given.
	ActionConflict = change.Conflict
)

// Object is one object to judge, with what gantry knows about it.
type Object struct {
	// Obj is the desired object; for ActionDelete, the object being deleted
	// (as last applied).
	Obj *unstructured.Unstructured
	// App and Cluster are the app the object belongs to and its cluster.
	App, Cluster string
	// Action is the planned action; empty means ActionCreate.
	Action Action
	// Live is the object in the cluster, nil when it does not exist or is
	// not known.
	Live *unstructured.Unstructured
	// File and Line are the object's source (the render source map).
	File string
	Line int
	// Decrypted marks a Secret decrypted from SOPS-encrypted files at
	// render (render.Source.Decrypted): every policy set sees its values
	// masked, and it carries a top-level sops key (DecryptedMarker), as
	// the encrypted file in Git does.
	Decrypted bool
}

// PR is the pull request being judged.
type PR struct {
	Number       int
	Author       string
	Labels       []string
	BaseBranch   string
	ChangedFiles []string
}

// Input is what one evaluation judges.
type Input struct {
	// Objects are the rendered objects (and the deletions) of one or more
	// apps.
	Objects []Object
	// PR is the pull request; nil outside one (a push, the CLI).
	PR *PR
	// Inventory are further live objects known from the cluster, for
	// Gatekeeper's data.inventory. Objects' own Live objects are always
	// included.
	Inventory []*unstructured.Unstructured
}

func (o Object) action() Action {
	if o.Action == "" {
		return ActionCreate
	}
	return o.Action
}

// describe returns "Kind namespace/name" or "Kind name".
func describe(u *unstructured.Unstructured) string {
	if u == nil {
		return "<nil object>"
	}
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", u.GetKind(), ns, u.GetName())
	}
	return fmt.Sprintf("%s %s", u.GetKind(), u.GetName())
}

// lazyValue wraps an object's content as a Rego value converted only where
// a policy reads it. Not safe for concurrent use: each object is evaluated
// by one goroutine.
func lazyValue(u *unstructured.Unstructured) ast.Value {
	if u == nil {
		return ast.Null{}
	}
	return ast.LazyObject(u.Object)
}

// toValue converts an object's content into a Rego value.
func toValue(u *unstructured.Unstructured) (ast.Value, error) {
	if u == nil {
		return ast.Null{}, nil
	}
	v, err := ast.InterfaceToValue(u.Object)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", describe(u), err)
	}
	return v, nil
}

// prValue is the pr field of gantry's input document.
func prValue(pr *PR) ast.Value {
	if pr == nil {
		return ast.Null{}
	}
	strs := func(ss []string) *ast.Term {
		ts := make([]*ast.Term, 0, len(ss))
		for _, s := range slices.Sorted(slices.Values(ss)) {
			ts = append(ts, ast.StringTerm(s))
		}
		return ast.ArrayTerm(ts...)
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("number"), ast.IntNumberTerm(pr.Number)),
		ast.Item(ast.StringTerm("author"), ast.StringTerm(pr.Author)),
		ast.Item(ast.StringTerm("labels"), strs(pr.Labels)),
		ast.Item(ast.StringTerm("baseBranch"), ast.StringTerm(pr.BaseBranch)),
		ast.Item(ast.StringTerm("changedFiles"), strs(pr.ChangedFiles)),
	)
}

// gantryInput is the input document of packages under gantry: see doc.go.
func gantryInput(o Object, obj, live, pr ast.Value) ast.Value {
	ns := ""
	if o.Obj != nil {
		ns = o.Obj.GetNamespace()
	}
	return ast.NewObject(
		ast.Item(ast.StringTerm("object"), ast.NewTerm(obj)),
		ast.Item(ast.StringTerm("live"), ast.NewTerm(live)),
		ast.Item(ast.StringTerm("action"), ast.StringTerm(string(o.action()))),
		ast.Item(ast.StringTerm("app"), ast.StringTerm(o.App)),
		ast.Item(ast.StringTerm("cluster"), ast.StringTerm(o.Cluster)),
		ast.Item(ast.StringTerm("namespace"), ast.StringTerm(ns)),
		ast.Item(ast.StringTerm("pr"), ast.NewTerm(pr)),
	)
}
