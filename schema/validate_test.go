package schema

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

func TestNearestShippedVersion(t *testing.T) {
	if got := Shipped(); len(got) == 0 || got[len(got)-1] != "1.34" {
		t.Fatalf("shipped versions %v, want 1.34 last", got)
	}
	for _, tc := range []struct {
		target string
		want   string
		exact  bool
	}{
		{"", "1.34", true},
		{"1.34", "1.34", true},
		{"v1.34.2", "1.34", true},
		{"1.34+", "1.34", true},
		{"1.29", "1.34", false},
		{"1.40", "1.34", false},
		{"2.0", "1.34", false},
		{"not a version", "1.34", false},
	} {
		got, exact := Nearest(tc.target)
		if got != tc.want || exact != tc.exact {
			t.Errorf("Nearest(%q) = %s, %v; want %s, %v", tc.target, got, exact, tc.want, tc.exact)
		}
	}
}

// TestNoFalsePositivesOnShippedManifests validates every object of the
// gantry chart and of the sample repositories: the API server accepts
// them (charts/gantry's own test and `make run-cli` dry-run them), so
// offline validation must find no problem and leave nothing unchecked.
func TestNoFalsePositivesOnShippedManifests(t *testing.T) {
	ctx := context.Background()
	yes := true
	apps := []struct {
		root string
		app  config.App
	}{
		{"..", config.App{Name: "gantry", Path: "charts/gantry", Render: config.RenderHelm, Namespace: "gantry", Prune: &yes,
			Helm: &config.Helm{ReleaseName: "gantry", Set: map[string]string{"github.appID": "42", "github.existingSecret": "gh"}}}},
	}
	for _, root := range []string{"../fixtures/repos/sample", "../fixtures/repos/sandbox/repo"} {
		repo, err := config.LoadRepo(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range repo.Apps {
			apps = append(apps, struct {
				root string
				app  config.App
			}{root, a})
		}
	}
	total := 0
	for _, a := range apps {
		objs, _, err := render.Render(ctx, a.root, a.app)
		if err != nil {
			t.Fatalf("render %s: %v", a.app.Name, err)
		}
		res, err := Validate(ctx, objs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Problems {
			t.Errorf("%s: false positive: %v", a.app.Name, p)
		}
		for _, u := range res.Unchecked {
			t.Errorf("%s: left unchecked: %v", a.app.Name, u)
		}
		if res.Checked != len(objs) || len(objs) == 0 {
			t.Errorf("%s: checked %d of %d objects", a.app.Name, res.Checked, len(objs))
		}
		total += len(objs)
	}
	t.Logf("%d objects of %d apps validated", total, len(apps))
}

// TestKindsWithoutSchemaAreListed: a custom kind whose CRD is not in the
// repository, an unserved version and an unknown built-in version are
// listed per object, never passed.
func TestKindsWithoutSchemaAreListed(t *testing.T) {
	objs := []*unstructured.Unstructured{
		parse(t, `{apiVersion: monitoring.coreos.com/v1, kind: ServiceMonitor, metadata: {name: m}}`),
		parse(t, `{apiVersion: offline.gantry.dev/v2, kind: Widget, metadata: {name: w}}`),
		parse(t, `{apiVersion: apps/v1beta1, kind: Deployment, metadata: {name: d}}`),
	}
	res, err := Validate(context.Background(), objs, Options{CRDs: []*unstructured.Unstructured{parse(t, widgetCRD)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range res.Unchecked {
		got = append(got, u.String())
	}
	want := []string{
		"ServiceMonitor m: not checked: no schema for monitoring.coreos.com/v1 ServiceMonitor (its CustomResourceDefinition is not in the repository, or an aggregated API serves it)",
		"Widget w: not checked: CustomResourceDefinition widgets.offline.gantry.dev serves no version v2",
		"Deployment d: not checked: apps/v1beta1 Deployment is not a kind of this Kubernetes version",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unchecked (-want +got):\n%s", diff)
	}
	if res.Checked != 0 || len(res.Problems) != 0 {
		t.Errorf("checked %d, problems %v; want none", res.Checked, res.Problems)
	}
}

// TestHostileCRDs: CRDs come from the pull request. One cannot weaken the
// schema of a built-in kind, nor make validation resolve a reference,
// recurse without end or panic; its kinds are then unchecked, with why.
func TestHostileCRDs(t *testing.T) {
	deep := "{type: object}"
	for range 100 {
		deep = "{type: object, properties: {a: " + deep + "}}"
	}
	crd := func(group, kind, schema string) *unstructured.Unstructured {
		return parse(t, strings.NewReplacer("GROUP", group, "KIND", kind, "SCHEMA", schema).Replace(
			`{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: x.GROUP},
			  spec: {group: GROUP, names: {kind: KIND, plural: x}, scope: Namespaced,
			         versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: SCHEMA}}]}}`))
	}
	for _, tc := range []struct {
		name       string
		crd        *unstructured.Unstructured
		obj        string
		wantReason string
		wantPaths  []string
	}{
		{"a CRD claiming a built-in kind does not replace its schema",
			crd("apps", "Deployment", "{type: object, x-kubernetes-preserve-unknown-fields: true}"),
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: d}, spec: {replicas: "x"}}`, "", []string{".spec.replicas"}},
		{"$ref is never resolved",
			crd("ref.example.com", "Ref", `{type: object, properties: {spec: {$ref: "http://169.254.169.254/schema.json"}}}`),
			`{apiVersion: ref.example.com/v1, kind: Ref, metadata: {name: r}, spec: {}}`, "its schema uses $ref, which the API server refuses", nil},
		{"a schema nested past the bound",
			crd("deep.example.com", "Deep", deep),
			`{apiVersion: deep.example.com/v1, kind: Deep, metadata: {name: d}}`, "its schema is nested too deeply", nil},
		{"an invalid pattern is an error, not a panic",
			crd("pat.example.com", "Pat", `{type: object, properties: {spec: {type: object, properties: {a: {type: string, pattern: "(("}}}}}`),
			`{apiVersion: pat.example.com/v1, kind: Pat, metadata: {name: p}, spec: {a: x}}`, "", []string{"spec.a"}},
		{"a schema that is not a schema",
			crd("bad.example.com", "Bad", `{type: 7}`),
			`{apiVersion: bad.example.com/v1, kind: Bad, metadata: {name: b}}`, "its schema does not decode", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Validate(context.Background(), []*unstructured.Unstructured{tc.crd, parse(t, tc.obj)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, p := range res.Problems {
				if p.Object.GetKind() != "CustomResourceDefinition" {
					paths = append(paths, p.Path)
				}
			}
			if diff := cmp.Diff(tc.wantPaths, paths); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%v", diff, res.Problems)
			}
			if tc.wantReason == "" {
				if len(res.Unchecked) != 0 {
					t.Errorf("unchecked: %v", res.Unchecked)
				}
				return
			}
			if len(res.Unchecked) != 1 || !strings.Contains(res.Unchecked[0].Reason, tc.wantReason) {
				t.Errorf("unchecked %v, want one saying %q", res.Unchecked, tc.wantReason)
			}
		})
	}
}
