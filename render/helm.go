package render

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/strvals"

	"github.com/gantryops/gantry/config"

	"github.com/gantryops/gantry/excerpt"
)

// helmHookAnnotation marks a Helm hook; test hooks are left out of the
// render, other hooks kept.
const helmHookAnnotation = "helm.sh/hook"

// renderHelm renders the chart at the app's path as `helm template`
// would, through the Helm SDK: vendored dependencies only, the app's values
// files and set values, its release name and namespace, and the target
// cluster's Kubernetes version. CRDs under crds/ are included; NOTES.txt
// and test hooks are not.
func (r *Renderer) renderHelm(ctx context.Context, fsys *repoFS, app config.App) ([]rendered, []error) {
	dir := pathJoin(app.Path)
	chartFile := pathJoin(dir, "Chart.yaml")
	h := app.Helm
	if h == nil {
		h = &config.Helm{}
	}
	files, err := chartFiles(fsys, dir)
	if err != nil {
		return nil, []error{locate(err, dir, "load chart: %v", err)}
	}
	chrt, err := loadChart(files)
	if err != nil {
		return nil, []error{fileError(chartFile, 0, ErrInvalid, "load chart: %v", err)}
	}
	if chrt.Metadata.Type == "library" {
		return nil, []error{fileError(chartFile, 0, ErrInvalid, "chart %s is a library chart, which renders nothing", chrt.Name())}
	}
	if errs := checkVendored(fsys, chartFile, chrt); len(errs) > 0 {
		return nil, errs
	}
	vals, errs := helmValues(fsys, app.Name, dir, h)
	if len(errs) > 0 {
		return nil, errs
	}
	kubeVersion := h.KubeVersion
	if kubeVersion == "" {
		kubeVersion = r.KubeVersion
	}
	if kubeVersion == "" {
		kubeVersion = config.KubeLibraryVersion()
	}
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		if h.KubeVersion == "" {
			return nil, []error{fileError("", 0, ErrInvalid, "helm kubeVersion %s (the target cluster's): %v", excerpt.Quote(kubeVersion), err)}
		}
		line := gantryKeyLine(fsys, app.Name, "", "helm", "kubeVersion")
		return nil, []error{fileError(config.RepoFileName, line, ErrInvalid, "helm.kubeVersion %s: %v", excerpt.Quote(kubeVersion), err)}
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	caps.APIVersions = append(caps.APIVersions, h.APIVersions...)
	if c := chrt.Metadata.KubeVersion; c != "" && !chartutil.IsCompatibleRange(c, kv.String()) {
		return nil, []error{fileError(chartFile, 0, ErrInvalid, "chart requires kubeVersion %s, incompatible with Kubernetes %s", c, kv.String())}
	}
	release := h.ReleaseName
	if release == "" {
		release = app.Name
	}
	ns := app.Namespace
	if ns == "" {
		ns = config.DefaultNamespace
	}
	inputs, err := chartInputs(files, vals, release, ns, kv, h.APIVersions)
	if err != nil {
		return nil, []error{fileError(chartFile, 0, ErrInvalid, "%v", err)}
	}
	paths := newChartPaths(dir, files)
	if r.hooks != nil && r.hooks.templating != nil {
		r.hooks.templating()
	}
	out, again, err := renderChart(chrt, vals, release, ns, caps, r.hooks == nil || !r.hooks.once)
	if r.hooks != nil && r.hooks.templated != nil {
		r.hooks.templated()
	}
	if err != nil {
		file, line := paths.locate(err.Error())
		if file == "" {
			file = chartFile
		}
		return nil, []error{fileError(file, line, ErrInvalid, "render chart: %v", err)}
	}
	if err := ctx.Err(); err != nil {
		return nil, []error{err}
	}
	objs, errs := helmObjects(fsys, chrt, out, paths)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := detectUnstable(fsys, objs, out, again, paths, inputs); len(errs) > 0 {
		return nil, errs
	}
	return objs, nil
}

// renderChart runs Helm's dependency processing, then its template engine
// twice over the same chart and values (each run on its own copy of the
// values, which templates may change): second is the output of the second
// run (nil without twice), for finding the fields that are not
// deterministic. Helm's panics are recovered.
func renderChart(chrt *chart.Chart, vals map[string]any, release, ns string, caps *chartutil.Capabilities, twice bool) (out, second map[string]string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, second, err = nil, nil, fmt.Errorf("helm panicked: %v", p)
		}
	}()
	if err := chartutil.ProcessDependenciesWithMerge(chrt, vals); err != nil {
		return nil, nil, err
	}
	opts := chartutil.ReleaseOptions{Name: release, Namespace: ns, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(chrt, vals, opts, caps)
	if err != nil {
		return nil, nil, err
	}
	// The engine gets no cluster client, so `lookup` finds nothing, and
	// no DNS, so `getHostByName` resolves nothing: a render opens no
	// socket.
	e := engine.Engine{EnableDNS: false}
	if out, err = e.Render(chrt, withValuesCopy(rv)); err != nil {
		return nil, nil, err
	}
	if !twice {
		return out, nil, nil
	}
	if second, err = e.Render(chrt, withValuesCopy(rv)); err != nil {
		return nil, nil, err
	}
	return out, second, nil
}

// withValuesCopy returns the render values with .Values deep-copied.
func withValuesCopy(rv chartutil.Values) chartutil.Values {
	out := make(chartutil.Values, len(rv))
	for k, v := range rv {
		out[k] = v
	}
	out["Values"] = copyValues(rv["Values"])
	return out
}

// helmObjects decodes the chart's CRDs and rendered templates into objects
// (see decodeTemplates).
func helmObjects(fsys *repoFS, chrt *chart.Chart, out map[string]string, paths *chartPaths) ([]rendered, []error) {
	var objs []rendered
	var errs []error
	for _, crd := range chrt.CRDObjects() {
		got, cerrs := helmDecode(fsys, paths.repoPath(crd.Filename), string(crd.File.Data), nil)
		objs, errs = append(objs, got...), append(errs, cerrs...)
	}
	got, terrs := decodeTemplates(fsys, out, paths)
	return append(objs, got...), append(errs, terrs...)
}

// decodeTemplates decodes the rendered templates in out, by name,
// leaving out NOTES.txt and test hooks and marking other hooks.
func decodeTemplates(fsys *repoFS, out map[string]string, paths *chartPaths) ([]rendered, []error) {
	var objs []rendered
	var errs []error
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "NOTES.txt") || strings.TrimSpace(out[n]) == "" {
			continue
		}
		got, terrs := helmDecode(fsys, paths.repoPath(n), helmManifest(out[n]), paths.template(n))
		objs, errs = append(objs, got...), append(errs, terrs...)
	}
	return objs, errs
}

// helmDecode decodes one file of a chart's output within the app's
// budgets; template, when known, places each document on its line.
func helmDecode(fsys *repoFS, file, body string, template []byte) ([]rendered, []error) {
	var objs []rendered
	if err := fsys.charge(file, int64(len(body))); err != nil {
		return nil, []error{err}
	}
	docs, err := fsys.decode(file, []byte(body))
	if err != nil {
		return nil, []error{err}
	}
	if template != nil {
		starts := docStarts(template)
		for i := range docs {
			if len(starts) == len(docs) {
				docs[i].Line = starts[i]
			} else {
				docs[i].Line = 1
			}
		}
	}
	got, errs := objectsFromDocs(file, docs)
	for _, o := range got {
		hook := o.obj.GetAnnotations()[helmHookAnnotation]
		if isTestHook(hook) {
			continue
		}
		o.src.HelmHook = hook
		objs = append(objs, o)
	}
	return objs, errs
}

// helmManifest returns a template's output as Helm itself hands it on:
// split into documents by Helm's own splitter, each document trimmed of
// surrounding white space and ended by one newline, as `helm template`
// prints them and `helm install` applies a release's manifests. (Install
// applies hooks without that newline; gantry follows `helm template`, the
// goldens' reference, for hooks too.) Decoding the engine's raw output
// instead differs where a document ends in a block scalar: a template
// ending in "key: |\n  {}" with no final newline, as after `{{- end -}}`,
// gives "{}" raw but "{}\n" through Helm, and a "|+" block's trailing
// blank lines and spaces become Helm's single newline.
func helmManifest(out string) string {
	docs := releaseutil.SplitManifests(out)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString("---\n")
		b.WriteString(docs[k])
		b.WriteString("\n")
	}
	return b.String()
}

// isTestHook reports whether a helm.sh/hook value names a test hook.
func isTestHook(hook string) bool {
	for _, h := range strings.Split(hook, ",") {
		switch strings.TrimSpace(h) {
		case "test", "test-success", "test-failure":
			return true
		}
	}
	return false
}

// docSeparator is a YAML document separator line.
var docSeparator = regexp.MustCompile(`^---\s*($|#)`)

// docStarts returns the first line of each non-empty document of a
// template's source, so a rendered document can be mapped back to its
// template line when the counts agree.
func docStarts(src []byte) []int {
	var starts []int
	start := 0
	for i, l := range strings.Split(string(src), "\n") {
		if docSeparator.MatchString(l) {
			start = 0
			continue
		}
		t := strings.TrimSpace(l)
		if start == 0 && t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "{{-") && !strings.HasPrefix(t, "{{/*") {
			start = i + 1
			starts = append(starts, start)
		}
	}
	return starts
}

// chartFiles reads the chart directory through the confined view, minus
// what .helmignore and Helm's defaults leave out, as Helm's loader would.
func chartFiles(fsys *repoFS, dir string) ([]*loader.BufferedFile, error) {
	rules := ignore.Empty()
	if data, err := fsys.ReadFile(pathJoin(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("read %s: %w", ignore.HelmIgnore, err)
		}
	}
	rules.AddDefaults()
	names, err := fsys.listFiles(dir, false)
	if err != nil {
		return nil, err
	}
	var files []*loader.BufferedFile
	for _, name := range names {
		rel := strings.TrimPrefix(name, dir+"/")
		if dir == "." {
			rel = name
		}
		if ignoredByHelm(fsys, rules, dir, rel) {
			continue
		}
		data, err := fsys.ReadFile(name)
		if err != nil {
			return nil, err
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: bytes.TrimPrefix(data, []byte{0xEF, 0xBB, 0xBF})})
	}
	return files, nil
}

// ignoredByHelm applies .helmignore rules to a chart file and its parent
// directories.
func ignoredByHelm(fsys *repoFS, rules *ignore.Rules, dir, rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i <= len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := fsys.fs.Stat(pathJoin(dir, p))
		if err != nil {
			return false
		}
		if rules.Ignore(p, fi) {
			return true
		}
	}
	return false
}

// loadChart builds a chart from its files, recovering the loader's panics.
func loadChart(files []*loader.BufferedFile) (c *chart.Chart, err error) {
	defer func() {
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("helm chart loader panicked: %v", p)
		}
	}()
	return loader.LoadFiles(files)
}

// checkVendored reports each dependency of Chart.yaml (recursively) that
// is not vendored under charts/, on the line that declares it.
func checkVendored(fsys *repoFS, chartFile string, c *chart.Chart) []error {
	var errs []error
	for _, d := range c.Metadata.Dependencies {
		found := false
		for _, sub := range c.Dependencies() {
			if sub.Name() == d.Name {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, fileError(chartFile, dependencyLine(fsys, chartFile, d.Name), ErrInvalid,
				"dependency %s is not vendored under charts/: run `helm dependency build` and commit charts/ (gantry never downloads charts)", d.Name))
		}
	}
	for _, sub := range c.Dependencies() {
		errs = append(errs, checkVendored(fsys, path.Join(path.Dir(chartFile), "charts", sub.Name(), "Chart.yaml"), sub)...)
	}
	return errs
}

// dependencyLine finds the line of a dependency's name in Chart.yaml.
func dependencyLine(fsys *repoFS, chartFile, name string) int {
	data, err := fsys.ReadFile(chartFile)
	if err != nil {
		return 0
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return 0
	}
	for _, d := range seqItems(mapValue(doc.Content[0], "dependencies")) {
		if n := mapValue(d, "name"); n != nil && n.Value == name {
			return n.Line
		}
	}
	return 0
}

// helmValues merges the app's values files (relative to the chart
// directory, read strictly) in order, then its set values. A values file
// that is missing or leads outside is reported on its .gantry.yaml line,
// where the fix is.
func helmValues(fsys *repoFS, app, dir string, h *config.Helm) (map[string]any, []error) {
	vals := map[string]any{}
	var errs []error
	for i, v := range h.Values {
		file := pathJoin(dir, v)
		if strings.HasPrefix(file, "../") || file == ".." || path.IsAbs(v) {
			errs = append(errs, fileError(config.RepoFileName, gantryItemLine(fsys, app, i, "helm", "values"), ErrOutsideRepo,
				"helm.values entry %s leads outside the repository: values files are relative to the chart directory %s", excerpt.Quote(v), dir))
			continue
		}
		data, err := fsys.ReadFile(file)
		if isNotExist(err) {
			errs = append(errs, fileError(config.RepoFileName, gantryItemLine(fsys, app, i, "helm", "values"), ErrInvalid,
				"helm.values entry %s: %s does not exist; values files are relative to the chart directory %s", excerpt.Quote(v), file, dir))
			continue
		}
		if err != nil {
			errs = append(errs, locate(err, file, "read values file: %v", err))
			continue
		}
		docs, err := fsys.decode(file, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if hasTopLevelSOPS(docs) {
			errs = append(errs, fileError(file, lineOf(data, sopsKeyLine), ErrSOPS,
				"%s is a SOPS-encrypted values file: gantry does not decrypt Helm values (nor does Flux's helm-controller); keep the Secret in a plain-YAML or Kustomize app, encrypted there", file))
			continue
		}
		m, err := chartutil.ReadValues(data)
		if err != nil {
			errs = append(errs, fileError(file, 0, ErrInvalid, "read values file: %v", err))
			continue
		}
		vals = mergeValues(vals, m)
	}
	keys := make([]string, 0, len(h.Set))
	for k := range h.Set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := strvals.ParseInto(k+"="+h.Set[k], vals); err != nil {
			errs = append(errs, fileError(config.RepoFileName, gantryKeyLine(fsys, app, k, "helm", "set"), ErrInvalid, "helm.set %s: %v", excerpt.Quote(k), err))
		}
	}
	return vals, errs
}

// mergeValues merges b into a, recursively for nested maps, b winning.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// chartPaths maps Helm's template names ("shop/charts/redis/templates/x")
// back to repository paths, through the chart names found in each
// vendored Chart.yaml.
type chartPaths struct {
	dir   string
	files map[string][]byte // chart-relative name -> content
	// subdirs maps a chart-relative directory and a subchart's name to the
	// directory it is vendored in.
	subdirs map[string]string
}

func newChartPaths(dir string, files []*loader.BufferedFile) *chartPaths {
	p := &chartPaths{dir: dir, files: map[string][]byte{}, subdirs: map[string]string{}}
	for _, f := range files {
		p.files[f.Name] = f.Data
		if path.Base(f.Name) != "Chart.yaml" {
			continue
		}
		subdir := path.Dir(f.Name)
		parent := path.Dir(subdir)
		if path.Base(parent) != "charts" {
			continue
		}
		var md struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(f.Data, &md) == nil && md.Name != "" {
			p.subdirs[path.Dir(parent)+"|"+md.Name] = subdir
		}
	}
	return p
}

// chartRelative turns a template name into a chart-relative path.
func (p *chartPaths) chartRelative(name string) string {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return name
	}
	cur, rest := ".", parts[1:]
	for len(rest) >= 2 && rest[0] == "charts" {
		sub, ok := p.subdirs[cur+"|"+rest[1]]
		if !ok {
			sub = pathJoin(cur, "charts", rest[1])
		}
		cur, rest = sub, rest[2:]
	}
	return pathJoin(append([]string{cur}, rest...)...)
}

// repoPath turns a template name into a repository path.
func (p *chartPaths) repoPath(name string) string {
	return pathJoin(p.dir, p.chartRelative(name))
}

// template returns a template's source, nil when unknown (a packaged
// subchart).
func (p *chartPaths) template(name string) []byte {
	return p.files[p.chartRelative(name)]
}

// helmErrorLocation finds "chart/templates/x.yaml:12" in Helm's errors.
var helmErrorLocation = regexp.MustCompile(`([\w.\-]+(?:/[\w.\-]+)+\.(?:yaml|yml|tpl|txt|json)):(\d+)`)

// locate returns the repository file and line a Helm error points at.
func (p *chartPaths) locate(msg string) (string, int) {
	m := helmErrorLocation.FindStringSubmatch(msg)
	if m == nil {
		return "", 0
	}
	line, _ := strconv.Atoi(m[2])
	return p.repoPath(m[1]), line
}
