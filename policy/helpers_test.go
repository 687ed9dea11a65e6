package policy

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// writeFiles writes name -> content under a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// obj parses one YAML object.
func obj(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

// load loads one set from files, failing the test on error.
func load(t *testing.T, src Source, files map[string]string) *Engine {
	t.Helper()
	src.Dir = writeFiles(t, files)
	if src.Prefix == "" {
		src.Prefix = "policy"
	}
	if src.Name == "" {
		src.Name = "test"
	}
	e, err := Load(context.Background(), []Source{src})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return e
}

// brief is the part of a finding that tests compare.
type brief struct {
	Object   string
	Rule     string
	Severity Severity
	Message  string
}

func briefs(fs []Finding) []brief {
	out := []brief{}
	for _, f := range fs {
		name := f.Kind + " " + f.Name
		if f.Namespace != "" {
			name = f.Kind + " " + f.Namespace + "/" + f.Name
		}
		out = append(out, brief{Object: name, Rule: f.Rule, Severity: f.Severity, Message: f.Message})
	}
	return out
}
