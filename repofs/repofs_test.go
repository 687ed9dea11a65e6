package repofs

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// secret is what a file outside the checkout holds; no error may show it.
const secret = "TOKEN-5f1c9e-never-shown"

// checkout makes a repository with files, a secret file outside it, and
// the hostile entries every reader meets.
func checkout(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "repo"), filepath.Join(base, "outside")
	for p, c := range map[string]string{
		"repo/a.yaml":         "a: 1\n",
		"repo/dir/b.yaml":     "b: 2\n",
		"repo/dir/sub/c.yaml": "c: 3\n",
		"outside/token":       secret,
	} {
		full := filepath.Join(base, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"secret.yaml": filepath.Join(outside, "token"),
		"relsecret":   "../outside/token",
		"zero.yaml":   "/dev/zero",
		"outdir":      outside,
		"inlink.yaml": "dir/b.yaml",
		"indir":       "dir/sub",
		"loop":        "loop",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	return root, outside
}

func open(t *testing.T, root string, lim Limits) *FS {
	t.Helper()
	f, err := Open(t.Context(), root, lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestReadFileRefusesWhatIsNotARegularFileInside(t *testing.T) {
	root, outside := checkout(t)
	f := open(t, root, Limits{MaxFileBytes: 64, MaxTotalBytes: 1 << 20})
	tests := []struct {
		name, wantPath string
		want           error
	}{
		{"secret.yaml", "secret.yaml", ErrOutside},
		{"relsecret", "relsecret", ErrOutside},
		{"zero.yaml", "zero.yaml", ErrOutside},
		{"fifo.yaml", "fifo.yaml", ErrNotRegular},
		{"outdir/token", "outdir/token", ErrOutside},
		{"../outside/token", "../outside/token", ErrOutside},
		{filepath.Join(outside, "token"), filepath.ToSlash(filepath.Join(outside, "token")), ErrOutside},
		{"dir", "dir", ErrNotRegular},
		{"missing.yaml", "missing.yaml", fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := f.ReadFile(tt.name)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ReadFile(%s) = %q, %v; want %v", tt.name, data, err, tt.want)
			}
			var pe *PathError
			if !errors.As(err, &pe) || pe.Path != tt.wantPath {
				t.Errorf("error %v names %+v, want path %s", err, pe, tt.wantPath)
			}
			if strings.Contains(err.Error(), secret) || (strings.Contains(err.Error(), outside) && tt.want != ErrOutside) {
				t.Errorf("error discloses the outside: %v", err)
			}
		})
	}
	t.Run("symlink loop", func(t *testing.T) {
		if _, err := f.ReadFile("loop"); err == nil || !strings.Contains(err.Error(), "loop") {
			t.Errorf("ReadFile(loop) = %v, want a resolution error", err)
		}
	})
	t.Run("symlink inside is followed", func(t *testing.T) {
		data, err := f.ReadFile("inlink.yaml")
		if err != nil || string(data) != "b: 2\n" {
			t.Errorf("ReadFile(inlink.yaml) = %q, %v", data, err)
		}
	})
}

func TestSymlinkTargetIsNeverNamed(t *testing.T) {
	root, outside := checkout(t)
	f := open(t, root, Limits{})
	for _, name := range []string{"secret.yaml", "outdir", "zero.yaml"} {
		_, err := f.ReadFile(name)
		if err == nil || strings.Contains(err.Error(), outside) || strings.Contains(err.Error(), "/dev/zero") {
			t.Errorf("ReadFile(%s) = %v, want a refusal that does not name the target", name, err)
		}
	}
}

func TestLimits(t *testing.T) {
	root, _ := checkout(t)
	t.Run("per file", func(t *testing.T) {
		f := open(t, root, Limits{MaxFileBytes: 4})
		if _, err := f.ReadFile("a.yaml"); !errors.Is(err, ErrTooLarge) {
			t.Errorf("ReadFile of 5 bytes with a 4-byte cap = %v, want ErrTooLarge", err)
		}
	})
	t.Run("total", func(t *testing.T) {
		f := open(t, root, Limits{MaxTotalBytes: 12})
		if _, err := f.ReadFile("a.yaml"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.ReadFile("dir/b.yaml"); err != nil {
			t.Fatal(err)
		}
		_, err := f.ReadFile("dir/sub/c.yaml")
		var pe *PathError
		if !errors.Is(err, ErrBudget) || !errors.As(err, &pe) || pe.Path != "dir/sub/c.yaml" {
			t.Errorf("third read past a 12-byte budget = %v, want ErrBudget on dir/sub/c.yaml", err)
		}
	})
	t.Run("charge", func(t *testing.T) {
		f := open(t, root, Limits{MaxTotalBytes: 10})
		if err := f.Charge("out.yaml", 11); !errors.Is(err, ErrBudget) {
			t.Errorf("Charge past the budget = %v, want ErrBudget", err)
		}
	})
}

func TestCancelled(t *testing.T) {
	root, _ := checkout(t)
	ctx, cancel := context.WithCancel(t.Context())
	f, err := Open(ctx, root, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cancel()
	if _, err := f.ReadFile("a.yaml"); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadFile after cancel = %v, want context.Canceled", err)
	}
}

func TestStatExistsIsDir(t *testing.T) {
	root, _ := checkout(t)
	f := open(t, root, Limits{})
	tests := []struct {
		name           string
		exists, isDir  bool
		isFile         bool
		resolvedTarget string
	}{
		{"a.yaml", true, false, true, "a.yaml"},
		{"dir", true, true, false, "dir"},
		{"indir", true, true, false, "dir/sub"},
		{"inlink.yaml", true, false, true, "dir/b.yaml"},
		{"outdir", false, false, false, ""},
		{"secret.yaml", false, false, false, ""},
		{"fifo.yaml", true, false, false, "fifo.yaml"},
		{"nope", false, false, false, ""},
		{"..", false, false, false, ""},
	}
	for _, tt := range tests {
		got := []bool{f.Exists(tt.name), f.IsDir(tt.name), f.IsFile(tt.name)}
		if diff := cmp.Diff([]bool{tt.exists, tt.isDir, tt.isFile}, got); diff != "" {
			t.Errorf("%s: Exists, IsDir, IsFile (-want +got):\n%s", tt.name, diff)
		}
		target, _ := f.Resolve(tt.name)
		if target != tt.resolvedTarget {
			t.Errorf("Resolve(%s) = %q, want %q", tt.name, target, tt.resolvedTarget)
		}
	}
}

func TestWalkDir(t *testing.T) {
	root, _ := checkout(t)
	f := open(t, root, Limits{})
	var visited, refused []string
	err := f.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			refused = append(refused, p)
			return nil
		}
		if d.IsDir() {
			p += "/"
		}
		visited = append(visited, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantVisited := []string{"./", "a.yaml", "dir/", "dir/b.yaml", "dir/sub/", "dir/sub/c.yaml", "fifo.yaml", "inlink.yaml"}
	if diff := cmp.Diff(wantVisited, visited); diff != "" {
		t.Errorf("visited (-want +got):\n%s", diff)
	}
	// indir leads to dir/sub, already entered; loop cannot be resolved.
	wantRefused := []string{"loop", "outdir", "relsecret", "secret.yaml", "zero.yaml"}
	if diff := cmp.Diff(wantRefused, refused); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
}

func TestRelAbs(t *testing.T) {
	root, _ := checkout(t)
	f := open(t, root, Limits{})
	if rel, ok := f.Rel(f.Abs("dir/b.yaml")); !ok || rel != "dir/b.yaml" {
		t.Errorf("Rel(Abs(dir/b.yaml)) = %q, %v", rel, ok)
	}
	if _, ok := f.Rel("/etc/passwd"); ok {
		t.Error("Rel(/etc/passwd) is inside the root")
	}
	if _, ok := f.Rel("dir/../../x"); ok {
		t.Error("Rel(dir/../../x) is inside the root")
	}
}
