package driftwrite

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// repo writes files into a new checkout and returns its root.
func repo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// rendered renders app with the real renderer, as the drift flow does.
func rendered(t *testing.T, root string, app config.App) ([]*unstructured.Unstructured, render.SourceMap) {
	t.Helper()
	objs, sm, err := render.Render(context.Background(), root, app)
	if err != nil {
		t.Fatalf("render %s: %v", app.Name, err)
	}
	return objs, sm
}

// drift builds the Object for kind/name of app's render, with Accepted
// made by mutate from a copy of Desired (nil mutate: deleted).
func drift(t *testing.T, root string, app config.App, kind, name string, mutate func(u *unstructured.Unstructured)) Object {
	t.Helper()
	objs, sm := rendered(t, root, app)
	for _, u := range objs {
		if u.GetKind() != kind || u.GetName() != name {
			continue
		}
		src, _ := sm.Of(u)
		o := Object{
			APIVersion: u.GetAPIVersion(), Kind: kind, Namespace: u.GetNamespace(), Name: name,
			Desired: runtime.DeepCopyJSON(u.Object), Source: src, Secret: kind == "Secret",
		}
		if mutate != nil {
			a := u.DeepCopy()
			mutate(a)
			o.Accepted = a.Object
		}
		return o
	}
	t.Fatalf("render of %s has no %s %s", app.Name, kind, name)
	return Object{}
}

// write runs Write and fails the test on an error.
func write(t *testing.T, root string, model config.Repo, app config.App, objs ...Object) *Result {
	t.Helper()
	res, err := Write(context.Background(), root, model, app, objs)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return res
}

// commit applies a Result to the checkout, as the pushed commit would.
func commit(t *testing.T, root string, res *Result) {
	t.Helper()
	for p, c := range res.Files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, c, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range res.Deleted {
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Fatal(err)
		}
	}
}

// rendersAccepted checks that, after the edit, the app renders every
// drifted object as accepted and no deleted one at all: the point of the
// drift pull request.
func rendersAccepted(t *testing.T, root string, model config.Repo, app config.App, objs ...Object) {
	t.Helper()
	if model.File != "" {
		m, err := config.LoadRepo(root, nil)
		if err != nil {
			t.Fatalf("load edited model: %v", err)
		}
		for _, a := range m.Apps {
			if a.Name == app.Name {
				app.Patches = a.Patches
			}
		}
	}
	after, _ := rendered(t, root, app)
	for _, o := range objs {
		var got map[string]any
		for _, u := range after {
			if u.GetKind() == o.Kind && u.GetName() == o.Name && u.GetNamespace() == o.Namespace {
				got = u.Object
			}
		}
		want := o.Accepted
		if o.Secret && want != nil {
			want = runtime.DeepCopyJSON(want)
			for _, k := range []string{"data", "stringData"} {
				if v, ok := o.Desired[k]; ok {
					want[k] = v
				} else {
					delete(want, k)
				}
			}
		}
		if diff := cmp.Diff(normalize(want), normalize(got)); diff != "" {
			t.Errorf("%s renders after the edit (-accepted +got):\n%s", o, diff)
		}
	}
}
