package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
)

// conftest's rule names: deny, violation and warn, with _suffix variants;
// and gantry's excepted, for a rule's results that an exception with a
// reason lets through, so they are shown rather than dropped.
const (
	failurePattern  = `^(deny|violation)(_[a-zA-Z0-9]+)*$`
	warningPattern  = `^warn(_[a-zA-Z0-9]+)*$`
	exceptedPattern = `^excepted(_[a-zA-Z0-9]+)*$`
)

// nativePackage reports whether a package gets gantry's input document.
func nativePackage(pkg string) bool {
	return pkg == "gantry" || strings.HasPrefix(pkg, "gantry.")
}

// rule is one deny/violation/warn rule of a package.
type rule struct {
	name     string
	severity Severity
	// policy is the file (or files) defining the rule.
	policy string
	// except is the name exception rules use for it: the rule name
	// without its deny_/violation_/warn_ prefix, as conftest does.
	except string
	// wrapped is true when the query wraps the rule's value in an array
	// (a rule that may be undefined).
	wrapped bool
}

// pkgQuery evaluates every rule of one package in a single prepared query.
type pkgQuery struct {
	pkg       string
	native    bool
	rules     []rule
	exception bool
	// usesInventory is set when a module of the package reads
	// data.inventory, which is then resolved as for Gatekeeper templates.
	usesInventory bool
	pq            rego.PreparedEvalQuery
}

// label names the package in findings and errors.
func (q *pkgQuery) label() string {
	files := map[string]bool{}
	for _, r := range q.rules {
		for f := range strings.SplitSeq(r.policy, ", ") {
			files[f] = true
		}
	}
	return fmt.Sprintf("%s (%s)", q.pkg, strings.Join(slices.Sorted(maps.Keys(files)), ", "))
}

// packageQueries finds the packages to evaluate and prepares one query for
// each. A package counts when it is native (gantry, gantry.*) or listed in
// the source's namespaces ("*" for all), and has at least one rule named
// like conftest's.
func packageQueries(ctx context.Context, src Source, c *ast.Compiler, store storage.Store) ([]*pkgQuery, error) {
	failure := regexp.MustCompile(failurePattern)
	warning := regexp.MustCompile(warningPattern)
	excepted := regexp.MustCompile(exceptedPattern)
	wanted := src.namespaces()
	all := slices.Contains(wanted, "*")

	type pkgInfo struct {
		rules     map[string]map[string]bool // rule name -> files
		single    map[string]bool            // rule names with a non multi-value definition
		exception bool
		inventory bool
	}
	pkgs := map[string]*pkgInfo{}
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		m := c.Modules[name]
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		if !nativePackage(pkg) && !all && !slices.Contains(wanted, pkg) {
			continue
		}
		info := pkgs[pkg]
		if info == nil {
			info = &pkgInfo{rules: map[string]map[string]bool{}, single: map[string]bool{}}
			pkgs[pkg] = info
		}
		info.inventory = info.inventory || readsInventory(m)
		for _, r := range m.Rules {
			ref := r.Head.Ref()
			if len(ref) == 0 {
				continue
			}
			v, ok := ref[0].Value.(ast.Var)
			if !ok {
				continue
			}
			n := string(v)
			if n == "exception" {
				info.exception = true
				continue
			}
			if !failure.MatchString(n) && !warning.MatchString(n) && !excepted.MatchString(n) {
				continue
			}
			if info.rules[n] == nil {
				info.rules[n] = map[string]bool{}
			}
			info.rules[n][name] = true
			if len(ref) != 1 || r.Head.RuleKind() != ast.MultiValue {
				info.single[n] = true
			}
		}
	}

	var out []*pkgQuery
	for _, pkg := range slices.Sorted(maps.Keys(pkgs)) {
		info := pkgs[pkg]
		if len(info.rules) == 0 {
			continue
		}
		q := &pkgQuery{pkg: pkg, native: nativePackage(pkg), exception: info.exception, usesInventory: info.inventory}
		pkgRef := ast.MustParseRef("data." + pkg)
		// One expression, one binding: x := [rule values…, exceptions].
		var elems []string
		for _, n := range slices.Sorted(maps.Keys(info.rules)) {
			sev := SeverityWarn
			switch {
			case failure.MatchString(n):
				sev = SeverityDeny
			case excepted.MatchString(n):
				sev = SeverityExcepted
			}
			r := rule{
				name:     n,
				severity: sev,
				policy:   strings.Join(slices.Sorted(maps.Keys(info.rules[n])), ", "),
				except:   exceptName(n),
				wrapped:  info.single[n],
			}
			q.rules = append(q.rules, r)
			ref := pkgRef.Append(ast.StringTerm(n)).String()
			if r.wrapped {
				// A complete or object rule may be undefined: wrap it so
				// the query stays defined.
				ref = fmt.Sprintf("[v | v := %s]", ref)
			}
			elems = append(elems, ref)
		}
		if q.exception {
			elems = append(elems, fmt.Sprintf("{n | n := %s[_][_]}", pkgRef.Append(ast.StringTerm("exception"))))
		}
		body := "x := [" + strings.Join(elems, ", ") + "]"
		parsed, err := ast.ParseBodyWithOpts(body, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("build query for package %s: %w", pkg, err)
		}
		q.pq, err = rego.New(append(boundedFunctions(),
			rego.ParsedQuery(parsed),
			rego.Compiler(c),
			rego.Store(store),
			rego.UnsafeBuiltins(UnsafeBuiltins(src.Trust)),
		)...).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare query for package %s: %w", pkg, err)
		}
		out = append(out, q)
	}
	return out, nil
}

// readsInventory reports whether a module refers to data.inventory.
func readsInventory(m *ast.Module) bool {
	inv := ast.MustParseRef("data.inventory")
	found := false
	ast.WalkRefs(m, func(r ast.Ref) bool {
		found = found || r.HasPrefix(inv)
		return found
	})
	return found
}

// exceptName strips the severity prefix, as conftest's exceptions expect.
func exceptName(rule string) string {
	for _, p := range []string{"violation_", "deny_", "warn_"} {
		rule = strings.TrimPrefix(rule, p)
	}
	return rule
}

// message is one result of a rule.
type message struct {
	text     string
	metadata map[string]any
}

// ruleMessages reads a rule's value the way conftest does: a set or an array
// of strings or of objects with a msg; any other value produces nothing.
func ruleMessages(value any, wrapped bool, limits Options) ([]message, error) {
	if wrapped {
		w, _ := value.([]any)
		if len(w) == 0 {
			return nil, nil
		}
		value = w[0]
	}
	var items []any
	switch v := value.(type) {
	case []any:
		items = v
	case map[string]any:
		items = trueKeys(v)
	}
	if len(items) > limits.MaxResults {
		return nil, &limitError{n: len(items), max: limits.MaxResults}
	}
	out := make([]message, 0, len(items))
	for _, it := range items {
		switch v := it.(type) {
		case string:
			out = append(out, message{text: truncate(v, limits.MaxMessageBytes)})
		case map[string]any:
			msg, ok := v["msg"].(string)
			if !ok {
				return nil, fmt.Errorf("result %v has no string msg", v)
			}
			var md map[string]any
			for k, val := range v {
				if k == "msg" {
					continue
				}
				if md == nil {
					md = map[string]any{}
				}
				md[k] = val
			}
			out = append(out, message{text: truncate(msg, limits.MaxMessageBytes), metadata: md})
		}
	}
	return out, nil
}

// trueKeys reads `deny[msg] if { … }`, which Rego v1 (and v0 with the if
// keyword) makes an object mapping each message to true, as the set of
// messages its author meant. Object keys arrive as JSON text.
func trueKeys(m map[string]any) []any {
	out := make([]any, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k] != true {
			return nil
		}
		var obj map[string]any
		if strings.HasPrefix(k, "{") && json.Unmarshal([]byte(k), &obj) == nil {
			out = append(out, obj)
			continue
		}
		out = append(out, k)
	}
	return out
}

// limitError is a rule that returned more than MaxResults messages.
type limitError struct{ n, max int }

// Error says how many results came back.
func (e *limitError) Error() string {
	return fmt.Sprintf("%d results, more than the limit of %d", e.n, e.max)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// evalPackage evaluates one package for one object and appends findings.
func (q *pkgQuery) evalPackage(ctx context.Context, input ast.Value, w *world, limits Options) ([]Finding, int, error) {
	opts := []rego.EvalOption{rego.EvalParsedInput(input)}
	if q.usesInventory && w != nil {
		opts = append(opts, rego.EvalResolver(ast.MustParseRef("data.inventory"), valueResolver{w.inventory}))
	}
	rs, err := q.pq.Eval(ctx, opts...)
	if err != nil {
		return nil, 0, err
	}
	if len(rs) == 0 {
		return nil, 0, nil
	}
	values, _ := rs[0].Bindings["x"].([]any)
	if len(values) != len(q.rules)+btoi(q.exception) {
		return nil, 0, fmt.Errorf("query returned %d values for %d rules", len(values), len(q.rules))
	}
	excepted := map[string]bool{}
	if q.exception {
		names, _ := values[len(values)-1].([]any)
		for _, n := range names {
			if s, ok := n.(string); ok {
				excepted[s] = true
			}
		}
	}
	var out []Finding
	exceptions := 0
	for i, r := range q.rules {
		msgs, err := ruleMessages(values[i], r.wrapped, limits)
		if err != nil {
			return nil, 0, fmt.Errorf("rule %s: %w", r.name, err)
		}
		if excepted[r.except] {
			exceptions += len(msgs)
			continue
		}
		ruleName := r.name
		if q.pkg != "main" {
			ruleName = q.pkg + "." + r.name
		}
		for _, m := range msgs {
			out = append(out, Finding{
				Policy:   r.policy,
				Rule:     ruleName,
				Severity: r.severity,
				Message:  m.text,
				Metadata: m.metadata,
			})
		}
	}
	return out, exceptions, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
