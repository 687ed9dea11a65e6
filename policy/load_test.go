package policy

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestRepositoryPolicyReadsAreConfined puts a symlink out of the checkout,
// a symlink to /dev/zero and a FIFO where a repository policy set has a
// .rego file and a data file: loading fails at once, naming the file by
// its repository path, never showing the target's content.
func TestRepositoryPolicyReadsAreConfined(t *testing.T) {
	const secret = "package main\n# SECRET-b7d1e0-never-shown\ndeny contains \"x\" if { true }\n"
	outside := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(outside, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]func(t *testing.T, p string){
		"symlink outside":      func(t *testing.T, p string) { linkTo(t, outside, p) },
		"symlink to /dev/zero": func(t *testing.T, p string) { linkTo(t, "/dev/zero", p) },
		"fifo": func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for _, file := range []string{"evil.rego", "data.yaml"} {
		for kind, make := range kinds {
			t.Run(file+"/"+kind, func(t *testing.T) {
				root := writeFiles(t, map[string]string{"policy/ok.rego": "package main\n"})
				make(t, filepath.Join(root, "policy", file))
				src, err := RepoSource(root, "policy", nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = Load(t.Context(), []Source{src})
				if err == nil {
					t.Fatal("Load accepted the set")
				}
				if msg := err.Error(); !strings.Contains(msg, "policy/"+file) || strings.Contains(msg, "SECRET") ||
					strings.Contains(msg, outside) || strings.Contains(msg, root) {
					t.Errorf("Load = %v, want it to name policy/%s and nothing outside", err, file)
				}
			})
		}
	}
	t.Run("policy directory is a symlink outside", func(t *testing.T) {
		root := writeFiles(t, map[string]string{"README": ""})
		linkTo(t, filepath.Dir(outside), filepath.Join(root, "policy"))
		src, err := RepoSource(root, "policy", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(t.Context(), []Source{src}); err == nil || !strings.Contains(err.Error(), "leads outside") {
			t.Errorf("Load = %v, want a refusal of the policy directory", err)
		}
	})
}

// TestTrustedSetFollowsLinksInsideIt loads a server set laid out as a
// Kubernetes ConfigMap mount: files are symlinks into a hidden directory.
func TestTrustedSetFollowsLinksInsideIt(t *testing.T) {
	dir := writeFiles(t, map[string]string{"..data/deny.rego": "package main\n\ndeny contains \"no\" if { input.kind == \"Pod\" }\n"})
	linkTo(t, "..data/deny.rego", filepath.Join(dir, "deny.rego"))
	f, err := readSource(Source{Name: "server", Dir: dir, Prefix: "server"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.modules["server/deny.rego"]; !ok || len(f.modules) != 1 {
		t.Errorf("modules %v, want server/deny.rego only (hidden ..data skipped, its link followed)", f.modules)
	}
}

func linkTo(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
