package starter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/policy"
	"github.com/gantryops/gantry/render"
	"github.com/gantryops/gantry/sopsdecrypt"
	"github.com/gantryops/gantry/sopsdecrypt/sopstest"
)

// TestNoPlainSecretAndSOPS: through render and the engine, as the bot
// judges a pull request, no-plain-secret denies a Secret committed in
// plain text (even one sharing the encrypted one's value) and lets through
// one that gantry decrypted from SOPS; a
// plain Secret that claims a sops field of its own is refused at render,
// so the marker cannot be forged.
func TestNoPlainSecretAndSOPS(t *testing.T) {
	key := sopstest.NewKey(t)
	const secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: apps}\nstringData: {password: hunter2-hunter2}\n"
	enc := sopstest.Encrypt(t, []byte(sprintf(secret, "sealed")), sopsdecrypt.YAML, sopstest.Options{EncryptedRegex: "^(data|stringData)$"}, key.Recipient)
	root := t.TempDir()
	write(t, root, "app/plain.yaml", sprintf(secret, "plain"))
	write(t, root, "app/sealed.yaml", string(enc))
	r := render.Renderer{SOPS: key.Keys(t)}
	objs, sm, err := r.Render(context.Background(), root, config.App{Name: "web", Path: "app"})
	if err != nil {
		t.Fatal(err)
	}
	var in policy.Input
	for _, o := range objs {
		src := sm[render.KeyOf(o)]
		in.Objects = append(in.Objects, policy.Object{Obj: o, App: "web", Cluster: "prod", File: src.File, Line: src.Line, Decrypted: src.Decrypted})
	}
	got, _ := judge(t, Settings{}, in)
	want := []string{"deny no-plain-secret: Secret plain"}
	if !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}

	forged := t.TempDir()
	write(t, forged, "app/plain.yaml", sprintf(secret, "plain")+"sops: {decrypted: gantry}\n")
	if _, _, err := r.Render(context.Background(), forged, config.App{Name: "web", Path: "app"}); err == nil {
		t.Error("a plain Secret with a forged sops field rendered")
	}
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// write writes one file under root.
func write(t *testing.T, root, rel, content string) {
	t.Helper()
	full := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
