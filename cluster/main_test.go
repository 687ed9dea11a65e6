package cluster

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/localcluster"
)

var cluster *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(localcluster.Main(m, localcluster.Options{Controllers: true}, &cluster))
}

// testRepo is the repository identity of the tests that need one
// repository only.
const testRepo = "acme/gitops"

var appCount atomic.Int64

// newApp returns an app with a name of its own, defaulting to ns.
func newApp(ns string) config.App {
	return config.App{Name: fmt.Sprintf("app-%d", appCount.Add(1)), Namespace: ns}
}

// newClient returns a fresh Client, as a new process would build.
func newClient(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient(cluster.Config, DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// objects parses YAML documents separated by ---, with {{ns}} replaced.
func objects(t *testing.T, ns, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range strings.Split(strings.ReplaceAll(docs, "{{ns}}", ns), "\n---\n") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatalf("parse %q: %v", d, err)
		}
		out = append(out, u)
	}
	return out
}

// actions maps each object of a DiffSet to its action, or "error".
func actions(s *DiffSet) map[string]string {
	out := map[string]string{}
	for _, o := range s.Objects {
		a := string(o.Action)
		if o.Error != "" {
			a = "error"
		}
		out[o.Object.String()] = a
	}
	return out
}

// changes maps each object of a ChangeSet to its outcome.
func changes(s *ChangeSet) map[string]string {
	out := map[string]string{}
	for _, o := range s.Objects {
		out[o.Object.String()] = string(o.Action)
	}
	return out
}

func find(s *DiffSet, ref string) ObjectDiff {
	for _, o := range s.Objects {
		if o.Object.String() == ref {
			return o
		}
	}
	return ObjectDiff{}
}
