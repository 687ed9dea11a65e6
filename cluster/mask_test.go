package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func secret(data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": data}}
}

// Every value is masked with the same marker, whether it changed or not,
// so neither the masked objects nor their diff depend on a value; keys
// added and removed still show.
func TestMaskSecrets(t *testing.T) {
	tests := []struct {
		name                string
		before, after       map[string]any
		wantBefore, wantAft map[string]any
	}{
		{"unchanged", map[string]any{"a": "x"}, map[string]any{"a": "x"}, map[string]any{"a": maskHidden}, map[string]any{"a": maskHidden}},
		{"changed", map[string]any{"a": "x"}, map[string]any{"a": "y"}, map[string]any{"a": maskHidden}, map[string]any{"a": maskHidden}},
		{"added", map[string]any{}, map[string]any{"b": "y"}, map[string]any{}, map[string]any{"b": maskHidden}},
		{"removed", map[string]any{"b": "y"}, map[string]any{}, map[string]any{"b": maskHidden}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := secret(tt.before)
			b, a := maskSecrets(in, secret(tt.after))
			if d := cmp.Diff(tt.wantBefore, b.Object["data"]); d != "" {
				t.Errorf("before (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantAft, a.Object["data"]); d != "" {
				t.Errorf("after (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.before, in.Object["data"]); d != "" {
				t.Errorf("masking changed its input (-want +got):\n%s", d)
			}
		})
	}
	b, a := maskSecrets(nil, secret(map[string]any{"k": "v"}))
	if b != nil || a.Object["data"].(map[string]any)["k"] != maskHidden {
		t.Errorf("create: %v %v", b, a)
	}
	withAnnotation := secret(map[string]any{"k": "v"})
	withAnnotation.SetAnnotations(map[string]string{lastApplied: `{"data":{"k":"djE="}}`, "team": "a"})
	if got := maskSecret(withAnnotation).GetAnnotations(); got[lastApplied] != maskHidden || got["team"] != "a" {
		t.Errorf("annotations after masking: %v", got)
	}
}

// FuzzMaskSecrets: for any keys and values of a Secret's two versions, no
// value of length 4 or more appears in the masked objects or in their
// diff, raw or base64-encoded.
func FuzzMaskSecrets(f *testing.F) {
	f.Add("password", "hunter2-old", "hunter2-new", "token", "same-token", "{\"data\":{\"password\":\"aHVudGVyMg==\"}}")
	f.Add("a", "(hidden)", "(hidden)x", "b", "data", "")
	f.Add("key: value", "line\nbreak", "'quoted'", "k", "  spaced  ", "last-applied")
	f.Fuzz(func(t *testing.T, k1, v1, v2, k2, v3, ann string) {
		// The masked objects and their diff, for the keys and these values.
		masked := func(v1, v2, v3, ann string) string {
			before := secret(map[string]any{k1: v1, k2: v3})
			after := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
				"data": map[string]any{k1: v2}, "stringData": map[string]any{k2: v3, k1 + "x": v1}}}
			if ann != "" {
				before.SetAnnotations(map[string]string{lastApplied: ann})
				after.SetAnnotations(map[string]string{lastApplied: ann + v2})
			}
			b, a := maskSecrets(before, after)
			return toYAML(b) + toYAML(a) + render(before, after, 3)
		}
		out := masked(v1, v2, v3, ann)
		refAnn := ""
		if ann != "" {
			refAnn = "reference"
		}
		// No oracle: other values give the same output.
		ref := masked("one", "two", "three", refAnn)
		if out != ref {
			t.Fatalf("output depends on the values:\n%s\nwith other values:\n%s", out, ref)
		}
		// No leak: a value is in the output only where it is in the output
		// of other values (it is a key, or gantry's own words).
		for _, v := range []string{v1, v2, v3, ann, ann + v2} {
			for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
				if len(form) >= 4 && strings.Contains(out, form) && !strings.Contains(ref, form) {
					t.Fatalf("value %q appears in the masked output:\n%s", form, out)
				}
			}
		}
	})
}

func TestParsePointer(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"/spec/replicas", []string{"spec", "replicas"}, false},
		{"/metadata/annotations/a~1b~0c", []string{"metadata", "annotations", "a/b~c"}, false},
		{"spec", nil, true},
		{"", nil, true},
	}
	for _, tt := range tests {
		got, err := parsePointer(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v", tt.in, err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tt.in, d)
		}
	}
}

func TestChangedPaths(t *testing.T) {
	before := map[string]any{"spec": map[string]any{"replicas": int64(3), "containers": []any{map[string]any{"image": "a:1"}}}, "data": map[string]any{"x": "1"}}
	after := map[string]any{"spec": map[string]any{"replicas": int64(5), "containers": []any{map[string]any{"image": "a:2"}}}, "data": map[string]any{"y": "1"}}
	want := []string{"data.x", "data.y", "spec.containers[0].image", "spec.replicas"}
	if d := cmp.Diff(want, changedPaths(before, after)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		d    ObjectDiff
		want string
	}{
		{ObjectDiff{Object: ObjectRef{Kind: "Deployment"}, Action: ActionUpdate, Changed: []string{"spec.replicas", "spec.template.spec.containers[0].image"}}, "update (replicas, image)"},
		{ObjectDiff{Object: ObjectRef{Kind: "Secret"}, Action: ActionUpdate, Changed: []string{"data.SIGNING_KEY"}}, "update (keys changed: SIGNING_KEY)"},
		{ObjectDiff{Object: ObjectRef{Kind: "ConfigMap"}, Action: ActionCreate}, "create"},
		{ObjectDiff{Object: ObjectRef{Kind: "ConfigMap"}, Action: ActionCreate, Error: "x"}, "error"},
	}
	for _, tt := range tests {
		if got := summary(tt.d); got != tt.want {
			t.Errorf("summary(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// A pull request cannot test a guessed Secret value: whether it renders
// the live value or another one, the plan is the same, byte for byte and
// action for action; also when another field manager owns the value (a
// field conflict would tell) and when the Secret is immutable (an
// immutable-field error would).
func TestSecretGuessIsNoOracle(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	const live, guess = "the-live-value-V", "a-wrong-guess-W"
	secrets := `
apiVersion: v1
kind: Secret
metadata: {name: plain}
stringData: {password: ` + live + `}
---
apiVersion: v1
kind: Secret
metadata: {name: immutable}
immutable: true
stringData: {password: ` + live + `}
---
apiVersion: v1
kind: Secret
metadata: {name: pull}
type: kubernetes.io/dockerconfigjson
stringData: {.dockerconfigjson: '{"auths":{"registry.example":{"auth":"` + live + `"}}}'}
`
	if _, err := c.Apply(ctx, app, objects(t, ns, secrets), ApplyOptions{Repository: testRepo}); err != nil {
		t.Fatal(err)
	}
	// A Secret whose value another manager owns, adopted by gantry: the
	// dry-run conflicts whatever the rendered value (an apply of the very
	// same value would not; the plan cannot say so without telling).
	shared := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "shared", "namespace": ns}, "stringData": map[string]any{"password": live}}}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	if _, err := c.dynamic.Resource(gvr).Namespace(ns).Apply(ctx, "shared", shared, metav1.ApplyOptions{FieldManager: "someone-else"}); err != nil {
		t.Fatal(err)
	}
	plan := func(value string) (string, map[string]string) {
		docs := strings.ReplaceAll(secrets, live, value) + `
---
apiVersion: v1
kind: Secret
metadata: {name: shared}
stringData: {password: ` + value + `, extra: ` + value + `}
`
		set, err := c.Diff(ctx, app, objects(t, ns, docs), DefaultDiffOptions(testRepo))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		for _, f := range []Format{FormatText, FormatMarkdown, FormatJSON} {
			if err := WriteDiff(&out, f, []*DiffSet{set}); err != nil {
				t.Fatal(err)
			}
		}
		return out.String(), actions(set)
	}
	right, rightActions := plan(live)
	wrong, wrongActions := plan(guess)
	if d := cmp.Diff(right, wrong); d != "" {
		t.Errorf("the plan tells the live value from a guess (-live +guess):\n%s", d)
	}
	if d := cmp.Diff(rightActions, wrongActions); d != "" {
		t.Errorf("actions differ (-live +guess):\n%s", d)
	}
	want := map[string]string{"Secret/" + ns + "/plain": "unchanged", "Secret/" + ns + "/immutable": "unchanged",
		"Secret/" + ns + "/pull": "unchanged", "Secret/" + ns + "/shared": "error"}
	if d := cmp.Diff(want, rightActions); d != "" {
		t.Errorf("actions (-want +got):\n%s\n%s", d, right)
	}
	for _, v := range []string{live, guess, base64.StdEncoding.EncodeToString([]byte(live)), base64.StdEncoding.EncodeToString([]byte(guess))} {
		if strings.Contains(right+wrong, v) {
			t.Errorf("the plan shows %q:\n%s", v, right+wrong)
		}
	}
}
