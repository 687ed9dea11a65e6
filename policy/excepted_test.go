package policy

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// Rules named excepted or excepted_* report what an exception let
// through: shown with their own severity, never failing the check.
func TestExceptedRulesAreShownNotDenied(t *testing.T) {
	e := load(t, Source{}, map[string]string{"p.rego": `package main

deny contains "latest tag" if input.metadata.name == "bad"

excepted_images contains "latest tag (excepted: vendor image)" if input.metadata.name == "waived"
`})
	r, err := e.Evaluate(context.Background(), Input{Objects: []Object{
		{Obj: obj(t, "{apiVersion: v1, kind: Pod, metadata: {name: bad}}")},
		{Obj: obj(t, "{apiVersion: v1, kind: Pod, metadata: {name: waived}}")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{Object: "Pod bad", Rule: "deny", Severity: SeverityDeny, Message: "latest tag"},
		{Object: "Pod waived", Rule: "excepted_images", Severity: SeverityExcepted, Message: "latest tag (excepted: vendor image)"},
	}
	if diff := cmp.Diff(want, briefs(r.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if r.Denies() != 1 || r.Warnings() != 0 || r.Excepted() != 1 {
		t.Errorf("%d denies, %d warnings, %d excepted; want 1, 0, 1", r.Denies(), r.Warnings(), r.Excepted())
	}
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "1 deny, 0 warnings, 0 errors, 1 excepted\n") {
		t.Errorf("summary line of:\n%s", b.String())
	}
}

// A conftest package that reads data.inventory sees the rendered objects
// of the whole input and the live ones, as Gatekeeper templates do.
func TestPackagesReadTheInventory(t *testing.T) {
	e := load(t, Source{}, map[string]string{"p.rego": `package main

deny contains msg if {
	input.kind == "Deployment"
	not data.inventory.namespace[input.metadata.namespace]["policy/v1"].PodDisruptionBudget[input.metadata.name]
	msg := "no budget"
}
`})
	deploy := func(name string) Object {
		return Object{Obj: obj(t, "{apiVersion: apps/v1, kind: Deployment, metadata: {name: "+name+", namespace: web}}")}
	}
	pdb := func(name string) string {
		return "{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: " + name + ", namespace: web}}"
	}
	in := Input{Objects: []Object{deploy("rendered"), deploy("live"), deploy("none"), {Obj: obj(t, pdb("rendered"))}}}
	in.Inventory = append(in.Inventory, obj(t, pdb("live")))
	r, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{{Object: "Deployment web/none", Rule: "deny", Severity: SeverityDeny, Message: "no budget"}}
	if diff := cmp.Diff(want, briefs(r.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

// A set shipped in the binary is read from its file system, with the data
// its program gives merged beside its own data files.
func TestShippedSourceWithGivenData(t *testing.T) {
	fsys := fstest.MapFS{
		"rules/p.rego":      {Data: []byte("package main\n\ndeny contains sprintf(\"%s %s\", [data.rules.word, data.settings.level]) if true\n")},
		"rules/x.yaml":      {Data: []byte("word: hello\n")},
		"rules/p_test.rego": {Data: []byte("package main\n\ntest_x if true\n")},
	}
	src := Source{Name: "shipped", FS: fsys, Prefix: "shipped", Data: map[string]any{"settings": map[string]any{"level": "high"}}}
	e, err := Load(context.Background(), []Source{src})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Evaluate(context.Background(), Input{Objects: []Object{{Obj: obj(t, "{apiVersion: v1, kind: Pod, metadata: {name: p}}")}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].Message != "hello high" || r.Findings[0].Policy != "shipped/rules/p.rego" {
		t.Errorf("findings %+v, want one \"hello high\" from shipped/rules/p.rego", r.Findings)
	}
	rs, err := RunTests(context.Background(), []Source{src}, TestOptions{})
	if err != nil || len(rs) != 1 || rs[0].Outcome != TestPass {
		t.Errorf("tests %+v, %v; want test_x passed", rs, err)
	}
	src.Data = map[string]any{"rules": map[string]any{"word": "clash"}}
	if _, err := Load(context.Background(), []Source{src}); err == nil || !strings.Contains(err.Error(), `conflict at key "word"`) {
		t.Errorf("data clashing with a data file: got %v", err)
	}
}
