package policy

import (
	"fmt"
	"math/big"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// maxRangeElements bounds numbers.range and numbers.range_step. They build
// their whole array before the time bound can stop them, so a policy
// calling numbers.range(1, 1e10) would exhaust the bot's memory first.
const maxRangeElements = 100_000

// boundedBuiltin stands in for a builtin whose result size a policy
// controls.
type boundedBuiltin struct {
	name     string // the stand-in's name
	replaces *ast.Builtin
}

func boundedBuiltins() []boundedBuiltin {
	return []boundedBuiltin{
		{name: "gantry.bounded.numbers_range", replaces: ast.NumbersRange},
		{name: "gantry.bounded.numbers_range_step", replaces: ast.NumbersRangeStep},
	}
}

// boundBuiltins rewrites every call of a bounded builtin in the modules to
// its stand-in.
func boundBuiltins(modules map[string]*ast.Module) {
	subst := map[string]ast.Ref{}
	for _, b := range boundedBuiltins() {
		subst[b.replaces.Ref().String()] = ast.MustParseRef(b.name)
	}
	for _, m := range modules {
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if r, ok := t.Value.(ast.Ref); ok {
				if to, ok := subst[r.String()]; ok {
					t.Value = to.Copy()
				}
			}
			return false
		})
	}
}

// boundedDecls declares the stand-ins to a compiler.
func boundedDecls() map[string]*ast.Builtin {
	out := map[string]*ast.Builtin{}
	for _, b := range boundedBuiltins() {
		out[b.name] = &ast.Builtin{Name: b.name, Decl: b.replaces.Decl}
	}
	return out
}

// boundedFunctions implements the stand-ins for prepared queries.
func boundedFunctions() []func(*rego.Rego) {
	var out []func(*rego.Rego)
	for _, b := range boundedBuiltins() {
		out = append(out, rego.FunctionDyn(&rego.Function{Name: b.name, Decl: b.replaces.Decl}, boundedImpl(b)))
	}
	return out
}

func boundedImpl(b boundedBuiltin) rego.BuiltinDyn {
	real := topdown.GetBuiltin(b.replaces.Name)
	arity := b.replaces.Decl.Arity()
	return func(bctx rego.BuiltinContext, terms []*ast.Term) (*ast.Term, error) {
		// The caller may pass the output term too.
		terms = terms[:min(arity, len(terms))]
		if err := checkRange(b.replaces.Name, terms); err != nil {
			// A halt: an ordinary builtin error only makes the
			// expression undefined, and the policy would pass.
			return nil, rego.NewHaltError(err)
		}
		var out *ast.Term
		err := real(bctx, terms, func(t *ast.Term) error {
			out = t
			return nil
		})
		return out, err
	}
}

// checkRange refuses ranges of more than maxRangeElements elements.
func checkRange(name string, terms []*ast.Term) error {
	ints := make([]*big.Int, len(terms))
	for i, t := range terms {
		n, ok := t.Value.(ast.Number)
		if !ok {
			return nil // the real builtin reports the type error
		}
		f, ok := new(big.Float).SetString(string(n))
		if !ok {
			return nil
		}
		ints[i], _ = f.Int(nil)
	}
	if len(ints) < 2 {
		return nil
	}
	span := new(big.Int).Sub(ints[1], ints[0])
	span.Abs(span)
	if len(ints) == 3 && ints[2].Sign() > 0 {
		span.Quo(span, ints[2])
	}
	span.Add(span, big.NewInt(1))
	if span.Cmp(big.NewInt(maxRangeElements)) > 0 {
		return fmt.Errorf("%s: %s elements, more than the limit of %d", name, span, maxRangeElements)
	}
	return nil
}
