package gitrestore

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// filesUnder returns every non-directory entry of tree at or under paths,
// keyed by its repository-relative path. A path missing from tree adds
// nothing; "." is the whole tree.
func filesUnder(s storer.EncodedObjectStorer, tree *object.Tree, paths []string) (map[string]File, error) {
	out := map[string]File{}
	for _, p := range paths {
		if p == "." {
			if err := walk(s, tree, "", out); err != nil {
				return nil, err
			}
			continue
		}
		entry, err := lookup(s, tree, p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		switch {
		case entry == nil:
		case entry.Mode == filemode.Dir:
			sub, err := object.GetTree(s, entry.Hash)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", p, err)
			}
			if err := walk(s, sub, p+"/", out); err != nil {
				return nil, err
			}
		default:
			out[p] = File{Hash: entry.Hash, Mode: entry.Mode}
		}
	}
	return out, nil
}

// lookup finds the entry at a slash-separated path, or nil when the path
// is missing or crosses a non-directory.
func lookup(s storer.EncodedObjectStorer, tree *object.Tree, p string) (*object.TreeEntry, error) {
	parts := strings.Split(p, "/")
	for i, name := range parts {
		var found *object.TreeEntry
		for j := range tree.Entries {
			if tree.Entries[j].Name == name {
				found = &tree.Entries[j]
				break
			}
		}
		if found == nil || i == len(parts)-1 {
			return found, nil
		}
		if found.Mode != filemode.Dir {
			return nil, nil
		}
		var err error
		if tree, err = object.GetTree(s, found.Hash); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// walk adds every non-directory entry under tree to out, names prefixed.
// Submodules are entries like files: their commits are not followed.
func walk(s storer.EncodedObjectStorer, tree *object.Tree, prefix string, out map[string]File) error {
	for _, e := range tree.Entries {
		name := prefix + e.Name
		if e.Mode != filemode.Dir {
			out[name] = File{Hash: e.Hash, Mode: e.Mode}
			continue
		}
		sub, err := object.GetTree(s, e.Hash)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := walk(s, sub, name+"/", out); err != nil {
			return err
		}
	}
	return nil
}

// errPathConflict is wrapped when a file would replace a directory that
// still holds files, or the other way round.
var errPathConflict = errors.New("a file and a directory share this path")

// rewriteTree stores the tree that is base (nil for none) with changes
// applied (paths relative to base; a nil To deletes) and returns its hash;
// empty reports a tree left with no entries, which the caller drops, as
// Git keeps no empty directories. Unchanged subtrees are reused as they are.
func rewriteTree(s storer.EncodedObjectStorer, base *object.Tree, prefix string, changes map[string]*File) (hash plumbing.Hash, empty bool, err error) {
	entries := map[string]object.TreeEntry{}
	if base != nil {
		for _, e := range base.Entries {
			entries[e.Name] = e
		}
	}
	direct := map[string]*File{}
	nested := map[string]map[string]*File{}
	for p, to := range changes {
		dir, rest, ok := strings.Cut(p, "/")
		if !ok {
			direct[p] = to
			continue
		}
		if nested[dir] == nil {
			nested[dir] = map[string]*File{}
		}
		nested[dir][rest] = to
	}
	names := sortedKeys(direct)
	for _, n := range sortedKeys(nested) {
		if !hasKey(direct, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		e, exists := entries[name]
		to, isDirect := direct[name]
		if isDirect && to == nil && exists && e.Mode != filemode.Dir {
			delete(entries, name)
			exists = false
		}
		if inner := nested[name]; inner != nil {
			var sub *object.Tree
			if exists && e.Mode == filemode.Dir {
				if sub, err = object.GetTree(s, e.Hash); err != nil {
					return plumbing.ZeroHash, false, fmt.Errorf("read %s%s: %w", prefix, name, err)
				}
			}
			h, subEmpty, err := rewriteTree(s, sub, prefix+name+"/", inner)
			if err != nil {
				return plumbing.ZeroHash, false, err
			}
			switch {
			case !subEmpty && exists && e.Mode != filemode.Dir:
				return plumbing.ZeroHash, false, fmt.Errorf("restore under %s%s: %w", prefix, name, errPathConflict)
			case !subEmpty:
				e = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
				entries[name], exists = e, true
			case sub != nil:
				delete(entries, name)
				exists = false
			}
		}
		if isDirect && to != nil {
			if exists && e.Mode == filemode.Dir {
				return plumbing.ZeroHash, false, fmt.Errorf("restore %s%s: %w", prefix, name, errPathConflict)
			}
			entries[name] = object.TreeEntry{Name: name, Mode: to.Mode, Hash: to.Hash}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	tree := &object.Tree{}
	for _, e := range entries {
		tree.Entries = append(tree.Entries, e)
	}
	sort.Sort(object.TreeEntrySorter(tree.Entries))
	obj := s.NewEncodedObject()
	if err := tree.Encode(obj); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("write tree %s: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	h, err := s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("write tree %s: %w", strings.TrimSuffix(prefix, "/"), err)
	}
	return h, false, nil
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
