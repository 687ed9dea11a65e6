package policy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Unevaluated is a policy file whose package has conftest rules (deny,
// violation, warn, exception) that no evaluation reads, because the
// package is not among its set's namespaces: left alone, such a policy
// passes every pull request without a word. Load finds them; the CLI
// prints them and the bot can show them as notes.
type Unevaluated struct {
	// Set is the policy set's name.
	Set string `json:"set"`
	// File and Line are the file and its package line.
	File string `json:"file"`
	Line int    `json:"line"`
	// Package is the package, without "data.".
	Package string `json:"package"`
	// Rules are the conftest rule names the file defines.
	Rules []string `json:"rules"`
	// Namespaces are the packages its set evaluates (besides gantry and
	// gantry.*, which always are).
	Namespaces []string `json:"namespaces"`
	// Trust is the set's: the fix differs for a repository's set.
	Trust Trust `json:"-"`
}

// String says what is wrong and how to fix it, on one line, located.
func (u Unevaluated) String() string {
	fix := "add it to the set's namespaces"
	if u.Trust == Repository {
		fix = "list it in policies.namespaces in .gantry.yaml"
	}
	return fmt.Sprintf("%s:%d: package %s is never evaluated, so its rules (%s) never fire: "+
		"only the packages %s and gantry.* are; %s, or rename the package",
		u.File, u.Line, u.Package, strings.Join(u.Rules, ", "), strings.Join(u.Namespaces, ", "), fix)
}

// conftestRule matches the rule names Evaluate reads in a package.
var conftestRule = regexp.MustCompile(`^((deny|violation|warn)(_[a-zA-Z0-9]+)*|exception)$`)

// unevaluated returns the files of a set whose package has conftest rules
// and is neither evaluated nor read by an evaluated package (a main that
// gathers data.k8s.images.deny evaluates it through main).
func unevaluated(src Source, modules map[string]*ast.Module) []Unevaluated {
	wanted := src.namespaces()
	if slices.Contains(wanted, "*") {
		return nil
	}
	evaluated := func(pkg string) bool { return nativePackage(pkg) || slices.Contains(wanted, pkg) }
	var read []string // refs from evaluated packages into data
	for _, m := range modules {
		if !evaluated(packageName(m)) {
			continue
		}
		ast.WalkRefs(m, func(r ast.Ref) bool {
			if r.HasPrefix(ast.DefaultRootRef) {
				read = append(read, strings.TrimPrefix(r.String(), "data."))
			}
			return false
		})
	}
	var out []Unevaluated
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		m := modules[name]
		pkg := packageName(m)
		if evaluated(pkg) || readFrom(read, pkg) {
			continue
		}
		rules := map[string]bool{}
		for _, r := range m.Rules {
			if ref := r.Head.Ref(); len(ref) > 0 {
				if v, ok := ref[0].Value.(ast.Var); ok && conftestRule.MatchString(string(v)) {
					rules[string(v)] = true
				}
			}
		}
		if len(rules) == 0 {
			continue
		}
		line := 0
		if m.Package.Location != nil {
			line = m.Package.Location.Row
		}
		out = append(out, Unevaluated{
			Set: src.Name, File: name, Line: line, Package: pkg,
			Rules: slices.Sorted(maps.Keys(rules)), Namespaces: wanted, Trust: src.Trust,
		})
	}
	return out
}

// packageName is a module's package without "data.".
func packageName(m *ast.Module) string {
	return strings.TrimPrefix(m.Package.Path.String(), "data.")
}

// readFrom reports whether any ref reads pkg or something inside it (or
// a whole document above it, such as data itself).
func readFrom(refs []string, pkg string) bool {
	for _, r := range refs {
		if r == "data" || r == pkg || strings.HasPrefix(r, pkg+".") || strings.HasPrefix(r, pkg+"[") ||
			strings.HasPrefix(pkg, r+".") {
			return true
		}
	}
	return false
}
