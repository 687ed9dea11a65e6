package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const deployRoot = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: root, namespace: web}
spec:
  selector: {matchLabels: {app: root}}
  template:
    metadata: {labels: {app: root}}
    spec:
      containers: [{name: app, image: "nginx:latest"}]
`

const deployGood = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: good, namespace: web}
spec:
  selector: {matchLabels: {app: good}}
  template:
    metadata: {labels: {app: good}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers: [{name: app, image: "nginx:1.27.0"}]
`

const deployNoApp = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: noapp, namespace: web}
spec:
  selector: {matchLabels: {tier: web}}
  template:
    metadata: {labels: {tier: web}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers: [{name: app, image: "nginx:1.27.0"}]
`

const deployLegacy = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy, namespace: web}
spec:
  selector: {matchLabels: {app: legacy}}
  template:
    spec:
      containers: [{name: app, image: "legacy:2"}]
`

// Policies in the spirit of conftest's documented Kubernetes example, in
// both Rego versions.
var conftestPolicies = map[string]string{
	// Rego v1.
	"kubernetes/security.rego": `package main

deny_run_as_root contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Containers must not run as root in Deployment %s", [input.metadata.name])
}

warn contains {"msg": msg, "image": c.image} if {
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses a latest tag", [c.name])
}

exception contains rules if {
	input.metadata.name == "legacy"
	rules := ["run_as_root"]
}
`,
	// Rego v0, detected.
	"kubernetes/labels.rego": `package main

deny[msg] {
	input.kind = "Deployment"
	not input.spec.selector.matchLabels.app
	msg = "Containers must provide app label for pod selectors"
}
`,
	// Rego v0 with future keywords: read as v0, so deny_x[msg] if is a set.
	"kubernetes/registry.rego": `package main

import future.keywords.if
import future.keywords.in

deny_registry[msg] if {
	some c in input.spec.template.spec.containers
	startswith(c.image, data.registries.blocked[_])
	msg := sprintf("image %s comes from a blocked registry", [c.image])
}
`,
	"registries/data.yaml": "blocked: [legacy]\n",
	// Another package: only with its namespace configured.
	"other/other.rego": `package other

deny contains "other package" if input.kind == "Deployment"
`,
	// A test file's rules are never evaluated as policy.
	"kubernetes/security_test.rego": `package main

deny contains "from a test file" if true

test_root if {
	deny_run_as_root with input as {"kind": "Deployment", "metadata": {"name": "x"}}
}
`,
}

func TestConftestConventions(t *testing.T) {
	objects := func(t *testing.T) Input {
		return Input{Objects: []Object{
			{Obj: obj(t, deployRoot), App: "web"},
			{Obj: obj(t, deployGood), App: "web"},
			{Obj: obj(t, deployNoApp), App: "web"},
			{Obj: obj(t, deployLegacy), App: "web"},
		}}
	}
	common := []brief{
		{"Deployment web/root", "deny_run_as_root", SeverityDeny, "Containers must not run as root in Deployment root"},
		{"Deployment web/root", "warn", SeverityWarn, "container app uses a latest tag"},
		{"Deployment web/noapp", "deny", SeverityDeny, "Containers must provide app label for pod selectors"},
		{"Deployment web/legacy", "deny_registry", SeverityDeny, "image legacy:2 comes from a blocked registry"},
	}
	tests := []struct {
		name       string
		namespaces []string
		want       []brief
	}{
		{name: "default namespace main", want: common},
		{name: "listed namespaces", namespaces: []string{"main", "other"}, want: []brief{
			common[0], common[1],
			{"Deployment web/root", "other.deny", SeverityDeny, "other package"},
			{"Deployment web/good", "other.deny", SeverityDeny, "other package"},
			common[2],
			{"Deployment web/noapp", "other.deny", SeverityDeny, "other package"},
			common[3],
			{"Deployment web/legacy", "other.deny", SeverityDeny, "other package"},
		}},
		{name: "only other", namespaces: []string{"other"}, want: []brief{
			{"Deployment web/root", "other.deny", SeverityDeny, "other package"},
			{"Deployment web/good", "other.deny", SeverityDeny, "other package"},
			{"Deployment web/noapp", "other.deny", SeverityDeny, "other package"},
			{"Deployment web/legacy", "other.deny", SeverityDeny, "other package"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := load(t, Source{Namespaces: tt.namespaces}, conftestPolicies)
			res, err := e.Evaluate(context.Background(), objects(t))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, briefs(res.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConftestFindingFields(t *testing.T) {
	e := load(t, Source{Name: "repo:policy"}, conftestPolicies)
	res, err := e.Evaluate(context.Background(), Input{Objects: []Object{
		{Obj: obj(t, deployRoot), App: "web-prod", Cluster: "prod", File: "apps/web/deploy.yaml", Line: 3},
		{Obj: obj(t, deployLegacy), App: "web-prod", Action: ActionUpdate},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{
		{
			App: "web-prod", APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "root",
			File: "apps/web/deploy.yaml", Line: 3, Set: "repo:policy", Policy: "policy/kubernetes/security.rego",
			Rule: "deny_run_as_root", Severity: SeverityDeny, Message: "Containers must not run as root in Deployment root",
		},
		{
			App: "web-prod", APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "root",
			File: "apps/web/deploy.yaml", Line: 3, Set: "repo:policy", Policy: "policy/kubernetes/security.rego",
			Rule: "warn", Severity: SeverityWarn, Message: "container app uses a latest tag",
			Metadata: map[string]any{"image": "nginx:latest"},
		},
		{
			App: "web-prod", APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "legacy",
			Set: "repo:policy", Policy: "policy/kubernetes/registry.rego",
			Rule: "deny_registry", Severity: SeverityDeny, Message: "image legacy:2 comes from a blocked registry",
			order: 1,
		},
	}
	if diff := cmp.Diff(want, res.Findings, cmp.AllowUnexported(Finding{})); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if res.Exceptions != 1 {
		t.Errorf("exceptions = %d, want 1 (legacy runs as root, excepted)", res.Exceptions)
	}
	if res.Denies() != 2 || res.Warnings() != 1 {
		t.Errorf("denies, warnings = %d, %d, want 2, 1", res.Denies(), res.Warnings())
	}
}

func TestRuleShapes(t *testing.T) {
	files := map[string]string{
		"shapes.rego": `package main

# Rego v1 reads these as objects mapping each message to true.
deny_obj[msg] if {
	msg := "object-shaped rule"
}

deny_objmeta[{"msg": "with metadata", "code": 7}] if true

# Complete values that are not collections produce nothing, as in conftest.
warn_string := "ignored"

violation_array := ["from an array"]
`,
	}
	e := load(t, Source{}, files)
	res, err := e.Evaluate(context.Background(), Input{Objects: []Object{{Obj: obj(t, deployGood)}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []brief{
		{"Deployment web/good", "deny_obj", SeverityDeny, "object-shaped rule"},
		{"Deployment web/good", "deny_objmeta", SeverityDeny, "with metadata"},
		{"Deployment web/good", "violation_array", SeverityDeny, "from an array"},
	}
	if diff := cmp.Diff(want, briefs(res.Findings)); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"code": 7.0}, res.Findings[1].Metadata); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
}

// A repository set is compiled apart: its exception cannot silence the
// server's rule of the same package.
func TestSetsAreIsolated(t *testing.T) {
	server := writeFiles(t, map[string]string{"s.rego": `package main

deny_latest contains "no latest tags" if endswith(input.spec.template.spec.containers[_].image, ":latest")
`})
	repo := writeFiles(t, map[string]string{"r.rego": `package main

exception contains ["latest"] if true
`})
	e, err := Load(context.Background(), []Source{
		{Name: "server", Dir: server, Trust: Trusted},
		{Name: "repo", Dir: repo, Trust: Repository},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Evaluate(context.Background(), Input{Objects: []Object{{Obj: obj(t, deployRoot)}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Denies() != 1 || res.Findings[0].Set != "server" {
		t.Errorf("findings = %+v, want the server's deny", res.Findings)
	}
}
