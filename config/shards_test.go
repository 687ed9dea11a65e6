package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShardsAndRenderIsolationAreChecked(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\n"
	one := "clusters: [{name: a, inCluster: true}]\n"
	for yaml, want := range map[string]string{
		one + "state: {shards: -1}\n":                                                              "s.yaml:3:17: state.shards: -1 is out of range",
		one + "state: {shards: 5000}\n":                                                            "state.shards: 5000 is out of range",
		one + "state: {shards: 4, leaderElection: {enabled: true}}\n":                              "state.leaderElection.enabled: shards replace leader election",
		"clusters: [{name: a, inCluster: true}, {name: b, inCluster: true}]\nstate: {shards: 4}\n": "state.shards: needs a state cluster",
		one + "render: {isolation: sandbox}\n":                                                     `render.isolation: "sandbox" is not one of none, process, sidecar`,
		one + "render: {isolation: sidecar}\n":                                                     "render.isolation: sidecar needs render.worker.socket",
		one + "render: {worker: {memoryMiB: 64}}\n":                                                "render.worker.memoryMiB: 64 is too small",
		one + "render: {worker: {cpu: 100ms}}\n":                                                   "render.worker.cpu: 100ms is too short",
		one + "render: {worker: {memory: 64}}\n":                                                   "memory",
	} {
		_, err := ParseServer("s.yaml", []byte(base+yaml), dir)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
	s, err := ParseServer("s.yaml", []byte(base+one+"state: {shards: 16}\nrender: {isolation: process, worker: {memoryMiB: 512, cpu: 10s}}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.State.Shards != 16 || s.Render.Isolation != RenderInWorker || s.Render.Worker.MemoryMiB != 512 || s.Render.Worker.CPU.D().String() != "10s" {
		t.Errorf("loaded state %+v render %+v", s.State, s.Render)
	}
}
