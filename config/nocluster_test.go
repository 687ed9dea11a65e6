package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoClusterIsReserved: an app may target no cluster (`cluster: none`,
// validated offline), a cluster may not be named so, and a misspelt
// cluster is still refused.
func TestNoClusterIsReserved(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const gh = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\n"
	_, err := ParseServer("server.yaml", []byte(gh+"clusters: [{name: none, inCluster: true}]\n"), dir)
	if err == nil || !strings.Contains(err.Error(), `server.yaml:2:19: clusters[0].name: "none" is reserved`) {
		t.Errorf("a cluster named none: %v", err)
	}
	srv, err := ParseServer("server.yaml", []byte(gh+"clusters: [{name: prod, inCluster: true}]\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := ParseRepo(".gantry.yaml", []byte("version: 1\napps:\n  - {name: docs, path: docs, cluster: none}\n  - {name: web, path: web}\n"), srv)
	if err != nil {
		t.Fatalf("cluster: none refused: %v", err)
	}
	if repo.Apps[0].Cluster != NoCluster || repo.Apps[1].Cluster != "prod" {
		t.Errorf("clusters %q, %q; want none and the default", repo.Apps[0].Cluster, repo.Apps[1].Cluster)
	}
	if _, err := ParseRepo(".gantry.yaml", []byte("version: 1\napps:\n  - {name: docs, path: docs, cluster: nonе}\n"), srv); err == nil {
		t.Error("a cluster spelt with a Cyrillic e passed as none")
	}
}
