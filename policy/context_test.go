package policy

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The two policies of the package documentation.
var contextPolicies = map[string]string{
	"prod.rego": `package gantry.prod

deny contains msg if {
	input.action == "delete"
	input.object.kind == "Namespace"
	input.cluster == "prod"
	msg := sprintf("deleting Namespace %s in prod is not allowed", [input.object.metadata.name])
}

deny contains msg if {
	input.action == "update"
	input.object.kind == "Deployment"
	input.object.spec.replicas < input.live.spec.replicas
	not labelled("scale-down")
	msg := sprintf("lowering replicas of %s from %d to %d needs the scale-down label",
		[input.object.metadata.name, input.live.spec.replicas, input.object.spec.replicas])
}

# Outside a pull request (pr is null) nothing is labelled.
labelled(l) if l in input.pr.labels
`,
	"context.rego": `package gantry.echo

warn contains msg if {
	input.object.kind == "ConfigMap"
	msg := sprintf("%s %s %s %s pr=%v", [input.action, input.app, input.cluster, input.namespace, input.pr])
}
`,
}

const nsWeb = `
apiVersion: v1
kind: Namespace
metadata: {name: web}
`

func deployReplicas(n int) string {
	return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: web}
spec: {replicas: ` + string(rune('0'+n)) + `}
`
}

func TestContextPolicies(t *testing.T) {
	tests := []struct {
		name string
		obj  Object
		pr   *PR
		want []brief
	}{
		{
			name: "deleting a Namespace in prod",
			obj:  Object{Obj: obj(t, nsWeb), Cluster: "prod", Action: ActionDelete},
			want: []brief{{"Namespace web", "gantry.prod.deny", SeverityDeny, "deleting Namespace web in prod is not allowed"}},
		},
		{
			name: "deleting a Namespace in staging",
			obj:  Object{Obj: obj(t, nsWeb), Cluster: "staging", Action: ActionDelete},
			want: []brief{},
		},
		{
			name: "creating a Namespace in prod",
			obj:  Object{Obj: obj(t, nsWeb), Cluster: "prod", Action: ActionCreate},
			want: []brief{},
		},
		{
			name: "lowering replicas without the label",
			obj:  Object{Obj: obj(t, deployReplicas(2)), Live: obj(t, deployReplicas(5)), Action: ActionUpdate},
			pr:   &PR{Number: 7, Labels: []string{"risky"}},
			want: []brief{{"Deployment web/api", "gantry.prod.deny", SeverityDeny, "lowering replicas of api from 5 to 2 needs the scale-down label"}},
		},
		{
			name: "lowering replicas outside a pull request",
			obj:  Object{Obj: obj(t, deployReplicas(2)), Live: obj(t, deployReplicas(5)), Action: ActionUpdate},
			want: []brief{{"Deployment web/api", "gantry.prod.deny", SeverityDeny, "lowering replicas of api from 5 to 2 needs the scale-down label"}},
		},
		{
			name: "lowering replicas with the label",
			obj:  Object{Obj: obj(t, deployReplicas(2)), Live: obj(t, deployReplicas(5)), Action: ActionUpdate},
			pr:   &PR{Number: 7, Labels: []string{"scale-down"}},
			want: []brief{},
		},
		{
			name: "raising replicas",
			obj:  Object{Obj: obj(t, deployReplicas(5)), Live: obj(t, deployReplicas(2)), Action: ActionUpdate},
			pr:   &PR{Number: 7},
			want: []brief{},
		},
		{
			name: "a new Deployment has no live object",
			obj:  Object{Obj: obj(t, deployReplicas(1)), Action: ActionCreate},
			want: []brief{},
		},
		{
			name: "the whole document",
			obj: Object{Obj: obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: web}}"),
				App: "web-prod", Cluster: "prod", Action: ActionUnchanged},
			pr: &PR{Number: 7, Author: "alice", Labels: []string{"b", "a"}, BaseBranch: "main", ChangedFiles: []string{"x.yaml"}},
			want: []brief{{"ConfigMap web/c", "gantry.echo.warn", SeverityWarn,
				`unchanged web-prod prod web pr={"author": "alice", "baseBranch": "main", "changedFiles": ["x.yaml"], "labels": ["a", "b"], "number": 7}`}},
		},
	}
	e := load(t, Source{}, contextPolicies)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.Evaluate(context.Background(), Input{Objects: []Object{tt.obj}, PR: tt.pr})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, briefs(res.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
