package bot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/policy"
)

// starterPack on puts the pack among the trusted sets every plan loads;
// an unknown excluded rule stops the server from starting.
func TestServerStarterPackSetting(t *testing.T) {
	sim := githubsim.New(githubsim.Options{T: t, AppSlug: "gantry"}).Start()
	dir := t.TempDir()
	key, secret := filepath.Join(dir, "key.pem"), filepath.Join(dir, "secret")
	if err := os.WriteFile(key, sim.AppPrivateKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte("s"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := func(sp config.StarterPack) *config.Server {
		return &config.Server{File: "gantry.yaml", StarterPack: sp,
			GitHub: config.GitHub{URL: sim.URL() + "/api/v3/", AppID: sim.AppID(), PrivateKeyFile: key, WebhookSecretFile: secret}}
	}
	off, err := NewServer(context.Background(), cfg(config.StarterPack{}), ServerOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(off.pipe.Trusted) != 0 {
		t.Errorf("pack off: trusted sets %+v, want none", off.pipe.Trusted)
	}
	on, err := NewServer(context.Background(), cfg(config.StarterPack{Enabled: true, Exclude: []string{"probes"}}), ServerOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Load(context.Background(), on.pipe.Trusted)
	if err != nil {
		t.Fatal(err)
	}
	deploy := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "web"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "app", "image": "nginx:latest"}}}}}}}
	r, err := e.Evaluate(context.Background(), policy.Input{Objects: []policy.Object{{Obj: deploy, App: "web"}}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range r.Findings {
		if f.Set != config.StarterPackSet {
			t.Errorf("finding of set %q", f.Set)
		}
		ids = append(ids, f.Metadata["id"].(string))
	}
	if !strings.Contains(strings.Join(ids, " "), "image-pinned") || strings.Contains(strings.Join(ids, " "), "probes") {
		t.Errorf("rules found %v: want image-pinned, and not the excluded probes", ids)
	}
	_, err = NewServer(context.Background(), cfg(config.StarterPack{Enabled: true, Exclude: []string{"probs"}}), ServerOptions{CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `gantry.yaml: starterPack: starter pack: exclude: "probs" is not a rule`) {
		t.Errorf("unknown excluded rule: %v", err)
	}
}
