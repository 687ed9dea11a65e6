// Package promote makes the change one app's apply carried into the same
// change to the next app's source: the same file edits under the next
// overlay, the same keys of the next values file. It is pure: it is given
// the source app's files before and after the change and a reader of the
// target's files, and returns the files to write, what it changed, and what
// it left for a human.
package promote

import (
	"path"
	"slices"
	"strings"

	"github.com/gantryops/gantry/config"
)

// Target is the repository path in to's source that p, a file of from's
// source, corresponds to, or "" with the reason it has none:
//   - a values file of from's Helm settings that to does not share maps to
//     the values file of to at the same place among those to does not share
//     (values-staging.yaml → values-prod.yaml);
//   - any other file under from's directory maps to the same relative path
//     under to's directory (overlays/staging/x → overlays/prod/x), unless
//     both apps share the directory (the file then already holds the change
//     for both);
//   - nothing outside from's directory, and nothing that would land outside
//     to's directory or back inside from's, is ever a target.
func Target(from, to config.App, p string) (target, why string) {
	fromDir, toDir := cleanDir(from.Path), cleanDir(to.Path)
	if fromDir == "" || toDir == "" {
		return "", "an app's path is not a directory inside the repository"
	}
	rel, ok := under(fromDir, p)
	if !ok {
		return "", "outside " + from.Name + "'s directory"
	}
	if v := valuesTarget(from, to, rel); v != "" {
		return inside(toDir, fromDir, v)
	}
	if fromDir == toDir {
		return "", "shared by " + from.Name + " and " + to.Name + ": the change is already in both"
	}
	if _, inTo := under(toDir, p); inTo {
		return "", "a file of " + to.Name + "'s own directory"
	}
	return inside(toDir, fromDir, rel)
}

// inside joins rel to toDir and returns it when it stays under toDir and
// not under fromDir (a target nested in the source's directory would
// change the source itself).
func inside(toDir, fromDir, rel string) (string, string) {
	t := path.Join(toDir, rel)
	if _, ok := under(toDir, t); !ok {
		return "", "would leave the target's directory"
	}
	if _, ok := under(fromDir, t); ok && fromDir != toDir {
		return "", "would land inside the source's own directory"
	}
	return t, ""
}

// valuesTarget is the values file of to (relative to to's directory) that
// from's values file rel corresponds to, "" when rel is not one of from's
// own values files or to has no counterpart.
func valuesTarget(from, to config.App, rel string) string {
	if from.Helm == nil || to.Helm == nil {
		return ""
	}
	shared := func(v string, other []string) bool {
		return slices.ContainsFunc(other, func(o string) bool { return path.Clean(o) == path.Clean(v) })
	}
	var fromOwn, toOwn []string
	for _, v := range from.Helm.Values {
		if !shared(v, to.Helm.Values) || from.Path != to.Path {
			fromOwn = append(fromOwn, path.Clean(v))
		}
	}
	for _, v := range to.Helm.Values {
		if !shared(v, from.Helm.Values) || from.Path != to.Path {
			toOwn = append(toOwn, path.Clean(v))
		}
	}
	i := slices.Index(fromOwn, rel)
	if i < 0 || len(fromOwn) != len(toOwn) {
		return ""
	}
	return toOwn[i]
}

// cleanDir is a repository-relative directory, cleaned, or "" when it is
// absolute or leaves the repository.
func cleanDir(p string) string {
	c := path.Clean(p)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || path.IsAbs(c) || strings.ContainsAny(c, "\\\x00") {
		return ""
	}
	return c
}

// under reports whether p lies strictly inside dir, and its path relative
// to dir. p is judged cleaned: a "..", a backslash, a NUL or an absolute
// path never passes.
func under(dir, p string) (string, bool) {
	if strings.ContainsAny(p, "\\\x00") || path.IsAbs(p) || p != path.Clean(p) {
		return "", false
	}
	rel, ok := strings.CutPrefix(p, dir+"/")
	if !ok || rel == "" || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}
