// Package repofs is a read-only, confined view of a repository checkout:
// the one way gantry reads files a pull request controls.
//
// A checkout is hostile. Its files may be symlinks to the bot's secrets or
// to /dev/zero, FIFOs that block a reader forever, or gigabytes of YAML. An
// FS follows symlinks only while they stay inside the root, serves regular
// files only (a FIFO or device is refused without blocking), caps every
// file and the total read, and stops when its context ends. Its errors name
// the repository-relative path and never the target of a symlink.
package repofs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Sentinel causes wrapped by *PathError, for errors.Is.
var (
	// ErrOutside is a path, or a symlink on the way, that leads outside
	// the repository.
	ErrOutside = errors.New("leads outside the repository")
	// ErrNotRegular is a FIFO, socket, device or other special file where a
	// regular file was wanted.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge is a file over Limits.MaxFileBytes.
	ErrTooLarge = errors.New("file is over the size limit")
	// ErrBudget is a read past Limits.MaxTotalBytes.
	ErrBudget = errors.New("reads more than the total limit")
)

// PathError is a refused or failed access to one repository path.
type PathError struct {
	// Op is what was attempted: "read", "stat", "list", "open".
	Op string
	// Path is the repository-relative, slash-separated path as asked for
	// (never the target of a symlink, which would disclose the host).
	Path string
	// Err is the cause: one of the sentinels, fs.ErrNotExist, or the
	// context's error.
	Err error
}

// Error formats as "read app/x.yaml: leads outside the repository".
func (e *PathError) Error() string { return e.Op + " " + e.Path + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PathError) Unwrap() error { return e.Err }

// Limits bound what one FS serves.
type Limits struct {
	// MaxFileBytes is the largest file ReadFile returns; checked on the
	// open handle before reading, so a huge file fails at once.
	MaxFileBytes int64
	// MaxTotalBytes bounds all reads through the FS together (and what
	// callers Charge to it), so many files cannot add up to too much.
	MaxTotalBytes int64
}

// DefaultLimits returns limits generous for real repositories.
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: 8 << 20, MaxTotalBytes: 64 << 20}
}

func (l Limits) orDefault() Limits {
	d := DefaultLimits()
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = d.MaxTotalBytes
	}
	return l
}

// FS is a confined, read-only view of one directory tree. Names are
// repository-relative slash paths; an absolute name is accepted only when
// it lies inside the root. An FS is safe for concurrent use.
type FS struct {
	ctx  context.Context
	root *os.Root
	real string // the root's absolute path, symlinks resolved
	lim  Limits

	mu   sync.Mutex
	read int64
}

// Open opens a confined view of the directory root. Close releases it.
func Open(ctx context.Context, root string, lim Limits) (*FS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", root, err)
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", root, err)
	}
	return &FS{ctx: ctx, root: r, real: real, lim: lim.orDefault()}, nil
}

// Close releases the root's handle; later calls fail.
func (f *FS) Close() error { return f.root.Close() }

// Root returns the root's absolute path with symlinks resolved.
func (f *FS) Root() string { return f.real }

// Limits returns the FS's limits, defaults filled in.
func (f *FS) Limits() Limits { return f.lim }

// Abs returns the absolute path of a repository-relative name.
func (f *FS) Abs(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(f.real, filepath.FromSlash(name))
}

// Rel returns the repository-relative slash path of name (relative or
// absolute), and false when it lies outside the root.
func (f *FS) Rel(name string) (string, bool) {
	abs := f.Abs(name)
	if abs == f.real {
		return ".", true
	}
	if !strings.HasPrefix(abs, f.real+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(abs[len(f.real)+1:]), true
}

// display is how name appears in errors: a relative name as given
// (cleaned), an absolute one relative to the root when inside it, else as
// given (it came from the repository's own text).
func (f *FS) display(name string) string {
	if !filepath.IsAbs(name) {
		return path.Clean(filepath.ToSlash(name))
	}
	if rel, ok := f.Rel(name); ok {
		return rel
	}
	return filepath.ToSlash(name)
}

// Resolve returns the repository-relative path name leads to with every
// symlink followed, refusing one that leads outside the root. A missing
// path is a *PathError wrapping fs.ErrNotExist.
func (f *FS) Resolve(name string) (string, error) {
	return f.resolve("resolve", name)
}

func (f *FS) resolve(op, name string) (string, error) {
	if err := f.ctx.Err(); err != nil {
		return "", &PathError{Op: op, Path: f.display(name), Err: err}
	}
	rel, ok := f.Rel(name)
	if !ok {
		return "", &PathError{Op: op, Path: f.display(name), Err: ErrOutside}
	}
	real, err := filepath.EvalSymlinks(f.Abs(rel))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", &PathError{Op: op, Path: rel, Err: fs.ErrNotExist}
		}
		// A loop, a name too long, a permission: say so without the
		// library's text, which names absolute paths.
		return "", &PathError{Op: op, Path: rel, Err: errors.New("cannot be resolved (a symlink loop?)")}
	}
	target, ok := f.Rel(real)
	if !ok {
		return "", &PathError{Op: op, Path: rel, Err: ErrOutside}
	}
	return target, nil
}

// Stat returns the file information of what name leads to, symlinks
// followed inside the root.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	target, err := f.resolve("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.root.Stat(target)
	if err != nil {
		return nil, &PathError{Op: "stat", Path: f.display(name), Err: cause(err)}
	}
	return fi, nil
}

// Exists reports whether name leads to something inside the root.
func (f *FS) Exists(name string) bool {
	_, err := f.Stat(name)
	return err == nil
}

// IsDir reports whether name leads to a directory inside the root.
func (f *FS) IsDir(name string) bool {
	fi, err := f.Stat(name)
	return err == nil && fi.IsDir()
}

// IsFile reports whether name leads to a regular file inside the root.
func (f *FS) IsFile(name string) bool {
	fi, err := f.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// ReadFile returns the content of the regular file name leads to, within
// the size limits. The file is opened without following a final symlink
// and without blocking, and checked on the open handle, so a file swapped
// between the check and the open cannot be read, and a FIFO is refused.
func (f *FS) ReadFile(name string) ([]byte, error) {
	target, err := f.resolve("read", name)
	if err != nil {
		return nil, err
	}
	shown := f.display(name)
	fail := func(err error) ([]byte, error) { return nil, &PathError{Op: "read", Path: shown, Err: err} }
	h, err := f.root.OpenFile(target, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fail(cause(err))
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return fail(cause(err))
	}
	if !fi.Mode().IsRegular() {
		return fail(ErrNotRegular)
	}
	if fi.Size() > f.lim.MaxFileBytes {
		return fail(fmt.Errorf("%w: %d bytes, over the limit of %d", ErrTooLarge, fi.Size(), f.lim.MaxFileBytes))
	}
	if err := f.charge(fi.Size()); err != nil {
		return fail(err)
	}
	data, err := io.ReadAll(io.LimitReader(h, f.lim.MaxFileBytes+1))
	if err != nil {
		return fail(cause(err))
	}
	if int64(len(data)) > f.lim.MaxFileBytes {
		return fail(fmt.Errorf("%w: it grew past %d bytes while read", ErrTooLarge, f.lim.MaxFileBytes))
	}
	if err := f.ctx.Err(); err != nil {
		return fail(err)
	}
	return data, nil
}

// Charge counts n bytes against the total budget, for what callers make
// from the files they read (a rendered template, say).
func (f *FS) Charge(name string, n int64) error {
	if err := f.charge(n); err != nil {
		return &PathError{Op: "read", Path: f.display(name), Err: err}
	}
	return nil
}

func (f *FS) charge(n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.read += n
	if f.read > f.lim.MaxTotalBytes {
		return fmt.Errorf("%w of %d bytes", ErrBudget, f.lim.MaxTotalBytes)
	}
	return nil
}

// ReadDir lists the directory name leads to, sorted by name. Entries are
// reported as they are (a symlink is a symlink); Stat says where one leads.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	target, err := f.resolve("list", name)
	if err != nil {
		return nil, err
	}
	h, err := f.root.OpenFile(target, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, &PathError{Op: "list", Path: f.display(name), Err: cause(err)}
	}
	defer h.Close()
	ents, err := h.ReadDir(-1)
	if err != nil {
		return nil, &PathError{Op: "list", Path: f.display(name), Err: cause(err)}
	}
	sortEntries(ents)
	return ents, nil
}

// WalkDir walks the tree at name like fs.WalkDir, in lexical order, with
// repository-relative paths. Symlinks are followed while they stay inside
// the root, and fn sees the entry of their target (a directory reached
// twice is entered once); one leading outside reaches fn as a *PathError
// wrapping ErrOutside, with a nil entry. fs.SkipDir and fs.SkipAll work as
// in fs.WalkDir, except that fs.SkipDir returned for a file skips only
// that file.
func (f *FS) WalkDir(name string, fn fs.WalkDirFunc) error {
	start, ok := f.Rel(name)
	if !ok {
		return fn(f.display(name), nil, &PathError{Op: "walk", Path: f.display(name), Err: ErrOutside})
	}
	seen := map[string]bool{}
	err := f.walk(start, fn, seen)
	if errors.Is(err, fs.SkipAll) || errors.Is(err, fs.SkipDir) {
		return nil
	}
	return err
}

func (f *FS) walk(p string, fn fs.WalkDirFunc, seen map[string]bool) error {
	fi, err := f.Stat(p)
	if err != nil {
		return fn(p, nil, err)
	}
	d := fs.FileInfoToDirEntry(fi)
	if !fi.IsDir() {
		return fn(p, d, nil)
	}
	target, _ := f.Resolve(p)
	if seen[target] {
		return nil
	}
	seen[target] = true
	if err := fn(p, d, nil); err != nil {
		return err
	}
	ents, err := f.ReadDir(p)
	if err != nil {
		if err := fn(p, d, err); err != nil && !errors.Is(err, fs.SkipDir) {
			return err
		}
		return nil
	}
	for _, e := range ents {
		child := path.Join(p, e.Name())
		if p == "." {
			child = e.Name()
		}
		if err := f.walk(child, fn, seen); err != nil {
			if errors.Is(err, fs.SkipDir) {
				continue
			}
			return err
		}
	}
	return nil
}

// cause strips the *fs.PathError os wraps around an errno, whose path is
// the absolute one on the host.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK) {
		// O_NOFOLLOW met a symlink: the file was swapped after it was
		// checked.
		return fmt.Errorf("changed while it was read: %w", ErrOutside)
	}
	if errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("not a directory: %w", fs.ErrInvalid)
	}
	return err
}

// sortEntries sorts by name: os.File.ReadDir does not, and callers
// expect lexical order.
func sortEntries(ents []fs.DirEntry) {
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
}
