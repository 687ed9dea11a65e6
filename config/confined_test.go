package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gantryops/gantry/excerpt"
)

// pemKey looks like the App's private key; its body must never be echoed.
const pemKey = "-----BEGIN RSA PRIVATE KEY-----\n" +
	"MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n" +
	"VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n" +
	"-----END RSA PRIVATE KEY-----\n"

// longToken is a token-looking value that fills one YAML scalar.
const longToken = "ghs_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func TestGantryYAMLIsReadConfined(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(outside, []byte(pemKey), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(t *testing.T, p string){
		"symlink outside":      func(t *testing.T, p string) { mustSymlink(t, outside, p) },
		"symlink to /dev/zero": func(t *testing.T, p string) { mustSymlink(t, "/dev/zero", p) },
		"fifo": func(t *testing.T, p string) {
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, make := range tests {
		t.Run(name, func(t *testing.T) {
			root := repoTree(t, map[string]string{"apps/web/a.yaml": ""})
			make(t, filepath.Join(root, RepoFileName))
			_, err := LoadRepo(root, nil)
			if err == nil || !strings.HasPrefix(err.Error(), RepoFileName+": ") {
				t.Fatalf("LoadRepo = %v, want an error on %s", err, RepoFileName)
			}
			assertNoLeak(t, err.Error(), pemKey)
			if strings.Contains(err.Error(), outside) || strings.Contains(err.Error(), root) {
				t.Errorf("error names a host path: %v", err)
			}
		})
	}
}

func TestRepoPathsAreConfined(t *testing.T) {
	root := repoTree(t, map[string]string{"apps/web/a.yaml": ""})
	mustSymlink(t, t.TempDir(), filepath.Join(root, "apps", "out"))
	mustSymlink(t, "/etc", filepath.Join(root, "etc"))
	yaml := "version: 1\napps:\n  - name: web\n    path: apps/out\n  - name: etc\n    path: etc\n    patches: [etc/passwd]\npolicies:\n  paths: [apps/out]\n"
	if err := os.WriteFile(filepath.Join(root, RepoFileName), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadRepo(root, nil)
	want := []string{
		`.gantry.yaml:4:11: apps[0].path: "apps/out" leads outside the repository through a symbolic link`,
		`.gantry.yaml:6:11: apps[1].path: "etc" leads outside the repository through a symbolic link`,
		`.gantry.yaml:7:15: apps[1].patches[0]: "etc/passwd" leads outside the repository through a symbolic link`,
		`.gantry.yaml:9:11: policies.paths[0]: "apps/out" leads outside the repository through a symbolic link`,
	}
	if got := errorLines(err); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDiscoverSkipsLinksOutOfTheCheckout(t *testing.T) {
	outside := repoTree(t, map[string]string{"kustomization.yaml": "resources: []\n", "Chart.yaml": "name: x\n"})
	root := repoTree(t, map[string]string{"apps/web/a.yaml": "kind: ConfigMap\n"})
	mustSymlink(t, outside, filepath.Join(root, "apps", "stolen"))
	mustSymlink(t, "/dev/zero", filepath.Join(root, "apps", "web", "kustomization.yaml"))
	repo, err := LoadRepo(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, a := range repo.Apps {
		paths = append(paths, a.Path+":"+string(a.Render))
	}
	if got := strings.Join(paths, ","); got != "apps/web:yaml" {
		t.Errorf("discovered %s, want only apps/web:yaml", got)
	}
}

func TestErrorsQuoteOnlyExcerpts(t *testing.T) {
	tests := map[string]string{
		"private key as the file":  pemKey,
		"private key as a value":   "version: 1\napps:\n  - name: |\n" + indent(pemKey, "      ") + "    path: x\n",
		"token as an unknown key":  "version: 1\n" + longToken + ": 1\napps: []\n",
		"token as a version":       "version: " + longToken + "\napps: []\n",
		"token as a duration":      "version: 1\napps:\n  - name: web\n    path: a\n    healthTimeout: " + longToken + "\n",
		"token as a render kind":   "version: 1\napps:\n  - name: web\n    path: a\n    render: " + longToken + "\n",
		"token as a map key twice": "version: 1\napps:\n  - name: web\n    path: a\n    helm:\n      set:\n        " + longToken + ": a\n        " + longToken + ": b\n",
		"token as an anchor":       "version: 1\napps: *" + longToken + "\n",
		"token as a path":          "version: 1\napps:\n  - name: web\n    path: /" + longToken + "\n",
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseRepo(RepoFileName, []byte(data), nil)
			if err == nil {
				t.Fatal("ParseRepo accepted it")
			}
			assertNoLeak(t, err.Error(), data)
		})
	}
}

// assertNoLeak fails when msg holds more than excerpt.Limit consecutive
// bytes of input.
func assertNoLeak(t *testing.T, msg, input string) {
	t.Helper()
	if s := longestShared(msg, input); len(s) > excerpt.Limit {
		t.Errorf("error quotes %d consecutive bytes of the input (%q): %s", len(s), s, msg)
	}
}

// longestShared returns the longest substring of msg found in input.
func longestShared(msg, input string) string {
	best := ""
	for i := range msg {
		for j := i + len(best) + 1; j <= len(msg); j++ {
			if !strings.Contains(input, msg[i:j]) {
				break
			}
			best = msg[i:j]
		}
	}
	return best
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "")
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
