package render

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gantryops/gantry/config"
)

func TestRendererLimits(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"app/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
		"app/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: " + string(make([]byte, 0)) + "\"" + string(bytesOf('x', 2000)) + "\"\n",
	})
	app := config.App{Name: "t", Path: "app"}
	tests := []struct {
		name   string
		limits Limits
		want   []wantErr
	}{
		{"objects", Limits{MaxObjects: 2}, []wantErr{{"app", 0, "renders 3 objects, over the limit of 2", ErrLimit}}},
		{"file size", Limits{MaxFileBytes: 1000}, []wantErr{{"app/b.yaml", 0, "over the limit of 1000", ErrLimit}}},
		{"app size", Limits{MaxAppBytes: 500}, []wantErr{{"app/b.yaml", 0, "more than 500 bytes in total", ErrLimit}}},
		{"depth", Limits{MaxDepth: 1}, []wantErr{{"app/a.yaml", 4, "nests deeper than 1 levels", ErrLimit}, {"app/b.yaml", 4, "nests deeper than 1 levels", ErrLimit}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Renderer{Limits: tt.limits}
			_, _, err := r.Render(t.Context(), root, app)
			checkErrors(t, "t", err, tt.want)
		})
	}
}

func bytesOf(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestRenderCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range []string{"plain", "web-prod", "shop"} {
		t.Run(name, func(t *testing.T) {
			_, _, err := Render(ctx, testRepo, loadApp(t, testRepo, name))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Render with a cancelled context = %v, want context.Canceled", err)
			}
		})
	}
}

func TestRenderScope(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"app/issuer.yaml": "apiVersion: cert-manager.io/v1\nkind: ClusterIssuer\nmetadata:\n  name: letsencrypt\n",
		"app/cert.yaml":   "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: web\n",
		"app/role.yaml":   "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: r\n  namespace: wrong\n",
	})
	r := Renderer{Scope: func(gk schema.GroupKind) (bool, bool) {
		if gk.Kind == "ClusterIssuer" {
			return false, true
		}
		return false, false
	}}
	objs, _, err := r.Render(t.Context(), root, config.App{Name: "t", Path: "app", Namespace: "web"})
	if err != nil {
		t.Fatal(err)
	}
	got := keys(objs)
	want := []string{
		"cert-manager.io/v1 Certificate web/web",
		"cert-manager.io/v1 ClusterIssuer letsencrypt",
		"rbac.authorization.k8s.io/v1 ClusterRole r",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("namespaces (-want +got):\n%s", diff)
	}
}
