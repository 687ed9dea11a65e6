package secretmask

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(data, stringData map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "annotations": map[string]any{LastApplied: `{"data":{"k":"c2VjcmV0"}}`, "team": "a"}}}}
	if data != nil {
		u.Object["data"] = data
	}
	if stringData != nil {
		u.Object["stringData"] = stringData
	}
	return u
}

func TestMaskHidesEveryValueAndKeepsKeys(t *testing.T) {
	in := secret(map[string]any{"k": base64.StdEncoding.EncodeToString([]byte("secret"))}, map[string]any{"s": "plain"})
	got := Mask(in)
	if diff := cmp.Diff(map[string]any{"k": Hidden}, got.Object["data"]); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"s": Hidden}, got.Object["stringData"]); diff != "" {
		t.Errorf("stringData (-want +got):\n%s", diff)
	}
	if a := got.GetAnnotations(); a[LastApplied] != Hidden || a["team"] != "a" {
		t.Errorf("annotations %v", a)
	}
	if in.Object["data"].(map[string]any)["k"] == Hidden {
		t.Error("Mask changed its input")
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"k": "v"}}}
	if Mask(cm) != cm || Mask(nil) != nil {
		t.Error("Mask touched what is not a Secret")
	}
}

func TestValuesAndScrub(t *testing.T) {
	u := secret(map[string]any{"k": base64.StdEncoding.EncodeToString([]byte("secret-1"))}, map[string]any{"s": "plain-2", "short": "ab"})
	vals := Values(u, nil)
	for _, want := range []string{"secret-1", base64.StdEncoding.EncodeToString([]byte("secret-1")), "plain-2", base64.StdEncoding.EncodeToString([]byte("plain-2"))} {
		if Scrub("x "+want+" y", vals) != "x "+Hidden+" y" {
			t.Errorf("%q is not scrubbed", want)
		}
	}
	if got := Scrub("ab stays", vals); got != "ab stays" {
		t.Errorf("a two-byte value was scrubbed: %q", got)
	}
	for i := 1; i < len(vals); i++ {
		if len(vals[i]) > len(vals[i-1]) {
			t.Fatalf("values not longest first: %q", vals)
		}
	}
}
