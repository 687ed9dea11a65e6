package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// benchPolicies are conftest-style policies, as a team would write them.
var benchPolicies = map[string]string{
	"security.rego": `package main

deny_run_as_root contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s must not run as root", [input.metadata.name])
}

deny_privileged contains msg if {
	input.kind == "Deployment"
	some c in input.spec.template.spec.containers
	c.securityContext.privileged
	msg := sprintf("container %s of %s is privileged", [c.name, input.metadata.name])
}

deny_host_network contains msg if {
	input.spec.template.spec.hostNetwork
	msg := sprintf("%s %s uses the host network", [input.kind, input.metadata.name])
}
`,
	"labels.rego": `package main

deny_selector contains msg if {
	input.kind == "Deployment"
	not input.spec.selector.matchLabels.app
	msg := sprintf("Deployment %s must select pods by an app label", [input.metadata.name])
}

warn_owner contains msg if {
	not input.metadata.labels.owner
	msg := sprintf("%s %s has no owner label", [input.kind, input.metadata.name])
}
`,
	"images.rego": `package main

warn_latest contains msg if {
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses a latest tag", [c.name])
}

deny_limits contains msg if {
	some c in input.spec.template.spec.containers
	not c.resources.limits.memory
	msg := sprintf("container %s has no memory limit", [c.name])
}

deny_registry contains msg if {
	some c in input.spec.template.spec.containers
	not startswith(c.image, "ghcr.io/acme/")
	msg := sprintf("image %s is not from ghcr.io/acme", [c.image])
}
`,
	"services.rego": `package main

warn_nodeport contains msg if {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("Service %s is a NodePort", [input.metadata.name])
}

deny_configmap_size contains msg if {
	input.kind == "ConfigMap"
	count(json.marshal(input.data)) > 1024
	msg := sprintf("ConfigMap %s is larger than 1KiB", [input.metadata.name])
}

exception contains rules if {
	startswith(input.metadata.name, "legacy-")
	rules := ["registry", "limits"]
}
`,
}

// benchObjects returns n objects: two thirds Deployments, one sixth each
// Services and ConfigMaps, with a share of violations.
func benchObjects(n int) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, n)
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		if i%50 == 0 {
			name = "legacy-" + name
		}
		meta := map[string]any{"name": name, "namespace": fmt.Sprintf("team-%d", i%7), "labels": map[string]any{"app": name}}
		if i%3 != 0 {
			meta["labels"].(map[string]any)["owner"] = "team-a"
		}
		var obj map[string]any
		switch i % 6 {
		case 4:
			typ := "ClusterIP"
			if i%24 == 4 {
				typ = "NodePort"
			}
			obj = map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta,
				"spec": map[string]any{"type": typ, "selector": map[string]any{"app": name},
					"ports": []any{map[string]any{"port": int64(80), "targetPort": int64(8080)}}}}
		case 5:
			data := map[string]any{"config.yaml": strings.Repeat("key: value\n", 10+i%200)}
			obj = map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
		default:
			image := fmt.Sprintf("ghcr.io/acme/%s:1.%d.0", name, i%10)
			if i%17 == 0 {
				image = "docker.io/library/nginx:latest"
			}
			container := map[string]any{
				"name": "app", "image": image,
				"ports": []any{map[string]any{"containerPort": int64(8080)}},
				"env":   []any{map[string]any{"name": "MODE", "value": "prod"}},
			}
			if i%5 != 0 {
				container["resources"] = map[string]any{"limits": map[string]any{"memory": "128Mi", "cpu": "500m"}}
			}
			if i%41 == 0 {
				container["securityContext"] = map[string]any{"privileged": true}
			}
			podSpec := map[string]any{"containers": []any{container, map[string]any{
				"name": "sidecar", "image": "ghcr.io/acme/proxy:2.1.0",
				"resources": map[string]any{"limits": map[string]any{"memory": "64Mi"}},
			}}}
			if i%4 != 0 {
				podSpec["securityContext"] = map[string]any{"runAsNonRoot": true}
			}
			selector := map[string]any{"app": name}
			if i%13 == 0 {
				selector = map[string]any{"tier": "web"}
			}
			obj = map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
				"spec": map[string]any{"replicas": int64(2), "selector": map[string]any{"matchLabels": selector},
					"template": map[string]any{"metadata": map[string]any{"labels": selector}, "spec": podSpec}}}
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out
}

func benchEngine(b testing.TB, dir string) *Engine {
	e, err := Load(context.Background(), []Source{{Name: "bench", Dir: dir, Trust: Repository}})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkEvaluate1500 evaluates 1,500 objects per op against the
// conftest-style policies, loaded once.
func BenchmarkEvaluate1500(b *testing.B) {
	dir := b.TempDir()
	for name, text := range benchPolicies {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	e := benchEngine(b, dir)
	var in Input
	for _, u := range benchObjects(1500) {
		in.Objects = append(in.Objects, Object{Obj: u, App: "bench"})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Evaluate(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDir is $GANTRY_BENCH_DIR (hack/bench-policy.sh sets it), else a
// fresh directory holding the fixture, so the bench's tests also run, and
// check their results, in every test run.
func benchDir(t *testing.T) string {
	if dir := os.Getenv("GANTRY_BENCH_DIR"); dir != "" {
		return dir
	}
	dir := t.TempDir()
	writeBenchFixture(t, dir)
	return dir
}

// TestWriteBenchFixture writes the benchmark's policies and objects (150
// files of 10 documents) under $GANTRY_BENCH_DIR for hack/bench-policy.sh.
func TestWriteBenchFixture(t *testing.T) {
	dir := benchDir(t)
	writeBenchFixture(t, dir)
	files, err := filepath.Glob(filepath.Join(dir, "objects", "*.yaml"))
	if err != nil || len(files) != 150 {
		t.Fatalf("%d object files (%v), want 150", len(files), err)
	}
}

func writeBenchFixture(t *testing.T, dir string) {
	t.Helper()
	for _, d := range []string{"policy", "objects"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, text := range benchPolicies {
		if err := os.WriteFile(filepath.Join(dir, "policy", name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	objs := benchObjects(1500)
	for f := 0; f < len(objs); f += 10 {
		var b strings.Builder
		for _, u := range objs[f:min(f+10, len(objs))] {
			js, err := u.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("---\n")
			b.Write(js) // JSON is YAML
			b.WriteString("\n")
		}
		if err := os.WriteFile(filepath.Join(dir, "objects", fmt.Sprintf("app-%03d.yaml", f/10)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBenchEndToEnd is gantry's side of hack/bench-policy.sh: read the
// fixture's files, load the policies and evaluate, as conftest test does.
func TestBenchEndToEnd(t *testing.T) {
	dir := benchDir(t)
	start := time.Now()
	e := benchEngine(t, filepath.Join(dir, "policy"))
	loaded := time.Now()
	files, err := filepath.Glob(filepath.Join(dir, "objects", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var in Input
	for _, f := range files {
		objs, err := readBenchFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range objs {
			in.Objects = append(in.Objects, Object{Obj: u, File: f})
		}
	}
	parsed := time.Now()
	res, err := e.Evaluate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load %s, parse %s, evaluate %s", loaded.Sub(start), parsed.Sub(loaded), time.Since(parsed))
	t.Logf("bench: %d objects, %d failures, %d warnings, %d exceptions", len(in.Objects), res.Denies(), res.Warnings(), res.Exceptions)
	// conftest test reports exactly these on the same files.
	if len(in.Objects) != 1500 || res.Denies() != 743 || res.Warnings() != 622 {
		t.Errorf("%d objects, %d denies, %d warnings; conftest finds 1500, 743 and 622", len(in.Objects), res.Denies(), res.Warnings())
	}
}

// readBenchFile reads a multi-document YAML file. Documents in JSON flow
// style (what the fixture holds, and valid YAML) take encoding/json's fast
// path; others go through the YAML decoder.
func readBenchFile(path string) ([]*unstructured.Unstructured, error) {
	bs, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for doc := range strings.SplitSeq(string(bs), "\n---\n") {
		doc = strings.TrimSpace(strings.TrimPrefix(doc, "---\n"))
		if doc == "" {
			continue
		}
		m := map[string]any{}
		if strings.HasPrefix(doc, "{") {
			err = json.Unmarshal([]byte(doc), &m)
		} else {
			err = utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096).Decode(&m)
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}
