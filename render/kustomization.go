package render

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// kustDeps is what a kustomization pulls in from the repository, found by
// reading the kustomization files before Kustomize runs.
type kustDeps struct {
	// Dirs are the kustomization directories reached: the app's own, its
	// bases and components, recursively.
	Dirs []string
	// Files are the other files the kustomizations name.
	Files []string
}

// helmInKustomize is the message for Helm inflation inside a kustomization.
const helmInKustomize = "helm charts inside a kustomization are not rendered by gantry: " +
	"make the chart its own app with render: helm in .gantry.yaml"

// kustScanner walks a kustomization and everything it references,
// refusing remote references, paths outside the repository, plugins and
// Helm inflation, with the line of each offending entry.
type kustScanner struct {
	fsys  *repoFS
	dirs  map[string]bool
	files map[string]bool
	errs  []error
}

// scanKustomization checks the kustomization in dir and what it pulls in.
func scanKustomization(fsys *repoFS, dir string) (kustDeps, []error) {
	s := &kustScanner{fsys: fsys, dirs: map[string]bool{}, files: map[string]bool{}}
	s.dir(dir, "", 0)
	var d kustDeps
	for k := range s.dirs {
		d.Dirs = append(d.Dirs, k)
	}
	for k := range s.files {
		d.Files = append(d.Files, k)
	}
	sort.Strings(d.Dirs)
	sort.Strings(d.Files)
	return d, s.errs
}

func (s *kustScanner) fail(file string, line int, cause error, format string, args ...any) {
	s.errs = append(s.errs, fileError(file, line, cause, format, args...))
}

// dir scans the kustomization of a directory reached from referrer:line.
func (s *kustScanner) dir(dir, referrer string, line int) {
	if s.dirs[dir] {
		return
	}
	s.dirs[dir] = true
	kfile := kustomizationFile(s.fsys, dir)
	if kfile == "" {
		if referrer == "" {
			s.fail(dir, 0, ErrInvalid, "no kustomization.yaml in %s", dir)
		} else {
			s.fail(referrer, line, ErrInvalid, "%s has no kustomization.yaml", dir)
		}
		return
	}
	data, err := s.fsys.ReadFile(s.fsys.abs(kfile))
	if err != nil {
		s.fail(kfile, 0, err, "%v", err)
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		s.errs = append(s.errs, yamlSyntaxError(kfile, err))
		return
	}
	if len(doc.Content) == 0 {
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		s.fail(kfile, root.Line, ErrInvalid, "kustomization is not a mapping")
		return
	}
	for _, key := range []string{"helmCharts", "helmChartInflationGenerator", "helmGlobals"} {
		if v := mapValue(root, key); v != nil {
			s.fail(kfile, v.Line, ErrPlugin, "%s: %s", key, helmInKustomize)
		}
	}
	for _, key := range []string{"resources", "bases", "components"} {
		for _, e := range seqScalars(mapValue(root, key)) {
			s.reference(dir, kfile, key, e)
		}
	}
	for _, key := range []string{"generators", "transformers", "validators"} {
		for _, e := range seqScalars(mapValue(root, key)) {
			s.plugin(dir, kfile, key, e)
		}
	}
	for _, e := range s.fileFields(root) {
		if isRemote(e.Value) {
			s.fail(kfile, e.Line, ErrRemote, "%q is remote: gantry renders only what is in the repository", e.Value)
			continue
		}
		if p, ok := s.local(dir, e.Value); ok {
			s.files[p] = true
		}
	}
}

// reference checks one entry of resources, bases or components.
func (s *kustScanner) reference(dir, kfile, key string, e *yaml.Node) {
	ref := e.Value
	if isRemote(ref) {
		s.fail(kfile, e.Line, ErrRemote, "%s entry %q is remote: gantry renders only what is in the repository, vendor it", key, ref)
		return
	}
	target := pathJoin(dir, ref)
	if strings.HasPrefix(target, "../") || target == ".." || path.IsAbs(ref) {
		s.fail(kfile, e.Line, ErrOutsideRepo, "%s entry %q leads outside the repository", key, ref)
		return
	}
	if _, err := s.fsys.resolve(s.fsys.abs(target)); err != nil {
		if isNotExist(err) {
			s.fail(kfile, e.Line, ErrRemote, "%s entry %q is not in the repository (remote bases are not allowed)", key, ref)
			return
		}
		s.fail(kfile, e.Line, err, "%s entry %q: %v", key, ref, err)
		return
	}
	if s.fsys.IsDir(s.fsys.abs(target)) {
		s.dir(target, kfile, e.Line)
		return
	}
	s.files[target] = true
}

// plugin checks one entry of generators, transformers or validators: a
// file of plugin configs, a kustomization directory of them, or an inline
// config.
func (s *kustScanner) plugin(dir, kfile, key string, e *yaml.Node) {
	if strings.Contains(e.Value, "\n") || strings.Contains(e.Value, "apiVersion:") || strings.Contains(e.Value, "kind:") {
		docs, err := decodeYAML(kfile, []byte(e.Value), s.fsys.lim)
		if err != nil {
			s.fail(kfile, e.Line, ErrInvalid, "inline %s entry: %v", key, err)
			return
		}
		for _, d := range docs {
			s.pluginConfig(kfile, e.Line, d.Value)
		}
		return
	}
	if isRemote(e.Value) {
		s.fail(kfile, e.Line, ErrRemote, "%s entry %q is remote: gantry renders only what is in the repository", key, e.Value)
		return
	}
	target, ok := s.local(dir, e.Value)
	if !ok {
		s.fail(kfile, e.Line, ErrOutsideRepo, "%s entry %q is not a file in the repository", key, e.Value)
		return
	}
	if s.fsys.IsDir(s.fsys.abs(target)) {
		s.dir(target, kfile, e.Line)
		return
	}
	s.files[target] = true
	data, err := s.fsys.ReadFile(s.fsys.abs(target))
	if err != nil {
		s.fail(kfile, e.Line, err, "%s entry %q: %v", key, e.Value, err)
		return
	}
	docs, err := decodeYAML(target, data, s.fsys.lim)
	if err != nil {
		s.errs = append(s.errs, err)
		return
	}
	for _, d := range docs {
		s.pluginConfig(target, d.Line, d.Value)
	}
}

// functionAnnotations mark a kustomize KRM function (container or exec).
var functionAnnotations = []string{"config.kubernetes.io/function", "config.k8s.io/function"}

// pluginConfig refuses any plugin config but kustomize's builtins.
func (s *kustScanner) pluginConfig(file string, line int, v any) {
	m, _ := v.(map[string]any)
	if m == nil {
		return
	}
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	md, _ := m["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	for _, a := range functionAnnotations {
		if _, ok := ann[a]; ok {
			s.fail(file, line, ErrPlugin, "%s %s is a KRM function (annotation %s): exec and container plugins are not allowed", apiVersion, kind, a)
			return
		}
	}
	if kind == "HelmChartInflationGenerator" {
		s.fail(file, line, ErrPlugin, "%s: %s", kind, helmInKustomize)
		return
	}
	if apiVersion != "builtin" {
		s.fail(file, line, ErrPlugin, "plugin %s %s is not allowed: only kustomize's builtin generators and transformers run", apiVersion, kind)
	}
}

// fileFields returns the entries of a kustomization that name files:
// patches, generator sources, configurations, CRDs, replacements, OpenAPI.
func (s *kustScanner) fileFields(root *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, key := range []string{"configurations", "crds"} {
		out = append(out, seqScalars(mapValue(root, key))...)
	}
	for _, e := range seqScalars(mapValue(root, "patchesStrategicMerge")) {
		if !strings.Contains(e.Value, "\n") {
			out = append(out, e)
		}
	}
	for _, key := range []string{"patches", "patchesJson6902", "replacements"} {
		for _, item := range seqItems(mapValue(root, key)) {
			if p := mapValue(item, "path"); p != nil && p.Kind == yaml.ScalarNode {
				out = append(out, p)
			}
		}
	}
	for _, key := range []string{"configMapGenerator", "secretGenerator"} {
		for _, item := range seqItems(mapValue(root, key)) {
			for _, f := range seqScalars(mapValue(item, "files")) {
				v := *f
				if i := strings.Index(v.Value, "="); i >= 0 {
					v.Value = v.Value[i+1:]
				}
				out = append(out, &v)
			}
			out = append(out, seqScalars(mapValue(item, "envs"))...)
			if env := mapValue(item, "env"); env != nil && env.Kind == yaml.ScalarNode {
				out = append(out, env)
			}
		}
	}
	if p := mapValue(mapValue(root, "openapi"), "path"); p != nil && p.Kind == yaml.ScalarNode {
		out = append(out, p)
	}
	return out
}

// local resolves a reference relative to dir to a repository path that
// exists inside the repository.
func (s *kustScanner) local(dir, ref string) (string, bool) {
	if ref == "" || isRemote(ref) || path.IsAbs(ref) {
		return "", false
	}
	target := pathJoin(dir, ref)
	if strings.HasPrefix(target, "../") || target == ".." {
		return "", false
	}
	if _, err := s.fsys.resolve(s.fsys.abs(target)); err != nil {
		return "", false
	}
	return target, true
}

// seqItems returns the items of a sequence node, or nil.
func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// seqScalars returns the scalar items of a sequence node.
func seqScalars(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, it := range seqItems(n) {
		if it.Kind == yaml.ScalarNode {
			out = append(out, it)
		}
	}
	return out
}

// remotePrefixes start references Kustomize would fetch over the network.
var remotePrefixes = []string{"github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::", "ssh://", "https://", "http://", "file://"}

// isRemote reports whether a kustomization reference names a URL or a git
// repository rather than a path.
func isRemote(ref string) bool {
	if strings.Contains(ref, "://") {
		return true
	}
	for _, p := range remotePrefixes {
		if strings.HasPrefix(ref, p) {
			return true
		}
	}
	return strings.Contains(ref, "?ref=") || strings.Contains(ref, ".git/") || strings.HasSuffix(ref, ".git")
}

// isNotExist reports a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
