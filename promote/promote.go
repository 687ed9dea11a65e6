package promote

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/gantryops/gantry/config"
)

// FileChange is one file of the source app that the change altered.
type FileChange struct {
	// Path is repository-relative, under the source app's directory.
	Path string
	// Before is the content before the change; nil when it added the file.
	Before []byte
	// After is the content after the change; nil when it deleted the file.
	After []byte
}

// Reader reads a file of the target's source at a repository path: its
// content, or ok false when there is none. The caller reads through the
// confined reader.
type Reader func(path string) (data []byte, ok bool, err error)

// ErrNotConfined is what a Reader returns for a target file that leads
// outside the target's directory (a symbolic link): the file is then left
// for a human, never read or written.
var ErrNotConfined = errors.New("leads outside the target app's directory")

// Input is a change to carry from one app to the next.
type Input struct {
	From, To config.App
	Changes  []FileChange
	Current  Reader
}

// Edit is one change made to the target's source.
type Edit struct {
	File string
	// Field is the changed key's path ("" for the whole file).
	Field string
	// From and To are short renderings of the value ("" when absent);
	// Secret documents' values are never rendered.
	From, To string
}

// Conflict is a part of the change that could not be carried over: the
// target's file does not hold what the source's held before the change,
// so a human decides.
type Conflict struct {
	File  string
	Field string
	Why   string
}

// Skip is a file of the change that has no counterpart in the target.
type Skip struct {
	File string
	Why  string
}

// Result is the promotion's edit of the target's source.
type Result struct {
	// Files are the target's files to write, by repository path.
	Files map[string][]byte
	// Deleted are the target's files to remove.
	Deleted   []string
	Edits     []Edit
	Conflicts []Conflict
	Skipped   []Skip
}

// Empty reports whether the promotion changes nothing.
func (r *Result) Empty() bool { return len(r.Files) == 0 && len(r.Deleted) == 0 }

// Promote carries in's change to the target's source. Each file of the
// change maps to one target file (Target); YAML files are merged key by
// key (a three-way merge: a key the target holds as the source held it
// before takes the source's new value; a key that differs is a conflict
// and keeps the target's value), other files only when the target's copy
// is the source's before. It returns an error only when the target cannot
// be read.
func Promote(in Input) (*Result, error) {
	res := &Result{Files: map[string][]byte{}}
	changes := append([]FileChange(nil), in.Changes...)
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	seen := map[string]string{}
	for _, c := range changes {
		target, why := Target(in.From, in.To, c.Path)
		if target == "" {
			res.Skipped = append(res.Skipped, Skip{File: c.Path, Why: why})
			continue
		}
		if prev, dup := seen[target]; dup {
			res.Conflicts = append(res.Conflicts, Conflict{File: target, Why: "both " + prev + " and " + c.Path + " map to it"})
			continue
		}
		seen[target] = c.Path
		cur, exists, err := in.Current(target)
		if errors.Is(err, ErrNotConfined) {
			res.Conflicts = append(res.Conflicts, Conflict{File: target, Why: fmt.Sprintf("leads outside %s's directory (a symbolic link): not read, not written", in.To.Name)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s of app %s: %w", target, in.To.Name, err)
		}
		if err := res.file(in, c, target, cur, exists); err != nil {
			return nil, err
		}
	}
	sort.Strings(res.Deleted)
	return res, nil
}

// file carries one file's change to target, whose current content is cur.
func (res *Result) file(in Input, c FileChange, target string, cur []byte, exists bool) error {
	switch {
	case c.Before == nil && c.After == nil:
		return nil
	case c.Before == nil && !exists:
		res.Files[target] = c.After
		res.Edits = append(res.Edits, Edit{File: target, To: "(new file)"})
	case c.Before == nil:
		if !sameContent(target, cur, c.After) {
			res.Conflicts = append(res.Conflicts, Conflict{File: target, Why: fmt.Sprintf("the change adds it to %s, but %s already has it with other content", in.From.Name, in.To.Name)})
		}
	case c.After == nil && !exists:
	case c.After == nil:
		if sameContent(target, cur, c.Before) {
			res.Deleted = append(res.Deleted, target)
			res.Edits = append(res.Edits, Edit{File: target, From: "(file)", To: "(deleted)"})
			break
		}
		res.Conflicts = append(res.Conflicts, Conflict{File: target, Why: fmt.Sprintf("the change deletes it from %s, but %s's copy differs from %s's before the change", in.From.Name, in.To.Name, in.From.Name)})
	case !exists:
		res.Conflicts = append(res.Conflicts, Conflict{File: target, Why: fmt.Sprintf("the change edits it in %s, but %s has no such file", in.From.Name, in.To.Name)})
	case isYAML(target):
		m, err := mergeYAML(c.Before, c.After, cur)
		if err != nil {
			// Not YAML that merges (a syntax error, documents that do
			// not match): the whole file as text.
			res.text(in, c, target, cur, err.Error())
			break
		}
		for _, e := range m.edits {
			e.File = target
			res.Edits = append(res.Edits, e)
		}
		for _, k := range m.conflicts {
			k.File = target
			res.Conflicts = append(res.Conflicts, k)
		}
		if !bytes.Equal(m.out, cur) {
			res.Files[target] = m.out
		}
	default:
		res.text(in, c, target, cur, "")
	}
	return nil
}

// text carries a file's change whole: only when the target's copy is the
// source's before (or already its after).
func (res *Result) text(in Input, c FileChange, target string, cur []byte, why string) {
	switch {
	case bytes.Equal(cur, c.After):
	case bytes.Equal(cur, c.Before):
		res.Files[target] = c.After
		res.Edits = append(res.Edits, Edit{File: target, From: "(file)", To: "(replaced)"})
	default:
		msg := fmt.Sprintf("%s's copy differs from %s's before the change, and the file is not YAML that merges key by key", in.To.Name, in.From.Name)
		if why != "" {
			msg += " (" + why + ")"
		}
		res.Conflicts = append(res.Conflicts, Conflict{File: target, Why: msg})
	}
}

// sameContent compares two versions of a file: as data for YAML (comments
// and layout aside), byte for byte otherwise.
func sameContent(name string, a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if !isYAML(name) {
		return false
	}
	da, errA := decodeDocs(a)
	db, errB := decodeDocs(b)
	return errA == nil && errB == nil && equalValues(da, db)
}

func isYAML(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml":
		return true
	}
	return false
}
