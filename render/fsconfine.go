package render

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gantryops/gantry/repofs"
)

// repoFS is one app's render-time view of the checkout: the confined reader
// (repofs) plus what render adds to it: the app's node budget, the first
// refused access (reported over the error a library makes of it), strict
// decoding of what Kustomize reads, and a check of every kustomization
// before Kustomize sees it. It implements Kustomize's filesys.FileSystem,
// read-only. Names are repository-relative, or absolute inside the root
// (Kustomize's).
type repoFS struct {
	ctx  context.Context
	fs   *repofs.FS
	root string // absolute, symlinks resolved
	lim  Limits
	// sops decrypts the repository's SOPS-encrypted files (sops.go).
	sops sopsState

	mu        sync.Mutex
	nodes     int   // YAML nodes decoded for the app so far
	violation error // first refused access
	// strict makes ReadFile decode every manifest it serves with the
	// strict decoder and check every kustomization, so that Kustomize,
	// which parses on its own, never sees duplicate keys, alias bombs,
	// remote references or plugins.
	strict bool
}

var _ filesys.FileSystem = (*repoFS)(nil)

// newRepoFS opens a confined view of root; close releases it.
func newRepoFS(ctx context.Context, root string, lim Limits) (*repoFS, error) {
	f, err := repofs.Open(ctx, root, repofs.Limits{MaxFileBytes: lim.MaxFileBytes, MaxTotalBytes: lim.MaxAppBytes})
	if err != nil {
		return nil, err
	}
	return &repoFS{ctx: ctx, fs: f, root: f.Root(), lim: lim}, nil
}

func (f *repoFS) close() { _ = f.fs.Close() }

// rel returns the repository-relative form of a name inside the root.
func (f *repoFS) rel(name string) string {
	if r, ok := f.fs.Rel(name); ok {
		return r
	}
	return filepath.ToSlash(name)
}

// fail turns the confined reader's refusal into a located *Error and
// records it as the first violation.
func (f *repoFS) fail(name string, err error) error {
	var pe *repofs.PathError
	if !errors.As(err, &pe) {
		return err
	}
	file := pe.Path
	var e *Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return pe.Err
	case errors.Is(err, fs.ErrNotExist):
		return fileError(file, 0, fs.ErrNotExist, "%s does not exist in the repository", file)
	case errors.Is(err, repofs.ErrOutside):
		if _, inside := f.fs.Rel(name); inside {
			// The target is not shown: it would disclose the bot's host.
			e = fileError(file, 0, ErrOutsideRepo, "%s is a symlink that leads outside the repository", file)
		} else {
			e = fileError(file, 0, ErrOutsideRepo, "path %s leads outside the repository", file)
		}
	case errors.Is(err, repofs.ErrNotRegular):
		e = fileError(file, 0, ErrInvalid, "%s is not a regular file (a directory, FIFO, socket or device)", file)
	case errors.Is(err, repofs.ErrTooLarge):
		e = fileError(file, 0, ErrLimit, "%s is over the limit of %d bytes per file", file, f.lim.MaxFileBytes)
	case errors.Is(err, repofs.ErrBudget):
		e = fileError(file, 0, ErrLimit, "at %s the app reads more than %d bytes in total", file, f.lim.MaxAppBytes)
	default:
		e = fileError(file, 0, ErrInvalid, "%v", pe)
	}
	f.record(e)
	return e
}

// resolve returns the repository-relative path name leads to.
func (f *repoFS) resolve(name string) (string, error) {
	target, err := f.fs.Resolve(name)
	if err != nil {
		return "", f.fail(name, err)
	}
	return target, nil
}

// record keeps the first refusal.
func (f *repoFS) record(err error) {
	f.mu.Lock()
	if f.violation == nil {
		f.violation = err
	}
	f.mu.Unlock()
}

// Violation returns the first refused access, if any.
func (f *repoFS) Violation() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.violation
}

// charge counts n bytes made from file against the app's budget.
func (f *repoFS) charge(file string, n int64) error {
	if err := f.fs.Charge(file, n); err != nil {
		return f.fail(file, err)
	}
	return nil
}

// decode decodes a file's YAML within the per-file limits and counts its
// nodes against the app's budget.
func (f *repoFS) decode(file string, data []byte) ([]document, error) {
	docs, nodes, err := decodeYAMLCounted(file, data, f.lim)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.nodes += nodes
	over := f.nodes > f.lim.MaxAppNodes
	f.mu.Unlock()
	if over {
		return nil, fileError(file, 0, ErrLimit, "the app's YAML expands to more than %d nodes in total", f.lim.MaxAppNodes)
	}
	return docs, nil
}

// ReadFile reads a confined regular file within the size limits; in strict
// mode, manifests are decoded strictly and kustomizations checked first.
func (f *repoFS) ReadFile(name string) ([]byte, error) {
	b, err := f.fs.ReadFile(name)
	if err != nil {
		return nil, f.fail(name, err)
	}
	if !f.strict {
		return b, nil
	}
	file := f.rel(name)
	if isKustomization(file) {
		if c := checkKustomization(f, file, b); len(c.errs) > 0 {
			f.record(c.errs[0])
			return nil, c.errs[0]
		}
	}
	if format, ok := f.sops.sourceFormat(f, file); ok {
		// A secretGenerator's source becomes a Secret's value as it is. A
		// YAML or JSON one is decoded within the limits before sops parses
		// it, and again once decrypted.
		if isManifest(file) {
			if _, err := f.decode(file, b); err != nil {
				f.record(err)
				return nil, err
			}
		}
		if b, err = f.decryptSource(file, b, format); err != nil {
			f.record(err)
			return nil, err
		}
		if isManifest(file) {
			if _, err := f.decode(file, b); err != nil {
				f.record(err)
				return nil, err
			}
		}
		return b, nil
	}
	if isManifest(file) {
		docs, err := f.decode(file, b)
		if err == nil {
			b, _, err = f.decryptManifest(file, b, docs)
		}
		if err != nil {
			f.record(err)
			return nil, err
		}
	}
	return b, nil
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

// Open returns a read-only in-memory copy of a confined file.
func (f *repoFS) Open(name string) (filesys.File, error) {
	b, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(b), name: path.Base(filepath.ToSlash(name)), size: int64(len(b))}, nil
}

// IsDir reports whether name is a directory inside the root.
func (f *repoFS) IsDir(name string) bool { return f.fs.IsDir(name) }

// Exists reports whether name exists inside the root.
func (f *repoFS) Exists(name string) bool { return f.fs.Exists(name) }

// ReadDir lists a confined directory's names.
func (f *repoFS) ReadDir(name string) ([]string, error) {
	ents, err := f.fs.ReadDir(name)
	if err != nil {
		return nil, f.fail(name, err)
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
	target, err := f.resolve(name)
	if err != nil {
		return "", "", err
	}
	abs := f.fs.Abs(target)
	if f.fs.IsDir(target) {
		return filesys.ConfirmedDir(abs), "", nil
	}
	return filesys.ConfirmedDir(filepath.Dir(abs)), filepath.Base(abs), nil
}

// Glob matches a pattern segment by segment inside the root, without
// hidden files unless the pattern asks for them (as Kustomize does).
// Matches are absolute when the pattern is.
func (f *repoFS) Glob(pattern string) ([]string, error) {
	rel, ok := f.fs.Rel(pattern)
	if !ok {
		return nil, nil
	}
	matches := []string{"."}
	for _, seg := range strings.Split(rel, "/") {
		if seg == "." {
			continue
		}
		var next []string
		for _, m := range matches {
			if !strings.ContainsAny(seg, `*?[\`) {
				if p := pathJoin(m, seg); f.fs.Exists(p) {
					next = append(next, p)
				}
				continue
			}
			ents, err := f.fs.ReadDir(m)
			if err != nil {
				continue
			}
			for _, e := range ents {
				ok, err := path.Match(seg, e.Name())
				if err != nil {
					return nil, fmt.Errorf("glob %s: %w", rel, err)
				}
				if ok {
					next = append(next, pathJoin(m, e.Name()))
				}
			}
		}
		matches = next
	}
	if !filesys.IsHiddenFilePath(pattern) {
		matches = filesys.RemoveHiddenFiles(matches)
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		if _, err := f.fs.Resolve(m); err != nil {
			continue
		}
		if filepath.IsAbs(pattern) {
			m = f.fs.Abs(m)
		}
		out = append(out, m)
	}
	return out, nil
}

// Walk walks a confined tree with absolute paths, as Kustomize expects;
// entries that lead outside the root reach walkFn as errors.
func (f *repoFS) Walk(name string, walkFn filepath.WalkFunc) error {
	return f.fs.WalkDir(name, func(p string, d fs.DirEntry, err error) error {
		abs := f.fs.Abs(p)
		if err != nil {
			return walkFn(abs, nil, f.fail(p, err))
		}
		info, err := d.Info()
		return walkFn(abs, info, err)
	})
}

// listFiles returns the files under the repository-relative directory
// dir, recursively, as sorted repository-relative paths that keep dir as
// their prefix. Symlinks are followed while they stay inside the root; one
// that leads outside is an error. Special files (FIFOs, devices) are
// listed, so that reading them fails and names them. Names starting with
// "." are skipped when skipHidden.
func (f *repoFS) listFiles(dir string, skipHidden bool) ([]string, error) {
	var out []string
	err := f.fs.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if skipHidden && p != dir && strings.HasPrefix(path.Base(p), ".") {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			return f.fail(p, err)
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// memFile is a read-only file held in memory, served to Kustomize.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

// Write refuses: rendering never writes.
func (m *memFile) Write([]byte) (int, error) { return 0, readOnly(m.name) }

// Close does nothing.
func (m *memFile) Close() error { return nil }

// Stat describes the file.
func (m *memFile) Stat() (os.FileInfo, error) { return memInfo{m}, nil }

// memInfo is a memFile's fs.FileInfo.
type memInfo struct{ m *memFile }

func (i memInfo) Name() string       { return i.m.name }
func (i memInfo) Size() int64        { return i.m.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

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
	return path.Clean(strings.Join(parts, "/"))
}
