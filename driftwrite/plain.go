package driftwrite

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// plain edits a plain-YAML app's files in place: each object in its
// source document, a deleted object's document removed, a file left with
// no object deleted.
func (w *writer) plain(objs []Object) error {
	byFile := map[string][]Object{}
	for _, o := range objs {
		f := o.Source.File
		if f == "" {
			w.skip("%s: render gave no source file; edit it by hand", o)
			continue
		}
		if !cleanRel(f) {
			return fmt.Errorf("edit %s: source %q is not a clean path inside the repository", o, f)
		}
		byFile[f] = append(byFile[f], o)
	}
	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		if err := w.plainFile(file, byFile[file]); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) plainFile(file string, objs []Object) error {
	data, err := w.readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("edit %s: source file %s: %w", objs[0], file, err)
	}
	if err != nil {
		return fmt.Errorf("edit %s: %w", objs[0], err)
	}
	text := string(data)
	chunks := splitDocs(text)
	leading := len(chunks) > 0 && chunks[0].sep != ""
	for _, o := range objs {
		i := findDoc(chunks, o, o.Source.Line)
		if i < 0 {
			w.skip("%s: no document in %s holds it (inside a List, or generated?); edit it by hand", o, file)
			continue
		}
		if o.Accepted == nil {
			chunks[i].removed = true
			continue
		}
		body, err := editDoc(chunks[i].body, o)
		if err != nil {
			return fmt.Errorf("edit %s in %s:%d: %w", o, file, chunks[i].line, err)
		}
		chunks[i].body = body
	}
	if !hasObjects(chunks) {
		delete(w.res.Files, file)
		w.res.Deleted = append(w.res.Deleted, file)
		return nil
	}
	if out := joinDocs(chunks, leading); out != text {
		w.res.Files[file] = []byte(out)
	}
	return nil
}

// cleanRel reports whether p is a clean, relative, slash-separated path
// that stays inside the repository.
func cleanRel(p string) bool {
	return p != "" && p != "." && !path.IsAbs(p) && path.Clean(p) == p && p != ".." &&
		!strings.HasPrefix(p, "../") && !strings.Contains(p, `\`)
}
