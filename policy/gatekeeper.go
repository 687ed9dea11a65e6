package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// gatekeeperTarget is the only target of ConstraintTemplates gantry runs.
const gatekeeperTarget = "admission.k8s.gatekeeper.sh"

// rawTemplate is a ConstraintTemplate as read from YAML.
type rawTemplate struct {
	file    string
	kind    string
	module  string // internal module name of the template's Rego
	place   regoPlace
	parsed  *ast.Module
	libs    []rawLib
	version RegoVersion
}

// rawLib is one of a template's libs.
type rawLib struct {
	module string
	place  regoPlace
	parsed *ast.Module
}

// rawConstraint is a constraint as read from YAML.
type rawConstraint struct {
	file   string
	kind   string
	name   string
	action string
	match  gkMatch
	params any
}

// gkMatch is a constraint's spec.match.
type gkMatch struct {
	Kinds []struct {
		APIGroups []string `json:"apiGroups"`
		Kinds     []string `json:"kinds"`
	} `json:"kinds"`
	Scope              string                `json:"scope"`
	Namespaces         []string              `json:"namespaces"`
	ExcludedNamespaces []string              `json:"excludedNamespaces"`
	LabelSelector      *metav1.LabelSelector `json:"labelSelector"`
	NamespaceSelector  *metav1.LabelSelector `json:"namespaceSelector"`
	Name               string                `json:"name"`
}

// template is a compiled ConstraintTemplate with its query prepared.
type template struct {
	file          string
	kind          string
	usesInventory bool
	pq            rego.PreparedEvalQuery
}

// constraint is a constraint bound to its template.
type constraint struct {
	raw       *rawConstraint
	tmpl      *template
	severity  Severity
	params    ast.Value
	labels    labels.Selector
	nsLabels  labels.Selector
	matchNone bool
}

func (c *constraint) label() string {
	return fmt.Sprintf("%s/%s (%s, %s)", c.raw.kind, c.raw.name, c.raw.file, c.tmpl.file)
}

// yamlChild returns the value of key in a mapping node.
func yamlChild(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func yamlPath(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		n = yamlChild(n, k)
	}
	return n
}

// placeOf says where a scalar's text starts in the YAML file, so errors in
// embedded Rego point at the YAML line.
func placeOf(file string, src []byte, n *yaml.Node) regoPlace {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		lines := bytes.Split(src, []byte("\n"))
		indent := 0
		if n.Line < len(lines) {
			l := lines[n.Line] // the first line of the block (0-based n.Line)
			indent = len(l) - len(bytes.TrimLeft(l, " "))
		}
		return regoPlace{file: file, lineOffset: n.Line, colOffset: indent}
	}
	return regoPlace{file: file, lineOffset: n.Line - 1, colOffset: n.Column - 1}
}

// parseTemplate reads a ConstraintTemplate and parses its Rego.
func parseTemplate(src Source, file string, bs []byte, doc *yaml.Node) (*rawTemplate, CompileErrors, error) {
	kindNode := yamlPath(doc, "spec", "crd", "spec", "names", "kind")
	if kindNode == nil || kindNode.Value == "" {
		return nil, nil, fmt.Errorf("parse ConstraintTemplate in %s: no spec.crd.spec.names.kind", file)
	}
	t := &rawTemplate{file: file, kind: kindNode.Value, version: src.RegoVersion}
	targets := yamlPath(doc, "spec", "targets")
	var regoNode *yaml.Node
	var libNodes []*yaml.Node
	if targets != nil {
		for _, tg := range targets.Content {
			if n := yamlChild(tg, "target"); n == nil || n.Value != gatekeeperTarget {
				continue
			}
			regoNode = yamlChild(tg, "rego")
			if libs := yamlChild(tg, "libs"); libs != nil {
				libNodes = libs.Content
			}
			if code := yamlChild(tg, "code"); code != nil {
				for _, c := range code.Content {
					if e := yamlChild(c, "engine"); e == nil || e.Value != "Rego" {
						continue
					}
					source := yamlChild(c, "source")
					if r := yamlChild(source, "rego"); r != nil {
						regoNode = r
						libNodes = nil
						if libs := yamlChild(source, "libs"); libs != nil {
							libNodes = libs.Content
						}
						if v := yamlChild(source, "version"); v != nil && v.Value != "" {
							t.version = RegoVersion(v.Value)
						}
					}
				}
			}
		}
	}
	if regoNode == nil {
		return nil, nil, fmt.Errorf("parse ConstraintTemplate %s in %s: no Rego for target %s", t.kind, file, gatekeeperTarget)
	}
	where := map[string]regoPlace{}
	var errs CompileErrors
	t.module = file + "#" + t.kind
	t.place = placeOf(file, bs, regoNode)
	where[t.module] = t.place
	parsed, err := parseRego(t.module, regoNode.Value, t.version)
	if err != nil {
		errs = append(errs, compileErrors(src.Name, err, where)...)
	}
	t.parsed = parsed
	for i, ln := range libNodes {
		l := rawLib{module: fmt.Sprintf("%s#%s/lib%d", file, t.kind, i), place: placeOf(file, bs, ln)}
		where[l.module] = l.place
		l.parsed, err = parseRego(l.module, ln.Value, t.version)
		if err != nil {
			errs = append(errs, compileErrors(src.Name, err, where)...)
		}
		t.libs = append(t.libs, l)
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	return t, nil, nil
}

// parseConstraint reads a constraint.
func parseConstraint(file string, m map[string]any) (*rawConstraint, error) {
	var doc struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Spec struct {
			Match             gkMatch `json:"match"`
			Parameters        any     `json:"parameters"`
			EnforcementAction string  `json:"enforcementAction"`
		} `json:"spec"`
	}
	bs, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("parse constraint in %s: %w", file, err)
	}
	if err := json.Unmarshal(bs, &doc); err != nil {
		return nil, fmt.Errorf("parse constraint in %s: %w", file, err)
	}
	return &rawConstraint{
		file:   file,
		kind:   doc.Kind,
		name:   doc.Metadata.Name,
		action: doc.Spec.EnforcementAction,
		match:  doc.Spec.Match,
		params: doc.Spec.Parameters,
	}, nil
}

// compileGatekeeper compiles each template apart (with its libs), prepares
// its violation query and binds the constraints to it.
func compileGatekeeper(ctx context.Context, src Source, f *files) (map[string]*template, []*constraint, error) {
	templates := map[string]*template{}
	var errs CompileErrors
	for _, rt := range f.templates {
		if _, dup := templates[rt.kind]; dup {
			return nil, nil, fmt.Errorf("load ConstraintTemplate %s in %s: kind defined twice", rt.kind, rt.file)
		}
		modules := map[string]*ast.Module{rt.module: rt.parsed}
		for _, l := range rt.libs {
			modules[l.module] = l.parsed
		}
		c, err := compileModules(src, modules, f.where)
		if err != nil {
			var ce CompileErrors
			if errors.As(err, &ce) {
				errs = append(errs, ce...)
				continue
			}
			return nil, nil, err
		}
		t := &template{file: rt.file, kind: rt.kind}
		inv := ast.MustParseRef("data.inventory")
		for _, m := range modules {
			ast.WalkRefs(m, func(r ast.Ref) bool {
				if r.HasPrefix(inv) {
					t.usesInventory = true
				}
				return t.usesInventory
			})
		}
		body := fmt.Sprintf("r := [v | v := %s]", rt.parsed.Package.Path.Append(ast.StringTerm("violation")))
		t.pq, err = rego.New(append(boundedFunctions(),
			rego.Query(body),
			rego.Compiler(c),
			rego.UnsafeBuiltins(UnsafeBuiltins(src.Trust)),
		)...).PrepareForEval(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("prepare ConstraintTemplate %s in %s: %w", rt.kind, rt.file, err)
		}
		templates[rt.kind] = t
	}
	if len(errs) > 0 {
		return nil, nil, fmt.Errorf("compile policy set %q: %w", src.Name, errs)
	}
	var out []*constraint
	for _, rc := range f.constraints {
		t, ok := templates[rc.kind]
		if !ok {
			return nil, nil, fmt.Errorf("load constraint %s/%s in %s: no ConstraintTemplate defines kind %s", rc.kind, rc.name, rc.file, rc.kind)
		}
		c, err := newConstraint(rc, t)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *constraint) int {
		return strings.Compare(a.raw.kind+"/"+a.raw.name, b.raw.kind+"/"+b.raw.name)
	})
	return templates, out, nil
}

func newConstraint(rc *rawConstraint, t *template) (*constraint, error) {
	c := &constraint{raw: rc, tmpl: t}
	switch strings.ToLower(rc.action) {
	case "", "deny":
		c.severity = SeverityDeny
	case "warn":
		c.severity = SeverityWarn
	case "dryrun":
		c.severity = SeverityDryRun
	default:
		return nil, fmt.Errorf("load constraint %s/%s in %s: unknown enforcementAction %q", rc.kind, rc.name, rc.file, rc.action)
	}
	params := rc.params
	if params == nil {
		params = map[string]any{}
	}
	v, err := ast.InterfaceToValue(params)
	if err != nil {
		return nil, fmt.Errorf("load constraint %s/%s in %s: %w", rc.kind, rc.name, rc.file, err)
	}
	c.params = v
	if rc.match.LabelSelector != nil {
		if c.labels, err = metav1.LabelSelectorAsSelector(rc.match.LabelSelector); err != nil {
			return nil, fmt.Errorf("load constraint %s/%s in %s: labelSelector: %w", rc.kind, rc.name, rc.file, err)
		}
	}
	if rc.match.NamespaceSelector != nil {
		if c.nsLabels, err = metav1.LabelSelectorAsSelector(rc.match.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("load constraint %s/%s in %s: namespaceSelector: %w", rc.kind, rc.name, rc.file, err)
		}
	}
	return c, nil
}

// eval runs the template's violation rule with Gatekeeper's input shape.
func (c *constraint) eval(ctx context.Context, o Object, p preparedObject, w *world, limits Options) ([]Finding, error) {
	gvk := o.Obj.GroupVersionKind()
	op := "CREATE"
	old := ast.Value(ast.Null{})
	if o.action() != ActionCreate {
		op = "UPDATE"
		old = p.live
		if _, isNull := old.(ast.Null); isNull {
			old = p.obj
		}
	}
	review := ast.NewObject(
		ast.Item(ast.StringTerm("kind"), ast.ObjectTerm(
			ast.Item(ast.StringTerm("group"), ast.StringTerm(gvk.Group)),
			ast.Item(ast.StringTerm("version"), ast.StringTerm(gvk.Version)),
			ast.Item(ast.StringTerm("kind"), ast.StringTerm(gvk.Kind)),
		)),
		ast.Item(ast.StringTerm("name"), ast.StringTerm(o.Obj.GetName())),
		ast.Item(ast.StringTerm("namespace"), ast.StringTerm(o.Obj.GetNamespace())),
		ast.Item(ast.StringTerm("operation"), ast.StringTerm(op)),
		ast.Item(ast.StringTerm("object"), ast.NewTerm(p.obj)),
		ast.Item(ast.StringTerm("oldObject"), ast.NewTerm(old)),
		ast.Item(ast.StringTerm("dryRun"), ast.BooleanTerm(false)),
	)
	input := ast.NewObject(
		ast.Item(ast.StringTerm("review"), ast.NewTerm(review)),
		ast.Item(ast.StringTerm("parameters"), ast.NewTerm(c.params)),
	)
	opts := []rego.EvalOption{rego.EvalParsedInput(input)}
	if c.tmpl.usesInventory {
		opts = append(opts, rego.EvalResolver(ast.MustParseRef("data.inventory"), valueResolver{w.inventory}))
	}
	rs, err := c.tmpl.pq.Eval(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, nil
	}
	msgs, err := ruleMessages(rs[0].Bindings["r"], true, limits)
	if err != nil {
		return nil, fmt.Errorf("rule violation: %w", err)
	}
	out := make([]Finding, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, Finding{
			Policy:   c.tmpl.file,
			Rule:     c.raw.kind + "/" + c.raw.name,
			Severity: c.severity,
			Message:  m.text,
			Metadata: m.metadata,
		})
	}
	return out, nil
}
