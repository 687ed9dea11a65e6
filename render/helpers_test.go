package render

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/config"
)

// testRepo is the real-world layouts repository under testdata.
const testRepo = "testdata/repo"

// loadApp reads one app from a repository's .gantry.yaml.
func loadApp(t *testing.T, root, name string) config.App {
	t.Helper()
	repo := loadRepo(t, root)
	for _, a := range repo.Apps {
		if a.Name == name {
			return a
		}
	}
	t.Fatalf("app %s not in %s/.gantry.yaml", name, root)
	return config.App{}
}

// loadRepo reads a repository's .gantry.yaml.
func loadRepo(t *testing.T, root string) config.Repo {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, config.RepoFileName))
	if err != nil {
		t.Fatal(err)
	}
	var repo config.Repo
	if err := yaml.Unmarshal(b, &repo); err != nil {
		t.Fatal(err)
	}
	return repo
}

// mustRender renders an app and fails the test on error.
func mustRender(t *testing.T, root string, app config.App) ([]*unstructured.Unstructured, SourceMap) {
	t.Helper()
	objs, sm, err := Render(context.Background(), root, app)
	if err != nil {
		t.Fatalf("Render(%s): %v", app.Name, err)
	}
	return objs, sm
}

// keys returns the objects' keys as strings, in order.
func keys(objs []*unstructured.Unstructured) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = KeyOf(o).String()
	}
	return out
}

// toYAML renders objects as one YAML stream.
func toYAML(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	var s string
	for _, o := range objs {
		b, err := sigsyaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		s += "---\n" + string(b)
	}
	return s
}

// writeFiles creates files (path -> content) under a new temporary
// directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
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

// writeFile writes one file under root.
func writeFile(t testing.TB, root, rel, content string) {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		writeFile(t, dst, filepath.ToSlash(rel), string(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
