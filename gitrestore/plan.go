package gitrestore

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
)

// File is a tree entry's content: the object it names (a blob, or a
// submodule's commit) and its mode, so a changed mode counts as a change.
type File struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

// Change puts one path back: To is Before's entry, or nil to delete a file
// After added.
type Change struct {
	Path string
	To   *File
}

// Plan is what a revert does with the files one commit changed.
type Plan struct {
	// Restore lists the files to put back, sorted by path.
	Restore []Change
	// Later lists, sorted, the files After changed that the base changed
	// again since: they stay as the base has them, for a human to resolve.
	Later []string
}

// PlanRevert decides, from three path→entry maps of the same paths (Before,
// After and the base head; a missing key is a missing file), which files a
// revert of After restores and which it must leave because a later commit
// changed them again. A file After did not change is left alone, and so is
// one the base already has as Before had it.
func PlanRevert(before, after, base map[string]File) Plan {
	var p Plan
	for _, name := range unionKeys(before, after) {
		b, inBefore := before[name]
		a, inAfter := after[name]
		h, inBase := base[name]
		switch {
		case inBefore == inAfter && b == a:
			// After did not change it.
		case inBase == inBefore && h == b:
			// Already as before: restored by hand, or never applied.
		case inBase == inAfter && h == a:
			c := Change{Path: name}
			if inBefore {
				to := b
				c.To = &to
			}
			p.Restore = append(p.Restore, c)
		default:
			p.Later = append(p.Later, name)
		}
	}
	return p
}

func unionKeys(maps ...map[string]File) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range maps {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// ErrBadPath is wrapped by the error for a path a Request may not name.
var ErrBadPath = errors.New("not a clean path inside the repository")

// ValidatePaths refuses any path that is empty, absolute, unclean (a
// trailing slash, "//", "./") or leaves the repository; "." is the whole
// repository (an app at its root).
func ValidatePaths(paths []string) error {
	if len(paths) == 0 {
		return fmt.Errorf("paths: none given: %w", ErrBadPath)
	}
	for _, p := range paths {
		bad := p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, `\`) ||
			strings.ContainsRune(p, 0) || path.Clean(p) != p ||
			p == ".." || strings.HasPrefix(p, "../")
		if bad {
			return fmt.Errorf("path %q: %w", p, ErrBadPath)
		}
	}
	return nil
}
