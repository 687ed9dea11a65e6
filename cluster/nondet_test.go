package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/nondet"
	gantryrender "github.com/gantryops/gantry/render"
)

// nondetRepo is render's test repository with a chart whose templates
// call random and time functions (randAlphaNum, htpasswd, genCA, uuidv4,
// now).
const nondetRepo = "../render/testdata/nondet"

// renderAuth renders that chart as app, afresh: new random values.
func renderAuth(t *testing.T, app config.App) []*unstructured.Unstructured {
	t.Helper()
	objs, _, err := gantryrender.Render(context.Background(), nondetRepo, app)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// outcomes maps "Kind/ns/name path" to the outcome of each unstable field
// of the diff.
func outcomes(s *DiffSet) map[string]nondet.Outcome {
	out := map[string]nondet.Outcome{}
	for _, o := range s.Objects {
		for _, f := range o.Unstable {
			out[o.Object.String()+" "+f.Path] = f.Outcome
		}
	}
	return out
}

// liveVersions reads the resourceVersion of the app's objects as the
// cluster has them; a Deployment's generation instead, as its controller
// writes its status at times of its own.
func liveVersions(t *testing.T, c *Client, ns string, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range objs {
		m, err := c.mapping(o.GroupVersionKind())
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.resource(m, ns).Get(context.Background(), o.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		v := "resourceVersion " + u.GetResourceVersion()
		if u.GetKind() == "Deployment" {
			v = fmt.Sprintf("generation %d", u.GetGeneration())
		}
		out[RefOf(u).String()] = v
	}
	return out
}

// secretValue reads one value of a live Secret.
func secretValue(t *testing.T, ns, name, key string) string {
	t.Helper()
	s, err := cluster.Client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(s.Data[key])
}

// TestUnstableFieldsKeepLiveValues applies a chart with generated
// passwords, a CA, UUIDs and a timestamp, then plans and applies a fresh
// render of the same inputs: the plan shows no change and says the live
// values were kept, the apply writes nothing (resourceVersions the same,
// the Secret's password the first one), and drift finds nothing. Once a
// value of the chart changes, the new render's values are taken and the
// plan says why.
func TestUnstableFieldsKeepLiveValues(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c := newClient(t)
	app := newApp(ns)
	app.Path, app.Render = "apps/auth", config.RenderHelm
	rel := app.Name
	secret := "Secret/" + ns + "/" + rel + "-auth"
	settings := "ConfigMap/" + ns + "/" + rel + "-settings"

	first := renderAuth(t, app)
	set, err := c.Diff(ctx, app, first, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(set)[secret+" .data.password"]; got != nondet.NewObject {
		t.Errorf("first plan: password outcome %q, want %q", got, nondet.NewObject)
	}
	cs, err := c.Apply(ctx, app, first, ApplyOptions{Repository: testRepo})
	if err != nil {
		t.Fatal(err)
	}
	if n := cs.Count(ChangeCreated); n != len(first) {
		t.Fatalf("first apply created %d of %d objects: %v", n, len(first), changes(cs))
	}
	password := secretValue(t, ns, rel+"-auth", "password")
	webConfig := secretValue(t, ns, rel+"-auth", "web-config.yml")
	caCert := secretValue(t, ns, rel+"-ca", "tls.crt")
	before := liveVersions(t, c, ns, first)
	for _, o := range first {
		if _, ok := o.GetAnnotations()[nondet.FieldsAnnotation]; ok {
			m, _ := c.mapping(o.GroupVersionKind())
			u, err := c.resource(m, ns).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, leaked := u.GetAnnotations()[nondet.FieldsAnnotation]; leaked {
				t.Errorf("%s: %s reached the API server", RefOf(u), nondet.FieldsAnnotation)
			}
			if u.GetAnnotations()[nondet.InputsAnnotation] == "" {
				t.Errorf("%s: applied without %s", RefOf(u), nondet.InputsAnnotation)
			}
		}
	}

	t.Run("same inputs: plan shows no change, keeps the live values", func(t *testing.T) {
		second := renderAuth(t, app)
		set, err := c.Diff(ctx, app, second, DefaultDiffOptions(testRepo))
		if err != nil {
			t.Fatal(err)
		}
		for ref, a := range actions(set) {
			if a != string(ActionUnchanged) {
				t.Errorf("%s: %s, want unchanged (%v)", ref, a, find(set, ref).Changed)
			}
		}
		want := map[string]nondet.Outcome{
			"Deployment/" + ns + "/" + rel + "-web .spec.template.spec.containers[0].env[1].value": nondet.KeptLive,
			settings + " .data.rendered-at":                                        nondet.KeptLive,
			settings + " .data.token":                                              nondet.KeptLive,
			settings + ` .metadata.annotations["checksum/random"]`:                 nondet.KeptLive,
			secret + " .data.password":                                             nondet.KeptLive,
			secret + ` .stringData["web-config.yml"]`:                              nondet.KeptLive,
			"Secret/" + ns + "/" + rel + `-ca .data["tls.crt"]`:                    nondet.KeptLive,
			"Secret/" + ns + "/" + rel + `-ca .data["tls.key"]`:                    nondet.KeptLive,
			"ServiceAccount/" + ns + "/" + rel + " .metadata.annotations.build-id": nondet.KeptLive,
		}
		if diff := cmp.Diff(want, outcomes(set)); diff != "" {
			t.Errorf("unstable fields (-want +got):\n%s", diff)
		}
		cs, err := c.Apply(ctx, app, second, ApplyOptions{Repository: testRepo})
		if err != nil {
			t.Fatal(err)
		}
		if n := cs.Count(ChangeUnchanged); n != len(second) {
			t.Errorf("second apply: %v, want every object unchanged", changes(cs))
		}
		if diff := cmp.Diff(before, liveVersions(t, c, ns, second)); diff != "" {
			t.Errorf("apply of the same inputs rewrote objects (resourceVersion/generation, -before +after):\n%s", diff)
		}
		if secretValue(t, ns, rel+"-auth", "password") != password || secretValue(t, ns, rel+"-auth", "web-config.yml") != webConfig ||
			secretValue(t, ns, rel+"-ca", "tls.crt") != caCert {
			t.Errorf("apply of the same inputs replaced a generated Secret value")
		}
		drift, err := c.Drift(ctx, app, renderAuth(t, app), DriftOptions{Repository: testRepo})
		if err != nil {
			t.Fatal(err)
		}
		if drift.Drifted() || drift.HasErrors() {
			t.Errorf("drift reported for unstable fields: %+v", drift.Objects)
		}
	})

	t.Run("inputs changed: the new render's values are taken", func(t *testing.T) {
		changed := app
		changed.Helm = &config.Helm{Set: map[string]string{"greeting": "bonjour"}}
		third := renderAuth(t, changed)
		set, err := c.Diff(ctx, changed, third, DefaultDiffOptions(testRepo))
		if err != nil {
			t.Fatal(err)
		}
		got := outcomes(set)
		for _, k := range []string{settings + ` .metadata.annotations["checksum/random"]`, secret + " .data.password"} {
			if got[k] != nondet.InputsChanged {
				t.Errorf("%s: outcome %q, want %q", k, got[k], nondet.InputsChanged)
			}
		}
		d := find(set, settings)
		if d.Action != ActionUpdate || !slices.Contains(d.Changed, "metadata.annotations.checksum/random") {
			t.Errorf("%s: %s %v, want an update of the generated annotation", settings, d.Action, d.Changed)
		}
		if _, err := c.Apply(ctx, changed, third, ApplyOptions{Repository: testRepo}); err != nil {
			t.Fatal(err)
		}
		if secretValue(t, ns, rel+"-auth", "password") == password {
			t.Errorf("inputs changed, but the Secret kept its old generated password")
		}
	})
}

// TestKeepUnstable is the rule on hand-made objects: the live value is
// taken for listed fields with the same inputs, a Secret's stringData
// field takes the live data value, a field the live object lacks keeps
// the render's value, and gantry's own marks and names are never taken.
func TestKeepUnstable(t *testing.T) {
	obj := func(kind, inputs string, fields map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind,
			"metadata": map[string]any{"name": "x", "namespace": "ns", "annotations": map[string]any{nondet.InputsAnnotation: inputs}}}}
		for k, v := range fields {
			u.Object[k] = v
		}
		return u
	}
	desired := obj("Secret", "sha256:a", map[string]any{
		"data":       map[string]any{"password": "bmV3", "other": "bmV3"},
		"stringData": map[string]any{"web.yml": "new"},
	})
	live := obj("Secret", "sha256:a", map[string]any{"data": map[string]any{"password": "b2xk", "web.yml": "b2xk"}})
	fields := [][]string{{"data", "password"}, {"data", "other"}, {"stringData", "web.yml"}, {"metadata", "namespace"}, {"kind"}}
	got := keepUnstable(desired, live, fields)
	want := []nondet.Field{
		{Path: ".data.password", SecretKey: "password", Outcome: nondet.KeptLive},
		{Path: ".data.other", SecretKey: "other", Outcome: nondet.LiveLacks},
		{Path: `.stringData["web.yml"]`, SecretKey: "web.yml", Outcome: nondet.KeptLive},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	wantObj := obj("Secret", "sha256:a", map[string]any{"data": map[string]any{"password": "b2xk", "other": "bmV3", "web.yml": "b2xk"}})
	if diff := cmp.Diff(wantObj.Object, desired.Object); diff != "" {
		t.Errorf("desired (-want +got):\n%s", diff)
	}

	changed := obj("ConfigMap", "sha256:b", map[string]any{"data": map[string]any{"id": "new"}})
	got = keepUnstable(changed, obj("ConfigMap", "sha256:a", map[string]any{"data": map[string]any{"id": "old"}}), [][]string{{"data", "id"}})
	if len(got) != 1 || got[0].Outcome != nondet.InputsChanged || changed.Object["data"].(map[string]any)["id"] != "new" {
		t.Errorf("inputs changed: %+v, data %v; want the render's value", got, changed.Object["data"])
	}

	// A webhook put an entry first in the live list: matched by name,
	// never by index; a list without names matches only at equal length.
	dep := obj("Pod", "sha256:a", map[string]any{"spec": map[string]any{
		"env":  []any{map[string]any{"name": "A", "value": "a"}, map[string]any{"name": "ID", "value": "new"}},
		"args": []any{"--id", "new"},
	}})
	livePod := obj("Pod", "sha256:a", map[string]any{"spec": map[string]any{
		"env":  []any{map[string]any{"name": "INJECTED", "value": "x"}, map[string]any{"name": "A", "value": "a"}, map[string]any{"name": "ID", "value": "old"}},
		"args": []any{"--sidecar", "--id", "old"},
	}})
	got = keepUnstable(dep, livePod, [][]string{{"spec", "env", "1", "value"}, {"spec", "args", "1"}})
	wantPod := []nondet.Field{
		{Path: ".spec.env[1].value", Outcome: nondet.KeptLive},
		{Path: ".spec.args[1]", Outcome: nondet.LiveLacks},
	}
	if diff := cmp.Diff(wantPod, got); diff != "" {
		t.Errorf("list fields (-want +got):\n%s", diff)
	}
	if v, _ := get(dep.Object, []string{"spec", "env", "1", "value"}); v != "old" {
		t.Errorf("env ID = %v, want the live value of the entry of that name", v)
	}
	if v, _ := get(dep.Object, []string{"spec", "args", "1"}); v != "new" {
		t.Errorf("args[1] = %v, want the render's value (the live list differs in length)", v)
	}

	named := obj("ConfigMap", "sha256:a", nil)
	if got := keepUnstable(named, nil, [][]string{{"metadata", "name"}}); len(got) != 1 || got[0].Outcome != nondet.GeneratedName || named.GetName() != "x" {
		t.Errorf("generated name: %+v, name %q; want the name said and kept as rendered", got, named.GetName())
	}

	marked := obj("ConfigMap", "sha256:a", nil)
	ann := marked.GetAnnotations()
	ann[nondet.FieldsAnnotation] = `["/data/id"]`
	marked.SetAnnotations(ann)
	if f := takeUnstable(marked); len(f) != 1 || f[0][1] != "id" {
		t.Errorf("takeUnstable = %v", f)
	}
	if _, ok := marked.GetAnnotations()[nondet.FieldsAnnotation]; ok {
		t.Errorf("takeUnstable left the annotation on the object")
	}
}

// TestDiffTextSaysWhatWasKept: `gantry diff` prints the unstable fields
// of an app with what gantry did, even when every object is unchanged.
func TestDiffTextSaysWhatWasKept(t *testing.T) {
	set := &DiffSet{App: "auth", Objects: []ObjectDiff{{
		Object: ObjectRef{Version: "v1", Kind: "Secret", Namespace: "ns", Name: "auth"}, Action: ActionUnchanged,
		Unstable: []nondet.Field{{Path: ".data.password", SecretKey: "password", Outcome: nondet.KeptLive}, {Path: ".data.token", SecretKey: "token", Outcome: nondet.InputsChanged}},
	}}}
	var b strings.Builder
	if err := WriteDiff(&b, FormatText, []*DiffSet{set}); err != nil {
		t.Fatal(err)
	}
	want := "  not deterministic: Secret/ns/auth .data.password (kept the live value), Secret/ns/auth .data.token (regenerated: the chart's inputs changed)\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, b.String())
	}
}
