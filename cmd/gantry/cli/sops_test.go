package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gantryops/gantry/sopsdecrypt"
	"github.com/gantryops/gantry/sopsdecrypt/sopstest"
)

// TestRenderDecryptsWithAgeKeyFile: gantry render decrypts a SOPS Secret
// with --age-key-file (or $SOPS_AGE_KEY_FILE), and without a key fails
// naming the file, never printing a value; gantry policy with the starter
// pack does not call the decrypted Secret plain.
func TestRenderDecryptsWithAgeKeyFile(t *testing.T) {
	key := sopstest.NewKey(t)
	const value = "cli-pa55word-value"
	enc := sopstest.Encrypt(t, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: "+value+"}\n"),
		sopsdecrypt.YAML, sopstest.Options{EncryptedRegex: "^(data|stringData)$"}, key.Recipient)
	dir := tree(t, map[string]string{
		".gantry.yaml":         "version: 1\napps:\n  - name: web\n    path: apps/web\n    namespace: web\n",
		"apps/web/secret.yaml": string(enc),
	})
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(key.Identity), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, "render", "--repo", dir, "--age-key-file", keyFile)
	if code != 0 || !strings.Contains(out, "password: "+value) || strings.Contains(out, "sops") {
		t.Errorf("render with the key: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Setenv("SOPS_AGE_KEY_FILE", keyFile)
	if code, out, _ := run(t, "render", "--repo", dir); code != 0 || !strings.Contains(out, value) {
		t.Errorf("render with $SOPS_AGE_KEY_FILE: exit %d\n%s", code, out)
	}
	if code, out, errOut := run(t, "policy", "--repo", dir, "--starter-pack"); code != 0 || strings.Contains(out+errOut, "no-plain-secret") {
		t.Errorf("policy --starter-pack: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("SOPS_AGE_KEY_FILE", "")
	code, out, errOut = run(t, "render", "--repo", dir)
	if code == 0 || !strings.Contains(errOut, "apps/web/secret.yaml") || !strings.Contains(errOut, "no age key") || strings.Contains(out+errOut, value) {
		t.Errorf("render without a key: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}
