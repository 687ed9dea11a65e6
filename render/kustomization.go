package render

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantryops/gantry/config"

	"github.com/gantryops/gantry/excerpt"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// kustDeps is what a kustomization pulls in from the repository, found by
// reading the kustomization files before Kustomize runs.
type kustDeps struct {
	// Dirs are the kustomization directories reached: the app's own, its
	// bases and components, recursively.
	Dirs []string
	// Files are the other files the kustomizations name.
	Files []string
	// SecretSources are the files secretGenerators name, with the SOPS
	// format each is decrypted in when encrypted.
	SecretSources map[string]sopsdecrypt.Format
}

// helmInKustomize is the message for Helm inflation inside a kustomization.
const helmInKustomize = "helm charts inside a kustomization are not rendered by gantry: " +
	"make the chart its own app with render: helm in .gantry.yaml"

// kustomizationKeys are the fields of a kustomization gantry lets through
// to Kustomize, each with what its entries are. A field not listed here is
// refused: gantry must know every path Kustomize would open.
var kustomizationKeys = map[string]kustField{
	"apiVersion": inert, "kind": inert, "metadata": inert,
	"namePrefix": inert, "nameSuffix": inert, "namespace": inert,
	"commonLabels": inert, "labels": inert, "commonAnnotations": inert,
	"images": inert, "imageTags": inert, "replicas": inert, "vars": inert,
	"sortOptions": inert, "generatorOptions": inert, "buildMetadata": inert,
	"resources": references, "bases": references, "components": references,
	"crds": files, "configurations": files,
	"patchesStrategicMerge": inlineOrFiles,
	"patches":               itemPaths, "patchesJson6902": itemPaths, "replacements": itemPaths,
	"configMapGenerator": generatorSources, "secretGenerator": generatorSources,
	"generators": plugins, "transformers": plugins, "validators": plugins,
	"helmCharts": refused, "helmChartInflationGenerator": refused, "helmGlobals": refused,
	"openapi": refused,
}

// kustField says what a kustomization field's entries are.
type kustField int

const (
	inert            kustField = iota // names no file
	references                        // files or kustomization directories
	files                             // files
	inlineOrFiles                     // inline YAML or files
	itemPaths                         // items whose path names a file
	generatorSources                  // items whose files, envs and env name files
	plugins                           // plugin config files or inline configs
	refused                           // never allowed
)

// kustCheck is the outcome of checking one kustomization file.
type kustCheck struct {
	dirs  []located // kustomization directories it references
	files []string  // files it references
	// secretSources are the files its secretGenerators name.
	secretSources map[string]sopsdecrypt.Format
	errs          []error
}

// located is a repository path and the line that names it.
type located struct {
	path string
	line int
}

// checkKustomization checks one kustomization: every field is known, and
// every entry that names a path is a plain local path to something that
// exists inside the repository; remote references, plugins other than
// kustomize's builtins, Helm inflation and custom OpenAPI schemas are
// refused, each with the kustomization's file and line. It runs before
// Kustomize on the app's tree and again whenever the confined view serves
// a kustomization to Kustomize, so Kustomize's own remote loaders are
// never reached, whatever its own detection thinks.
func checkKustomization(f *repoFS, kfile string, data []byte) kustCheck {
	var c kustCheck
	fail := func(line int, cause error, format string, args ...any) {
		c.errs = append(c.errs, fileError(kfile, line, cause, format, args...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		c.errs = append(c.errs, yamlSyntaxError(kfile, err))
		return c
	}
	if len(doc.Content) == 0 {
		return c
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		fail(root.Line, ErrInvalid, "kustomization is not a mapping")
		return c
	}
	dir := path.Dir(kfile)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		field, known := kustomizationKeys[k.Value]
		if !known {
			fail(k.Line, ErrInvalid, "unknown kustomization field %s: gantry lets through only the fields it checks", excerpt.Quote(k.Value))
			continue
		}
		switch field {
		case refused:
			if k.Value == "openapi" {
				fail(v.Line, ErrInvalid, "openapi: a custom schema changes Kustomize's process-wide state, so gantry renders with the built-in schema only")
			} else {
				fail(v.Line, ErrPlugin, "%s: %s", k.Value, helmInKustomize)
			}
		case references:
			for _, e := range seqScalars(v) {
				target, ok := c.local(f, kfile, dir, k.Value, e)
				if !ok {
					continue
				}
				if f.fs.IsDir(target) {
					c.dirs = append(c.dirs, located{target, e.Line})
				} else {
					c.files = append(c.files, target)
				}
			}
		case files:
			for _, e := range seqScalars(v) {
				c.file(f, kfile, dir, k.Value, e)
			}
		case inlineOrFiles:
			for _, e := range seqScalars(v) {
				if !strings.Contains(e.Value, "\n") {
					c.file(f, kfile, dir, k.Value, e)
				}
			}
		case itemPaths:
			for _, item := range seqItems(v) {
				if item.Kind == yaml.ScalarNode {
					c.patchAsString(f, kfile, dir, k.Value, item)
					continue
				}
				if p := mapValue(item, "path"); p != nil {
					c.file(f, kfile, dir, k.Value+" path", p)
				}
				if p := mapValue(item, "patch"); p != nil && k.Value == "patches" {
					c.patchAsFileName(f, kfile, dir, p)
				}
			}
		case generatorSources:
			for _, item := range seqItems(v) {
				for _, e := range generatorFiles(item) {
					c.file(f, kfile, dir, k.Value+" source", e)
				}
				if k.Value == "secretGenerator" {
					c.secretSourcesOf(f, dir, item)
				}
			}
		case plugins:
			for _, e := range seqScalars(v) {
				c.plugin(f, kfile, dir, k.Value, e)
			}
		}
	}
	return c
}

// patchAsString refuses an item of patches, patchesJson6902 or
// replacements written as a bare string: Kustomize wants an item, and its
// own error ("cannot unmarshal string into … types.Patch") names neither
// line nor fix. The message says whether the file exists, so that a
// missing patch file is reported as missing.
func (c *kustCheck) patchAsString(f *repoFS, kfile, dir, key string, e *yaml.Node) {
	msg := fmt.Sprintf("%s entry %s is a string, not an item: name a file with \"- path: %s\"", key, excerpt.Quote(e.Value), excerpt.Short(e.Value))
	if looksLikeFileName(e.Value) && !f.fs.Exists(pathJoin(dir, e.Value)) {
		msg += fmt.Sprintf(", and %s does not exist in the repository", pathJoin(dir, e.Value))
	}
	c.errs = append(c.errs, fileError(kfile, e.Line, ErrInvalid, "%s", msg))
}

// patchAsFileName refuses a patches item whose inline patch is one line
// that cannot be a patch (no key, no list): a file name written under
// patch: instead of path:. Kustomize would print the item back over
// several lines and "unable to parse SM or JSON patch".
func (c *kustCheck) patchAsFileName(f *repoFS, kfile, dir string, p *yaml.Node) {
	if p.Kind != yaml.ScalarNode || !looksLikeFileName(p.Value) {
		return
	}
	msg := fmt.Sprintf("patches entry's patch %s is inline patch text, and a file name is not a patch: name a file with \"path: %s\"", excerpt.Quote(p.Value), excerpt.Short(p.Value))
	if !f.fs.Exists(pathJoin(dir, p.Value)) {
		msg += fmt.Sprintf(" (%s does not exist in the repository either)", pathJoin(dir, p.Value))
	}
	c.errs = append(c.errs, fileError(kfile, p.Line, ErrInvalid, "%s", msg))
}

// looksLikeFileName reports a one-line value with no key or list in it,
// which cannot be an inline patch and is a plain local path.
func looksLikeFileName(v string) bool {
	v = strings.TrimSpace(v)
	return v != "" && !strings.ContainsAny(v, "\n:{}[]") && remoteLooking(v) == ""
}

// generatorFiles returns the nodes naming files in a configMapGenerator or
// secretGenerator item (or a builtin generator's config): files (after a
// "key=" prefix), envs and env.
func generatorFiles(item *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, e := range seqScalars(mapValue(item, "files")) {
		v := *e
		if i := strings.Index(v.Value, "="); i >= 0 {
			v.Value = v.Value[i+1:]
		}
		out = append(out, &v)
	}
	out = append(out, seqScalars(mapValue(item, "envs"))...)
	if env := mapValue(item, "env"); env != nil {
		out = append(out, env)
	}
	return out
}

// secretSourcesOf records the files a secretGenerator item names, in the
// format sops decrypts each in, as Flux does: files: by extension, envs:
// and env: as dotenv. Entries the checks refuse are skipped here.
func (c *kustCheck) secretSourcesOf(f *repoFS, dir string, item *yaml.Node) {
	add := func(e *yaml.Node, format sopsdecrypt.Format) {
		if e.Kind != yaml.ScalarNode || remoteLooking(e.Value) != "" {
			return
		}
		real, err := f.fs.Resolve(pathJoin(dir, e.Value))
		if err != nil {
			return
		}
		if c.secretSources == nil {
			c.secretSources = map[string]sopsdecrypt.Format{}
		}
		if format == "" {
			format = sopsdecrypt.FormatOf(real)
		}
		c.secretSources[real] = format
	}
	for _, e := range seqScalars(mapValue(item, "files")) {
		v := *e
		if i := strings.Index(v.Value, "="); i >= 0 {
			v.Value = v.Value[i+1:]
		}
		add(&v, "")
	}
	for _, e := range seqScalars(mapValue(item, "envs")) {
		add(e, sopsdecrypt.Dotenv)
	}
	if env := mapValue(item, "env"); env != nil {
		add(env, sopsdecrypt.Dotenv)
	}
}

// file checks an entry that must name a file in the repository.
func (c *kustCheck) file(f *repoFS, kfile, dir, key string, e *yaml.Node) {
	if target, ok := c.local(f, kfile, dir, key, e); ok {
		c.files = append(c.files, target)
	}
}

// local checks that an entry is a plain local path, relative to the
// kustomization's directory, to something that exists inside the
// repository; it returns the repository path.
func (c *kustCheck) local(f *repoFS, kfile, dir, key string, e *yaml.Node) (string, bool) {
	fail := func(cause error, format string, args ...any) (string, bool) {
		c.errs = append(c.errs, fileError(kfile, e.Line, cause, format, args...))
		return "", false
	}
	if e.Kind != yaml.ScalarNode {
		return fail(ErrInvalid, "%s entry is not a path", key)
	}
	ref := e.Value
	if why := remoteLooking(ref); why != "" {
		return fail(ErrRemote, "%s entry %s is remote (%s): gantry renders only what is in the repository, vendor it", key, excerpt.Quote(ref), why)
	}
	target := pathJoin(dir, ref)
	if path.IsAbs(ref) || target == ".." || strings.HasPrefix(target, "../") {
		return fail(ErrOutsideRepo, "%s entry %s leads outside the repository", key, excerpt.Quote(ref))
	}
	real, err := f.fs.Resolve(target)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fail(ErrInvalid, "%s entry %s does not exist in the repository", key, excerpt.Quote(ref))
		}
		var cause *Error
		if errors.As(f.fail(target, err), &cause) {
			return fail(cause.Err, "%s entry %s: %s", key, excerpt.Quote(ref), cause.Msg)
		}
		return fail(ErrInvalid, "%s entry %s cannot be read", key, excerpt.Quote(ref))
	}
	if fi, err := f.fs.Stat(real); err != nil || !fi.IsDir() && !fi.Mode().IsRegular() {
		return fail(ErrInvalid, "%s entry %s: %s is not a regular file or a directory", key, excerpt.Quote(ref), target)
	}
	return real, true
}

// plugin checks one entry of generators, transformers or validators: a
// file of plugin configs or an inline config, each of kustomize's builtin
// kinds, whose own path fields are checked like the kustomization's.
func (c *kustCheck) plugin(f *repoFS, kfile, dir, key string, e *yaml.Node) {
	if strings.Contains(e.Value, "\n") || strings.Contains(e.Value, "apiVersion:") || strings.Contains(e.Value, "kind:") {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(e.Value), &n); err != nil || len(n.Content) == 0 {
			c.errs = append(c.errs, fileError(kfile, e.Line, ErrInvalid, "inline %s entry is not YAML", key))
			return
		}
		c.pluginConfig(f, kfile, e.Line, dir, n.Content[0], true)
		return
	}
	target, ok := c.local(f, kfile, dir, key, e)
	if !ok {
		return
	}
	if f.fs.IsDir(target) {
		c.errs = append(c.errs, fileError(kfile, e.Line, ErrPlugin, "%s entry %s is a directory: name the plugin config files", key, excerpt.Quote(e.Value)))
		return
	}
	c.files = append(c.files, target)
	data, err := f.ReadFile(target)
	if err != nil {
		c.errs = append(c.errs, locate(err, target, "%v", err))
		return
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if !errors.Is(err, io.EOF) {
				c.errs = append(c.errs, yamlSyntaxError(target, err))
			}
			return
		}
		if len(n.Content) > 0 {
			c.pluginConfig(f, target, n.Content[0].Line, dir, n.Content[0], false)
		}
	}
}

// functionAnnotations mark a kustomize KRM function (container or exec).
var functionAnnotations = []string{"config.kubernetes.io/function", "config.k8s.io/function"}

// urlLike is a value that starts with a URL scheme.
var urlLike = regexp.MustCompile(`(?i)^\s*[a-z][a-z0-9+.\-]*://`)

// pluginConfig refuses any plugin config but kustomize's builtins, and
// checks the paths a builtin's config names. An inline config's lines are
// those of its entry in file.
func (c *kustCheck) pluginConfig(f *repoFS, file string, line int, dir string, n *yaml.Node, inline bool) {
	fail := func(cause error, format string, args ...any) {
		c.errs = append(c.errs, fileError(file, line, cause, format, args...))
	}
	if n.Kind != yaml.MappingNode {
		fail(ErrPlugin, "plugin config is not a mapping")
		return
	}
	str := func(n *yaml.Node) string {
		if n == nil {
			return ""
		}
		return n.Value
	}
	apiVersion, kind := str(mapValue(n, "apiVersion")), str(mapValue(n, "kind"))
	ann := mapValue(mapValue(n, "metadata"), "annotations")
	for _, a := range functionAnnotations {
		if mapValue(ann, a) != nil {
			fail(ErrPlugin, "%s %s is a KRM function (annotation %s): exec and container plugins are not allowed", excerpt.Short(apiVersion), excerpt.Short(kind), a)
			return
		}
	}
	if kind == "HelmChartInflationGenerator" {
		fail(ErrPlugin, "%s: %s", kind, helmInKustomize)
		return
	}
	if apiVersion != "builtin" {
		fail(ErrPlugin, "plugin %s %s is not allowed: only kustomize's builtin generators and transformers run", excerpt.Short(apiVersion), excerpt.Short(kind))
		return
	}
	// A builtin's paths: path (patch, replacement), and generator sources;
	// anything else that looks like a URL is refused outright.
	var paths []*yaml.Node
	if p := mapValue(n, "path"); p != nil {
		paths = append(paths, p)
	}
	for _, r := range seqItems(mapValue(n, "replacements")) {
		if p := mapValue(r, "path"); p != nil {
			paths = append(paths, p)
		}
	}
	paths = append(paths, generatorFiles(n)...)
	for _, p := range paths {
		e := *p
		if inline {
			e.Line = line
		}
		c.local(f, file, dir, kind, &e)
	}
	walkScalars(n, func(s *yaml.Node) {
		if !strings.Contains(s.Value, "\n") && urlLike.MatchString(s.Value) {
			at := s.Line
			if inline {
				at = line
			}
			c.errs = append(c.errs, fileError(file, at, ErrRemote, "%s config value %s looks like a URL: gantry renders only what is in the repository", kind, excerpt.Quote(s.Value)))
		}
	})
}

// walkScalars calls fn on every scalar under n.
func walkScalars(n *yaml.Node, fn func(*yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.ScalarNode {
		fn(n)
	}
	for _, c := range n.Content {
		walkScalars(c, fn)
	}
}

// remoteLooking says why a kustomization entry could be taken for a remote
// reference by Kustomize (a URL, an scp-style git address, a go-getter
// prefix, a GitHub path), or "" for a plain local path. It is stricter than
// Kustomize: anything with a colon, an "@", a query or a backslash is
// refused, so no spelling reaches Kustomize's git or HTTP loaders.
func remoteLooking(ref string) string {
	lower := strings.ToLower(ref)
	switch {
	case ref == "":
		return "empty"
	case strings.Contains(ref, "://"):
		return "a URL"
	case lower == "github.com" || strings.HasPrefix(lower, "github.com/"):
		return "a GitHub repository; a directory of that name is written ./" + excerpt.Short(ref)
	case strings.Contains(ref, ":"):
		return "a colon: a URL or an scp-style git address"
	case strings.Contains(ref, "@"):
		return "an @: a git address"
	case strings.Contains(ref, "?"):
		return "a query: a git reference"
	case strings.Contains(ref, `\`):
		return "a backslash"
	}
	return ""
}

// kustScanner walks a kustomization and everything it references.
type kustScanner struct {
	fsys  *repoFS
	dirs  map[string]bool
	files map[string]bool
	// secretSources are the secretGenerators' files (kustDeps).
	secretSources map[string]sopsdecrypt.Format
	errs          []error
}

// scanKustomization checks the kustomization in dir and what it pulls in,
// recursively, and returns what it reads.
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
	d.SecretSources = s.secretSources
	return d, s.errs
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
			s.errs = append(s.errs, fileError(dir, 0, ErrInvalid, "no kustomization.yaml in %s", dir))
		} else {
			s.errs = append(s.errs, fileError(referrer, line, ErrInvalid, "%s has no kustomization.yaml", dir))
		}
		return
	}
	data, err := s.fsys.ReadFile(kfile)
	if err != nil {
		s.errs = append(s.errs, locate(err, kfile, "%v", err))
		return
	}
	c := checkKustomization(s.fsys, kfile, data)
	s.errs = append(s.errs, c.errs...)
	for _, f := range c.files {
		s.files[f] = true
	}
	for f, format := range c.secretSources {
		if s.secretSources == nil {
			s.secretSources = map[string]sopsdecrypt.Format{}
		}
		s.secretSources[f] = format
	}
	for _, d := range c.dirs {
		s.dir(d.path, kfile, d.line)
	}
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

// isKustomization reports whether a repository path names a kustomization
// file.
func isKustomization(file string) bool {
	base := path.Base(file)
	for _, n := range config.KustomizationFiles {
		if base == n {
			return true
		}
	}
	return false
}

// isNotExist reports a missing file.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
