package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// imagesRepo is a repository whose only policy is in package k8s.images,
// which the default namespaces (main) never evaluate, with a test.
func imagesRepo(t *testing.T) string {
	t.Helper()
	repo := tree(t, map[string]string{
		".gantry.yaml":             "version: 1\napps:\n  - name: web\n    path: apps/web\npolicies:\n  paths: [policy]\n",
		"apps/web/cm.yaml":         cm,
		"policy/images.rego":       "package k8s.images\n\ndeny contains \"no ConfigMaps\" if input.kind == \"ConfigMap\"\n",
		"policy/images_test.rego":  "package k8s.images\n\ntest_denies if count(deny) == 1 with input as {\"kind\": \"ConfigMap\"}\n",
		"other/policy/main.rego":   "package main\n\ndeny contains \"x\" if false\n",
		"other/policy/x_test.rego": "package main\n\ntest_x if count(deny) == 0 with input as {}\n",
	})
	if err := os.Symlink("policy", filepath.Join(repo, "linked")); err != nil {
		t.Fatal(err)
	}
	return repo
}

func TestRenderWithNoAppsSaysWhereItLookedAndFails(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"no .gantry.yaml, nothing to discover", map[string]string{"README.md": "hi\n", "docs/cm.yaml": cm},
			[]string{"no apps in ", "there is no .gantry.yaml, and discovery found none", "kustomization or a Chart.yaml", "apps/ or clusters/", "--repo"}},
		{".gantry.yaml with policies only", map[string]string{".gantry.yaml": "version: 1\npolicies:\n  paths: [p]\n", "p/main.rego": "package main\n"},
			[]string{"no apps in ", ".gantry.yaml lists none", "add apps:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo := tree(t, tt.files)
			code, out, errOut := run(t, "render", "--repo", repo)
			if code != ExitError || out != "" {
				t.Errorf("exit %d with stdout %q, want %d and nothing", code, out, ExitError)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, errOut)
				}
			}
			if !strings.Contains(errOut, repo) {
				t.Errorf("stderr does not name the directory %s:\n%s", repo, errOut)
			}
		})
	}
}

func TestPolicyDirectoryGivenTwiceIsTestedOnce(t *testing.T) {
	repo := imagesRepo(t)
	p := filepath.Join(repo, "policy")
	code, out, errOut := run(t, "policy", "test", "--repo", repo, "--policy", p, "--policy", p+"/", "--policy", filepath.Join(repo, "linked"), "--policy", repo+"/other/../policy")
	if code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	if n := strings.Count(out, "PASS "); n != 1 || !strings.Contains(out, "1 passed") {
		t.Errorf("%d PASS lines, want the one test run once:\n%s", n, out)
	}
	// Three spellings on the command line and policies.paths in .gantry.yaml.
	if n := strings.Count(errOut, "is the same directory as --policy "+p); n != 4 {
		t.Errorf("%d notes of a duplicate, want 4:\n%s", n, errOut)
	}
	// A different directory is still its own set.
	code, out, _ = run(t, "policy", "test", "--repo", repo, "--policy", filepath.Join(repo, "other", "policy"))
	if code != ExitOK || strings.Count(out, "PASS ") != 2 {
		t.Errorf("exit %d, want 0 and two tests:\n%s", code, out)
	}
}

func TestPolicyInAPackageNeverEvaluatedIsAWarning(t *testing.T) {
	repo := imagesRepo(t)
	want := "gantry: warning: policy/images.rego:1: package k8s.images is never evaluated, so its rules (deny) never fire: only the packages main and gantry.* are; list it in policies.namespaces in .gantry.yaml"
	for _, args := range [][]string{{"policy", "--repo", repo}, {"policy", "test", "--repo", repo}} {
		code, out, errOut := run(t, args...)
		if code != ExitOK || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, want 0 and on stderr %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
		}
	}
	// Listed in the namespaces, it is evaluated and denies: no warning.
	if err := os.WriteFile(filepath.Join(repo, ".gantry.yaml"), []byte("version: 1\napps:\n  - name: web\n    path: apps/web\npolicies:\n  paths: [policy]\n  namespaces: [main, k8s.images]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "policy", "--repo", repo)
	if code != ExitFinding || strings.Contains(errOut, "warning") || !strings.Contains(out, "no ConfigMaps") {
		t.Errorf("exit %d, want 1 with the deny and no warning\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestExitCodesMatchHelp runs each command into each documented outcome
// it can reach without a cluster and checks that its --help lists that
// code; and that every command's --help lists its exit codes.
func TestExitCodesMatchHelp(t *testing.T) {
	good := tree(t, map[string]string{
		".gantry.yaml":        "version: 1\napps:\n  - name: web\n    path: apps/web\npolicies:\n  paths: [policy]\n",
		"apps/web/cm.yaml":    cm,
		"policy/main.rego":    "package main\n\ndeny contains \"no ConfigMaps\" if input.kind == \"ConfigMap\"\n",
		"policy/ok_test.rego": "package main\n\ntest_denies if count(deny) == 1 with input as {\"kind\": \"ConfigMap\"}\n",
	})
	failing := tree(t, map[string]string{
		".gantry.yaml":         "version: 1\napps:\n  - name: web\n    path: apps/web\npolicies:\n  paths: [policy]\n",
		"apps/web/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
		"policy/main.rego":     "package main\n\ndeny contains \"x\" if false\n",
		"policy/bad_test.rego": "package main\n\ntest_fails if count(deny) == 1 with input as {}\n",
	})
	empty := tree(t, map[string]string{"README.md": "hi\n"})
	badConfig := tree(t, map[string]string{".gantry.yaml": "version: 1\napps:\n  - name: web\n    pth: apps/web\n"})
	tests := []struct {
		why  string
		args []string
		code int
	}{
		{"rendered", []string{"render", "--repo", good}, ExitOK},
		{"render error", []string{"render", "--repo", failing}, ExitFinding},
		{"no apps", []string{"render", "--repo", empty}, ExitError},
		{"bad .gantry.yaml", []string{"render", "--repo", badConfig}, ExitError},
		{"unknown app", []string{"render", "--repo", good, "--app", "nope"}, ExitError},
		{"deny", []string{"policy", "--repo", good, "--app", "web"}, ExitFinding},
		{"render error", []string{"policy", "--repo", failing}, ExitError},
		{"no apps", []string{"policy", "--repo", empty, "--policy", filepath.Join(good, "policy")}, ExitError},
		{"passed", []string{"policy", "test", "--repo", good}, ExitOK},
		{"test failed", []string{"policy", "test", "--repo", failing}, ExitFinding},
		{"no policies", []string{"policy", "test", "--repo", empty}, ExitError},
		{"no apps", []string{"diff", "--repo", empty}, ExitError},
		{"render error", []string{"apply", "--repo", failing}, ExitError},
		{"bad .gantry.yaml", []string{"drift", "--repo", badConfig}, ExitError},
		{"missing flag", []string{"app-manifest"}, ExitError},
		{"always", []string{"version"}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s: %s exits %d", tt.args[0], tt.why, tt.code), func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			cmd := tt.args[:1]
			if len(tt.args) > 1 && tt.args[1] == "test" {
				cmd = tt.args[:2]
			}
			_, help, _ := run(t, append(cmd, "--help")...)
			if !strings.Contains(help, "\nExit codes:\n") || !strings.Contains(help, fmt.Sprintf("\n  %d  ", code)) {
				t.Errorf("gantry %s --help does not list exit code %d:\n%s", strings.Join(cmd, " "), code, help)
			}
		})
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if !strings.Contains(sub.Long, "\nExit codes:\n  0  ") {
				t.Errorf("gantry %s --help lists no exit codes", strings.TrimPrefix(sub.CommandPath(), "gantry "))
			}
			walk(sub)
		}
	}
	walk(newRoot(&strings.Builder{}, &strings.Builder{}))
}
