package driftwrite

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// Splitting and joining a file gives it back byte for byte, whatever its
// separators carry; removing a document keeps the rest as they were.
func TestSplitJoinDocs(t *testing.T) {
	tests := []struct {
		name, in string
		remove   int // index of the chunk to remove, or -1
		want     string
	}{
		{"round trip", "# head\na: 1\n--- # second\nb: 2\n---\nc: 3", -1, "# head\na: 1\n--- # second\nb: 2\n---\nc: 3"},
		{"leading separator kept", "---\na: 1\n---\nb: 2\n", 0, "---\nb: 2\n"},
		{"no new leading separator", "a: 1\n---\nb: 2\n", 0, "b: 2\n"},
		{"separator with a comment stays", "a: 1\n--- # b\nb: 2\n", 0, "--- # b\nb: 2\n"},
		{"middle removed", "a: 1\n---\nb: 2\n---\nc: 3\n", 1, "a: 1\n---\nc: 3\n"},
		{"dashes inside a value are no separator", "a: |\n  ---\n  x\n", -1, "a: |\n  ---\n  x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chunks := splitDocs(tc.in)
			if tc.remove >= 0 {
				chunks[tc.remove].removed = true
			}
			if diff := cmp.Diff(tc.want, joinDocs(chunks, chunks[0].sep != "")); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// An object is found by group, kind, name and namespace (a document
// without one takes the app's); the source line decides between twins.
func TestFindDoc(t *testing.T) {
	file := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: x\n" + // lines 1-5
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n" + // 7-10
		"---\napiVersion: example.com/v1\nkind: ConfigMap\nmetadata:\n  name: b\n" + // 12-15
		"---\n# only a comment\n"
	chunks := splitDocs(file)
	tests := []struct {
		name string
		o    Object
		line int
		want int
	}{
		{"namespace given in the file", Object{APIVersion: "v1", Kind: "ConfigMap", Namespace: "x", Name: "a"}, 1, 0},
		{"line picks the twin without a namespace", Object{APIVersion: "v1", Kind: "ConfigMap", Namespace: "x", Name: "a"}, 7, 1},
		{"other namespace matches only the defaulted one", Object{APIVersion: "v1", Kind: "ConfigMap", Namespace: "y", Name: "a"}, 1, 1},
		{"group must match", Object{APIVersion: "v1", Kind: "ConfigMap", Namespace: "x", Name: "b"}, 12, -1},
		{"another version of the group matches", Object{APIVersion: "example.com/v2", Kind: "ConfigMap", Namespace: "x", Name: "b"}, 0, 2},
		{"kind must match", Object{APIVersion: "v1", Kind: "Secret", Namespace: "x", Name: "a"}, 1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := findDoc(chunks, tc.o, tc.line); got != tc.want {
				t.Errorf("findDoc = %d, want %d", got, tc.want)
			}
		})
	}
}

// What cannot be written is said in Skipped, not dropped: an object with
// no source file, one no document holds. Drift the files already hold
// changes nothing.
func TestSkippedAndNoOp(t *testing.T) {
	root := repo(t, map[string]string{"apps/web/web.yaml": webYAML})
	same := drift(t, root, webApp, "ConfigMap", "web-config", func(*unstructured.Unstructured) {})
	res := write(t, root, config.Repo{}, webApp, same)
	if !res.Empty() || len(res.Skipped) != 0 {
		t.Errorf("drift equal to Git gave %+v, want no change", res)
	}
	noSource := same
	noSource.Source = render.Source{}
	noSource.Accepted = map[string]any{"kind": "ConfigMap"}
	gone := same
	gone.Name = "not-in-the-file"
	gone.Accepted = map[string]any{"kind": "ConfigMap"}
	res = write(t, root, config.Repo{}, webApp, noSource, gone)
	if !res.Empty() || len(res.Skipped) != 2 ||
		!strings.Contains(res.Skipped[0], "ConfigMap shop/web-config: render gave no source file") ||
		!strings.Contains(res.Skipped[1], "ConfigMap shop/not-in-the-file: no document in apps/web/web.yaml holds it") {
		t.Errorf("Skipped = %q, want both objects named with the reason", res.Skipped)
	}
}

// TestDecryptedSecretNeverRewritten: a Secret decrypted from a SOPS file
// whose labels drifted is skipped, naming the file: rewriting the file
// would break its MAC and every later render.
func TestDecryptedSecretNeverRewritten(t *testing.T) {
	const secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: shop\nstringData:\n  password: ENC-stands-in\n"
	root := repo(t, map[string]string{"apps/web/secret.yaml": secret})
	o := drift(t, root, webApp, "Secret", "creds", func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"team": "x"}) })
	if res := write(t, root, config.Repo{}, webApp, o); res.Empty() {
		t.Fatal("a plain Secret's label drift wrote nothing: the test cannot tell a skip")
	}
	o.Source.Decrypted = true
	res := write(t, root, config.Repo{}, webApp, o)
	if !res.Empty() || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0], "SOPS-encrypted in Git (apps/web/secret.yaml)") {
		t.Errorf("result %+v, want the encrypted file left alone and named", res)
	}
}
