// Package driftwrite turns accepted drift into a repository edit: the live
// state of drifted objects written into the files that describe them, so
// that merging the drift pull request makes Git say what the cluster has.
//
// Plain YAML apps are edited in place, changing only the drifted leaves and
// keeping comments, key order and the other documents byte for byte.
// Kustomize and Helm apps, whose objects no file holds as they are, get a
// strategic-merge patch file among the app's post-render patches. Secret
// values are never written. The package reads the checkout only through
// repofs and writes nothing: it returns the new file contents.
package driftwrite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
	"github.com/gantryops/gantry/repofs"
)

// Object is one drifted object as the repository must now describe it.
type Object struct {
	// APIVersion, Kind, Namespace and Name identify the object.
	APIVersion, Kind, Namespace, Name string
	// Desired is the object as rendered from Git now.
	Desired map[string]any
	// Accepted is Desired with the drifted fields set to their live
	// values; nil when the object was deleted out of band.
	Accepted map[string]any
	// Source is where render found the object: File (repo-relative) and
	// Line (1-based start of the object in File).
	Source render.Source
	// Secret marks a Secret: its values are never written.
	Secret bool
}

// String formats the object as "Kind namespace/name" for messages.
func (o Object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Result is the repository edit that accepts the drift.
type Result struct {
	// Files maps repo-relative paths to their new content (changed or
	// new files only).
	Files map[string][]byte
	// Deleted lists files to delete (a plain-YAML file whose only object
	// was deleted), sorted.
	Deleted []string
	// Skipped says what could not be written and why, one line each
	// (Secret values, an object whose source cannot be edited).
	Skipped []string
}

// Empty reports whether the edit changes no file.
func (r *Result) Empty() bool { return len(r.Files) == 0 && len(r.Deleted) == 0 }

// Write computes the edit that writes objs' accepted state into app in
// the checkout at root (model is the repository's .gantry.yaml as loaded).
// Every file is read through repofs; a source that is a symbolic link or
// leads outside the checkout is refused.
func Write(ctx context.Context, root string, model config.Repo, app config.App, objs []Object) (*Result, error) {
	fsys, err := repofs.Open(ctx, root, repofs.DefaultLimits())
	if err != nil {
		return nil, fmt.Errorf("write drift of app %s: %w", app.Name, err)
	}
	defer fsys.Close()
	w := &writer{fsys: fsys, model: model, app: app, res: &Result{Files: map[string][]byte{}}}
	objs = w.dropSecretValues(objs)
	switch app.Render {
	case config.RenderYAML:
		err = w.plain(objs)
	case config.RenderKustomize, config.RenderHelm:
		err = w.patches(objs)
	default:
		err = fmt.Errorf("write drift of app %s: render kind %q has no drift writer", app.Name, app.Render)
	}
	if err != nil {
		return nil, err
	}
	sort.Strings(w.res.Deleted)
	return w.res, nil
}

// writer holds one Write's state.
type writer struct {
	fsys  *repofs.FS
	model config.Repo
	app   config.App
	res   *Result
	// read caches file contents, with edits so far, so several objects
	// of one file are edited in turn.
	read map[string][]byte
}

func (w *writer) skip(format string, args ...any) {
	w.res.Skipped = append(w.res.Skipped, fmt.Sprintf(format, args...))
}

// readFile returns the current content of a repo-relative file (with the
// edits made so far), refusing symbolic links: the commit would replace
// the link with a file, and its target may lie anywhere. A missing file
// returns nil and fs.ErrNotExist.
func (w *writer) readFile(name string) ([]byte, error) {
	if data, ok := w.res.Files[name]; ok {
		return data, nil
	}
	target, err := w.fsys.Resolve(name)
	if errors.Is(err, fs.ErrNotExist) {
		if err := w.checkParents(name); err != nil {
			return nil, err
		}
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if target != name {
		return nil, fmt.Errorf("read %s: %w", name, ErrSymlink)
	}
	data, err := w.fsys.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// checkParents refuses a new file whose nearest existing directory is
// reached through a symbolic link.
func (w *writer) checkParents(name string) error {
	for dir := parentDir(name); dir != "."; dir = parentDir(dir) {
		target, err := w.fsys.Resolve(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if target != dir {
			return fmt.Errorf("write %s: directory %s: %w", name, dir, ErrSymlink)
		}
		return nil
	}
	return nil
}

// ErrSymlink is wrapped when a file to edit is, or lies under, a symbolic
// link.
var ErrSymlink = errors.New("is a symbolic link; gantry edits only regular files")

// lastApplied is kubectl's copy of the whole object; cluster noise, and
// for a Secret it holds the values.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// dropSecretValues removes what is never written: Secret data and
// stringData, and kubectl's last-applied annotation on any object. A
// Secret whose values drifted is reported in Skipped.
func (w *writer) dropSecretValues(objs []Object) []Object {
	out := make([]Object, 0, len(objs))
	for _, o := range objs {
		if o.Source.Decrypted {
			// Editing a SOPS file breaks its MAC: only sops may rewrite it.
			w.skip("%s: it is SOPS-encrypted in Git (%s), and gantry never rewrites an encrypted file; edit it with sops", o, o.Source.File)
			continue
		}
		o.Desired = withoutAnnotation(o.Desired, lastApplied)
		o.Accepted = withoutAnnotation(o.Accepted, lastApplied)
		if o.Secret || o.Kind == "Secret" {
			var drifted []string
			for _, k := range []string{"data", "stringData"} {
				if o.Accepted != nil && !equalValue(o.Desired[k], o.Accepted[k]) {
					drifted = append(drifted, k)
				}
			}
			if len(drifted) > 0 {
				w.skip("%s: Secret values drifted (%v); gantry never writes Secret values, so they stay as in Git", o, drifted)
			}
			o.Desired = without(o.Desired, "data", "stringData")
			o.Accepted = without(o.Accepted, "data", "stringData")
		}
		out = append(out, o)
	}
	return out
}

// without returns a shallow copy of m without keys; nil stays nil.
func without(m map[string]any, keys ...string) map[string]any {
	if m == nil {
		return nil
	}
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	for _, k := range keys {
		delete(c, k)
	}
	return c
}

// withoutAnnotation returns m without one annotation, copying only what
// it changes.
func withoutAnnotation(m map[string]any, key string) map[string]any {
	md, _ := m["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	if _, ok := ann[key]; !ok {
		return m
	}
	ann = without(ann, key)
	md = without(md)
	if len(ann) == 0 {
		delete(md, "annotations")
	} else {
		md["annotations"] = ann
	}
	m = without(m)
	m["metadata"] = md
	return m
}

func parentDir(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}
