package render

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/config"
)

// FuzzPlainYAML renders one arbitrary file as a plain-YAML app: it never
// panics, stays within small limits, and every error names the app's
// file.
func FuzzPlainYAML(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: {name: b}\n",
		aliasBomb(),
		deepNesting(100),
		"---\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: !!binary aGVsbG8=}\n",
		"a: &a {b: *a}\n",
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"j\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root := t.TempDir()
		writeFile(t, root, "app/f.yaml", string(data))
		r := Renderer{Limits: Limits{MaxFileBytes: 1 << 20, MaxNodes: 20_000, MaxDepth: 32, MaxObjects: 500, Timeout: 10 * time.Second}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, _, err := r.Render(ctx, root, config.App{Name: "fuzz", Path: "app"})
		if err == nil {
			return
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("render of %d bytes ran past its time limit", len(data))
		}
		for _, e := range AsErrors(err) {
			if e.File != "app/f.yaml" {
				t.Errorf("error %q names %q, want app/f.yaml", e.Error(), e.File)
			}
			if strings.Contains(e.Msg, root) {
				t.Errorf("error shows the checkout's location: %v", e)
			}
		}
		if len(AsErrors(err)) == 0 {
			t.Errorf("error %v is not located", err)
		}
	})
}
