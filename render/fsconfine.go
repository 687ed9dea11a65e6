package render

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// repoFS is a read-only view of one repository checkout on disk. Every path
// is resolved (symlinks included) and refused unless it stays inside the
// root; reads are bounded per file and in total; a cancelled context stops
// every call. It implements Kustomize's filesys.FileSystem, and the Helm and
// plain-YAML renderers read through it too.
type repoFS struct {
	ctx  context.Context
	root string // absolute, symlinks resolved
	lim  Limits

	mu        sync.Mutex
	read      int64 // bytes read so far
	violation error // first refused access, reported over the library's own error
	// strict makes ReadFile decode every manifest it serves with the
	// strict decoder, so that libraries parsing on their own (Kustomize)
	// never see duplicate keys, alias bombs or absurd nesting.
	strict bool
}

var _ filesys.FileSystem = (*repoFS)(nil)

// newRepoFS opens a confined view of root.
func newRepoFS(ctx context.Context, root string, lim Limits) (*repoFS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve repository root %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("resolve repository root %s: %w", root, err)
	}
	return &repoFS{ctx: ctx, root: real, lim: lim}, nil
}

// rel returns the repository-relative, slash-separated form of an absolute
// path inside the root.
func (f *repoFS) rel(abs string) string {
	r, err := filepath.Rel(f.root, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(r)
}

// abs returns the absolute path of a repository-relative path.
func (f *repoFS) abs(rel string) string {
	return filepath.Join(f.root, filepath.FromSlash(rel))
}

// inside reports whether abs is the root or below it.
func (f *repoFS) inside(abs string) bool {
	return abs == f.root || strings.HasPrefix(abs, f.root+string(filepath.Separator))
}

// resolve returns the symlink-free absolute path of name, refusing paths
// that lead outside the root. A path that does not exist resolves to its
// cleaned absolute form with fs.ErrNotExist.
func (f *repoFS) resolve(name string) (string, error) {
	if err := f.ctx.Err(); err != nil {
		return "", err
	}
	abs := name
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(f.root, name)
	}
	abs = filepath.Clean(abs)
	if !f.inside(abs) {
		return "", f.refuse(name, "")
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return abs, err
		}
		return "", fmt.Errorf("resolve %s: %w", f.rel(abs), err)
	}
	if !f.inside(real) {
		return "", f.refuse(name, real)
	}
	return real, nil
}

// refuse records and returns an ErrOutsideRepo error for name.
func (f *repoFS) refuse(name, target string) error {
	var err *Error
	if target == "" {
		err = fileError(f.displayName(name), 0, ErrOutsideRepo, "path %s leads outside the repository", f.displayName(name))
	} else {
		// The target is not shown: it would disclose the bot's file system.
		err = fileError(f.displayName(name), 0, ErrOutsideRepo, "%s is a symlink that leads outside the repository", f.displayName(name))
	}
	f.record(err)
	return err
}

// record keeps the first refusal, to report it over the error a library
// makes of it.
func (f *repoFS) record(err error) {
	f.mu.Lock()
	if f.violation == nil {
		f.violation = err
	}
	f.mu.Unlock()
}

// displayName shows name relative to the root when it is inside.
func (f *repoFS) displayName(name string) string {
	if filepath.IsAbs(name) && f.inside(filepath.Clean(name)) {
		return f.rel(filepath.Clean(name))
	}
	return name
}

// Violation returns the first refused access, if any.
func (f *repoFS) Violation() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.violation
}

// ReadFile reads a confined file within the size limits.
func (f *repoFS) ReadFile(name string) ([]byte, error) {
	real, err := f.resolve(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("read %s: not a regular file: %w", f.rel(real), ErrInvalid)
	}
	if st.Size() > f.lim.MaxFileBytes {
		err := fmt.Errorf("read %s: file is %d bytes, over the limit of %d: %w",
			f.rel(real), st.Size(), f.lim.MaxFileBytes, ErrLimit)
		f.record(err)
		return nil, err
	}
	if err := f.charge(real, st.Size()); err != nil {
		f.record(err)
		return nil, err
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > f.lim.MaxFileBytes {
		return nil, fmt.Errorf("read %s: file grew past the limit of %d bytes: %w", f.rel(real), f.lim.MaxFileBytes, ErrLimit)
	}
	if f.strict && isManifest(real) {
		if _, err := decodeYAML(f.rel(real), b, f.lim); err != nil {
			f.record(err)
			return nil, err
		}
	}
	return b, nil
}

// charge counts n bytes against the app's budget.
func (f *repoFS) charge(real string, n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read += n
	if f.read > f.lim.MaxAppBytes {
		return fmt.Errorf("read %s: app reads more than %d bytes in total: %w", f.rel(real), f.lim.MaxAppBytes, ErrLimit)
	}
	return nil
}

// readOnly is the error of every write.
func readOnly(name string) error {
	return fmt.Errorf("write %s: the repository is read-only while rendering", name)
}

// Create refuses: rendering never writes.
func (f *repoFS) Create(name string) (filesys.File, error) { return nil, readOnly(name) }

// Mkdir refuses: rendering never writes.
func (f *repoFS) Mkdir(name string) error { return readOnly(name) }

// MkdirAll refuses: rendering never writes.
func (f *repoFS) MkdirAll(name string) error { return readOnly(name) }

// RemoveAll refuses: rendering never writes.
func (f *repoFS) RemoveAll(name string) error { return readOnly(name) }

// WriteFile refuses: rendering never writes.
func (f *repoFS) WriteFile(name string, _ []byte) error { return readOnly(name) }

// Open opens a confined file for reading, through the size limits.
func (f *repoFS) Open(name string) (filesys.File, error) {
	real, err := f.resolve(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, err
	}
	if st.Size() > f.lim.MaxFileBytes {
		return nil, fmt.Errorf("open %s: file is %d bytes, over the limit of %d: %w",
			f.rel(real), st.Size(), f.lim.MaxFileBytes, ErrLimit)
	}
	if err := f.charge(real, st.Size()); err != nil {
		return nil, err
	}
	return os.Open(real) // #nosec G304 -- confined above
}

// IsDir reports whether name is a directory inside the root.
func (f *repoFS) IsDir(name string) bool {
	real, err := f.resolve(name)
	if err != nil {
		return false
	}
	st, err := os.Stat(real)
	return err == nil && st.IsDir()
}

// Exists reports whether name exists inside the root.
func (f *repoFS) Exists(name string) bool {
	real, err := f.resolve(name)
	if err != nil {
		return false
	}
	_, err = os.Stat(real)
	return err == nil
}

// ReadDir lists a confined directory.
func (f *repoFS) ReadDir(name string) ([]string, error) {
	real, err := f.resolve(name)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(real)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ents))
	for i, e := range ents {
		out[i] = e.Name()
	}
	return out, nil
}

// CleanedAbs splits a confined path into its directory and file name,
// symlinks resolved, like Kustomize's on-disk file system.
func (f *repoFS) CleanedAbs(name string) (filesys.ConfirmedDir, string, error) {
	real, err := f.resolve(name)
	if err != nil {
		return "", "", err
	}
	if f.IsDir(real) {
		return filesys.ConfirmedDir(real), "", nil
	}
	if !f.Exists(real) {
		return "", "", fmt.Errorf("resolve %s: %w", f.displayName(name), fs.ErrNotExist)
	}
	return filesys.ConfirmedDir(filepath.Dir(real)), filepath.Base(real), nil
}

// Glob matches a pattern and keeps the matches inside the root, without
// hidden files unless the pattern asks for them (as Kustomize does).
func (f *repoFS) Glob(pattern string) ([]string, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	all, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	if !filesys.IsHiddenFilePath(pattern) {
		all = filesys.RemoveHiddenFiles(all)
	}
	var out []string
	for _, m := range all {
		if _, err := f.resolve(m); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// Walk walks a confined tree; entries that resolve outside the root are
// reported to walkFn as errors.
func (f *repoFS) Walk(name string, walkFn filepath.WalkFunc) error {
	real, err := f.resolve(name)
	if err != nil {
		return err
	}
	return filepath.Walk(real, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			if _, rerr := f.resolve(p); rerr != nil {
				err = rerr
			}
		}
		return walkFn(p, info, err)
	})
}

// listFiles returns the regular files under the repository-relative
// directory dir, recursively, as sorted repository-relative paths that keep
// dir as their prefix. Symlinks are followed while they stay inside the
// root (a directory already visited is not entered twice); one that leads
// outside is an error. Names starting with "." are skipped when skipHidden.
func (f *repoFS) listFiles(dir string, skipHidden bool) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	var walk func(rel string) error
	walk = func(rel string) error {
		real, err := f.resolve(f.abs(rel))
		if err != nil {
			return err
		}
		if seen[real] {
			return nil
		}
		seen[real] = true
		ents, err := os.ReadDir(real)
		if err != nil {
			return fmt.Errorf("list %s: %w", rel, err)
		}
		for _, e := range ents {
			if skipHidden && strings.HasPrefix(e.Name(), ".") {
				continue
			}
			child := pathJoin(rel, e.Name())
			target, err := f.resolve(f.abs(child))
			if err != nil {
				return err
			}
			st, err := os.Stat(target)
			if err != nil {
				return fmt.Errorf("stat %s: %w", child, err)
			}
			switch {
			case st.IsDir():
				if err := walk(child); err != nil {
					return err
				}
			case st.Mode().IsRegular():
				out = append(out, child)
			}
		}
		return nil
	}
	if err := walk(dir); err != nil {
		return nil, err
	}
	return out, nil
}

// pathJoin joins slash-separated repository paths, treating "." and "" as
// the root.
func pathJoin(elem ...string) string {
	var parts []string
	for _, e := range elem {
		if e != "" && e != "." {
			parts = append(parts, e)
		}
	}
	if len(parts) == 0 {
		return "."
	}
	return filepath.ToSlash(filepath.Clean(filepath.Join(parts...)))
}
