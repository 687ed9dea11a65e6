package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	"github.com/gantryops/gantry/repofs"
)

// files is what one policy directory holds.
type files struct {
	// modules are the policy modules by display name; tests the
	// _test.rego modules.
	modules map[string]*ast.Module
	tests   map[string]*ast.Module
	// data is merged from .json/.yaml files, each at the path of its
	// directory relative to the set's root (like `opa eval -d`).
	data map[string]any
	// templates and constraints are Gatekeeper objects found in YAML.
	templates   []*rawTemplate
	constraints []*rawConstraint
	// where maps internal module names (templates) back to YAML lines.
	where map[string]regoPlace
}

// regoPlace says where embedded Rego starts in a YAML file.
type regoPlace struct {
	file       string
	lineOffset int
	colOffset  int
}

// maxPolicyFileBytes and maxPolicySetBytes bound what one policy set may
// read: a file, and all its files together.
const (
	maxPolicyFileBytes = 4 << 20
	maxPolicySetBytes  = 64 << 20
)

// readSource walks a source's directory through the confined reader
// (repofs), rooted at src.Root: symlinks are followed only inside it, and
// one that leads outside, a FIFO or a device fails the load with the
// file's name. Errors in Rego are collected as CompileErrors so a user
// sees all of them at once.
func readSource(src Source) (*files, error) {
	out := &files{
		modules: map[string]*ast.Module{},
		tests:   map[string]*ast.Module{},
		data:    map[string]any{},
		where:   map[string]regoPlace{},
	}
	fsys, dir, err := openSource(src)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	if !fsys.IsDir(dir) {
		if _, err := fsys.Stat(dir); err != nil {
			return nil, fmt.Errorf("read policy set %q: %w", src.Name, src.named(dir, err))
		}
		return nil, fmt.Errorf("read policy set %q: %s is not a directory", src.Name, src.display("."))
	}
	var errs CompileErrors
	err = fsys.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if rel == "" {
			rel = "."
		}
		if p != dir && strings.HasPrefix(path.Base(p), ".") {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			return src.named(rel, err)
		}
		if d.IsDir() {
			return nil
		}
		name := src.display(rel)
		switch ext := path.Ext(p); {
		case ext == ".rego":
			bs, err := fsys.ReadFile(p)
			if err != nil {
				return src.named(rel, err)
			}
			m, perr := parseRego(name, string(bs), src.RegoVersion)
			if perr != nil {
				errs = append(errs, compileErrors(src.Name, perr, nil)...)
				return nil
			}
			if strings.HasSuffix(p, "_test.rego") {
				out.tests[name] = m
			} else {
				out.modules[name] = m
			}
		case ext == ".json" || ext == ".yaml" || ext == ".yml":
			bs, err := fsys.ReadFile(p)
			if err != nil {
				return src.named(rel, err)
			}
			docErrs, err := out.addDocuments(src, name, path.Dir(rel), bs)
			if err != nil {
				return err
			}
			errs = append(errs, docErrs...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read policy set %q: %w", src.Name, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("parse policy set %q: %w", src.Name, errs)
	}
	if src.Data != nil {
		if err := mergeData(out.data, nil, src.Data); err != nil {
			return nil, fmt.Errorf("merge the data given to policy set %q: %w", src.Name, err)
		}
	}
	return out, nil
}

// setFS is what reading a set needs of its files: the confined reader for
// a directory on disk, or a file system shipped in the binary.
type setFS interface {
	IsDir(name string) bool
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
	WalkDir(name string, fn fs.WalkDirFunc) error
	Close() error
}

// openSource opens a source's files and returns the directory of the set
// inside them.
func openSource(src Source) (setFS, string, error) {
	if src.FS != nil {
		return shippedFS{src.FS}, ".", nil
	}
	root := src.Root
	if root == "" {
		root = src.Dir
	}
	fsys, err := repofs.Open(context.Background(), root, repofs.Limits{MaxFileBytes: maxPolicyFileBytes, MaxTotalBytes: maxPolicySetBytes})
	if err != nil {
		return nil, "", fmt.Errorf("read policy set %q: %w", src.Name, err)
	}
	dir, err := filepath.Rel(root, src.Dir)
	if err != nil || !filepath.IsLocal(dir) && dir != "." {
		fsys.Close()
		return nil, "", fmt.Errorf("read policy set %q: its directory is outside its root", src.Name)
	}
	return fsys, filepath.ToSlash(dir), nil
}

// shippedFS reads a set compiled into the binary; it is trusted as the
// binary is, so it needs none of the confined reader's checks.
type shippedFS struct{ fsys fs.FS }

func (s shippedFS) IsDir(name string) bool {
	fi, err := fs.Stat(s.fsys, name)
	return err == nil && fi.IsDir()
}
func (s shippedFS) Stat(name string) (fs.FileInfo, error)        { return fs.Stat(s.fsys, name) }
func (s shippedFS) ReadFile(name string) ([]byte, error)         { return fs.ReadFile(s.fsys, name) }
func (s shippedFS) WalkDir(name string, fn fs.WalkDirFunc) error { return fs.WalkDir(s.fsys, name, fn) }
func (s shippedFS) Close() error                                 { return nil }

// named restates a confined reader's error on a file of the set by the
// set's display name, keeping its cause for errors.Is, never a host path.
func (s Source) named(rel string, err error) error {
	var cause error = err
	var pe *repofs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	return fmt.Errorf("%s: %w", s.display(rel), cause)
}

// addDocuments sorts a YAML or JSON file's documents: Gatekeeper templates
// and constraints, other Kubernetes objects (samples, ignored), or data.
func (f *files) addDocuments(src Source, name, relDir string, bs []byte) (CompileErrors, error) {
	dec := yaml.NewDecoder(bytes.NewReader(bs))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		docs = append(docs, &n)
	}
	var errs CompileErrors
	var data []map[string]any
	for _, n := range docs {
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			if v == nil {
				continue
			}
			return nil, fmt.Errorf("parse %s: data must be an object", name)
		}
		apiVersion, _ := m["apiVersion"].(string)
		kind, _ := m["kind"].(string)
		group, _, _ := strings.Cut(apiVersion, "/")
		switch {
		case group == "templates.gatekeeper.sh" && kind == "ConstraintTemplate":
			t, terrs, err := parseTemplate(src, name, bs, n)
			if err != nil {
				return nil, err
			}
			errs = append(errs, terrs...)
			if t != nil {
				f.templates = append(f.templates, t)
				f.where[t.module] = t.place
				for _, l := range t.libs {
					f.where[l.module] = l.place
				}
			}
		case group == "constraints.gatekeeper.sh":
			c, err := parseConstraint(name, m)
			if err != nil {
				return nil, err
			}
			f.constraints = append(f.constraints, c)
		case apiVersion != "" && kind != "":
			// Another Kubernetes object: a sample or a test case kept next
			// to the policy, never data.
		default:
			data = append(data, m)
		}
	}
	if len(data) > 1 {
		return nil, fmt.Errorf("parse %s: a data file holds one document, not %d", name, len(data))
	}
	if len(data) == 1 {
		var prefix []string
		if relDir != "." {
			prefix = strings.Split(filepath.ToSlash(relDir), "/")
		}
		if err := mergeData(f.data, prefix, data[0]); err != nil {
			return nil, fmt.Errorf("merge data %s: %w", name, err)
		}
	}
	return errs, nil
}

// mergeData merges doc into dst at path; two files may not set the same
// leaf.
func mergeData(dst map[string]any, path []string, doc map[string]any) error {
	for _, p := range path {
		next, ok := dst[p]
		if !ok {
			m := map[string]any{}
			dst[p] = m
			dst = m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("conflict at %s", p)
		}
		dst = m
	}
	for k, v := range doc {
		old, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("conflict at key %q", k)
		}
		if err := mergeData(om, nil, nm); err != nil {
			return err
		}
	}
	return nil
}

// parseRego parses one module in the requested or detected Rego version.
func parseRego(name, text string, want RegoVersion) (*ast.Module, error) {
	parse := func(v ast.RegoVersion) (*ast.Module, error) {
		return ast.ParseModuleWithOpts(name, text, ast.ParserOptions{RegoVersion: v})
	}
	switch want {
	case RegoV0:
		return parse(ast.RegoV0)
	case RegoV1:
		return parse(ast.RegoV1)
	case RegoAuto:
	default:
		return nil, fmt.Errorf("parse %s: unknown Rego version %q", name, want)
	}
	m1, err1 := parse(ast.RegoV1)
	if err1 == nil {
		if importsFutureKeywords(m1) {
			if m0, err0 := parse(ast.RegoV0); err0 == nil {
				return m0, nil
			}
		}
		return m1, nil
	}
	m0, err0 := parse(ast.RegoV0)
	if err0 == nil {
		return m0, nil
	}
	// Neither parses: the version that read further is the one the author
	// meant, and its error is the useful one.
	if errorPos(err0) > errorPos(err1) {
		return nil, err0
	}
	return nil, err1
}

func importsFutureKeywords(m *ast.Module) bool {
	for _, imp := range m.Imports {
		if r, ok := imp.Path.Value.(ast.Ref); ok && len(r) >= 2 && r[0].Equal(ast.FutureRootDocument) &&
			r[1].Equal(ast.InternedTerm("keywords")) {
			return true
		}
	}
	return false
}

func errorPos(err error) int {
	var errs ast.Errors
	if !errors.As(err, &errs) || len(errs) == 0 || errs[0].Location == nil {
		return 0
	}
	return errs[0].Location.Row*10000 + errs[0].Location.Col
}

// compileErrors turns OPA's errors into CompileErrors, mapping Rego embedded
// in YAML back to the YAML file's lines.
func compileErrors(set string, err error, where map[string]regoPlace) CompileErrors {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		return CompileErrors{{Set: set, Code: "rego_error", Message: err.Error()}}
	}
	out := make(CompileErrors, 0, len(errs))
	for _, e := range errs {
		ce := &CompileError{Set: set, Code: e.Code, Message: e.Message}
		if e.Location != nil {
			ce.File, ce.Line, ce.Column = e.Location.File, e.Location.Row, e.Location.Col
			if p, ok := where[ce.File]; ok {
				ce.File, ce.Line, ce.Column = p.file, ce.Line+p.lineOffset, ce.Column+p.colOffset
			}
		}
		out = append(out, ce)
	}
	slices.SortFunc(out, func(a, b *CompileError) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return out
}
