package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseServerSOPS: key files resolve against the configuration's
// directory, every matching entry's keys are a repository's, and bad
// entries are refused by file, line and field.
func TestParseServerSOPS(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"key.pem", "secret", "acme.agekey", "all.agekey"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const head = "github: {appID: 3, privateKeyFile: key.pem, webhookSecretFile: secret}\nclusters: [{name: only, inCluster: true}]\n"
	s, err := ParseServer("s.yaml", []byte(head+"sops:\n  - {match: [Acme/*], ageKeyFile: acme.agekey}\n  - {match: [\"*/*\"], ageKeyFile: all.agekey}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		repo string
		want []string
	}{
		{"acme/gitops", []string{filepath.Join(dir, "acme.agekey"), filepath.Join(dir, "all.agekey")}},
		{"other/gitops", []string{filepath.Join(dir, "all.agekey")}},
	} {
		if d := cmp.Diff(tc.want, s.SOPSKeyFiles(tc.repo)); d != "" {
			t.Errorf("SOPSKeyFiles(%s) (-want +got):\n%s", tc.repo, d)
		}
	}

	_, err = ParseServer("s.yaml", []byte(head+"sops:\n  - {ageKeyFile: nokey}\n  - {match: [acme], ageKeyFile: acme.agekey}\n  - {match: [acme/x]}\n"), dir)
	for _, want := range []string{
		"s.yaml:4:18: sops[0].ageKeyFile: " + filepath.Join(dir, "nokey") + ": no such file or directory",
		"sops[0].match: missing",
		`sops[1].match[0]: "acme" must be an owner/name glob`,
		"sops[2].ageKeyFile: missing",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}
