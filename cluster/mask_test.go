package cluster

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": data}}
}

func TestMaskSecrets(t *testing.T) {
	tests := []struct {
		name                string
		before, after       map[string]any
		wantBefore, wantAft map[string]any
	}{
		{"unchanged", map[string]any{"a": "x"}, map[string]any{"a": "x"}, map[string]any{"a": maskHidden}, map[string]any{"a": maskHidden}},
		{"changed", map[string]any{"a": "x"}, map[string]any{"a": "y"}, map[string]any{"a": maskBefore}, map[string]any{"a": maskAfter}},
		{"added", map[string]any{}, map[string]any{"b": "y"}, map[string]any{}, map[string]any{"b": maskHidden}},
		{"removed", map[string]any{"b": "y"}, map[string]any{}, map[string]any{"b": maskHidden}, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, a := maskSecrets(secret(tt.before), secret(tt.after))
			if d := cmp.Diff(tt.wantBefore, b.Object["data"]); d != "" {
				t.Errorf("before (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantAft, a.Object["data"]); d != "" {
				t.Errorf("after (-want +got):\n%s", d)
			}
			if tt.before["a"] == "x" && (secret(tt.before).Object["data"].(map[string]any)["a"] != "x") {
				t.Error("masking changed its input")
			}
		})
	}
	b, a := maskSecrets(nil, secret(map[string]any{"k": "v"}))
	if b != nil || a.Object["data"].(map[string]any)["k"] != maskHidden {
		t.Errorf("create: %v %v", b, a)
	}
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
