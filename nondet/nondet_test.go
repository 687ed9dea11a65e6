package nondet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecide is the rule: keep the live value only when the live object
// exists, has the field, and was produced by the same chart inputs (or
// records none).
func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name             string
		exists, has      bool
		liveIn, renderIn string
		want             Outcome
	}{
		{"same inputs", true, true, "sha256:a", "sha256:a", KeptLive},
		{"inputs changed", true, true, "sha256:a", "sha256:b", InputsChanged},
		{"live records no inputs", true, true, "", "sha256:b", KeptLive},
		{"live lacks the field", true, false, "sha256:a", "sha256:a", LiveLacks},
		{"live lacks the field, inputs changed", true, false, "sha256:a", "sha256:b", LiveLacks},
		{"no live object", false, false, "", "sha256:a", NewObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.exists, tc.has, tc.liveIn, tc.renderIn); got != tc.want {
				t.Errorf("Decide = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestEncodeDecode round-trips keys holding the pointer's own syntax.
func TestEncodeDecode(t *testing.T) {
	in := [][]string{{"metadata", "annotations", "checksum/random"}, {"data", "a~b"}, {"data", `"],"/spec`}}
	enc := Encode(in)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"data", `"],"/spec`}, {"data", "a~b"}, {"metadata", "annotations", "checksum/random"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip of %s (-want +got):\n%s", enc, diff)
	}
	for _, bad := range []string{"", "nope", `["no-slash"]`, `[1]`} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

// TestDisplay tells list indexes from keys, and quotes keys that are not
// plain names so none can pass for a path of another shape.
func TestDisplay(t *testing.T) {
	obj := map[string]any{
		"spec": map[string]any{"containers": []any{map[string]any{"env": []any{nil, map[string]any{"value": "x"}}}}},
		"data": map[string]any{"0": "zero"},
	}
	for _, tc := range []struct {
		tokens []string
		want   string
	}{
		{[]string{"data", "password"}, ".data.password"},
		{[]string{"data", "0"}, ".data.0"},
		{[]string{"spec", "containers", "0", "env", "1", "value"}, ".spec.containers[0].env[1].value"},
		{[]string{"metadata", "annotations", "checksum/random"}, `.metadata.annotations["checksum/random"]`},
		{[]string{"data", "a.b"}, `.data["a.b"]`},
		{[]string{"data", "x\n`<!--"}, `.data["x\n` + "`" + `<!--"]`},
	} {
		if got := Display(obj, tc.tokens); got != tc.want {
			t.Errorf("Display(%q) = %q, want %q", tc.tokens, got, tc.want)
		}
	}
}
