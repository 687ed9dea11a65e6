package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gantryops/gantry/repofs"
)

// KustomizationFiles are the names Kustomize accepts for a
// kustomization, in its order; render finds them by the same list.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// DetectRender says how a directory renders: helm when it holds
// Chart.yaml, kustomize when it holds a kustomization file, else yaml.
// It reads through the confined reader, rooted at dir.
func DetectRender(dir string) RenderKind {
	fsys, err := repofs.Open(context.Background(), dir, repofs.Limits{})
	if err != nil {
		return RenderYAML
	}
	defer fsys.Close()
	return detectRender(fsys, ".")
}

// detectRender is DetectRender for a directory of an open checkout.
func detectRender(fsys *repofs.FS, dir string) RenderKind {
	if fsys.IsFile(path.Join(dir, "Chart.yaml")) {
		return RenderHelm
	}
	for _, k := range KustomizationFiles {
		if fsys.IsFile(path.Join(dir, k)) {
			return RenderKustomize
		}
	}
	return RenderYAML
}

// detectRenders fills in the render kind of apps that name none.
func (r *Repo) detectRenders(fsys *repofs.FS) {
	for i := range r.Apps {
		a := &r.Apps[i]
		if a.Render == "" {
			a.Render = detectRender(fsys, path.Clean(a.Path))
		}
		if a.Render == RenderHelm && a.Helm == nil {
			a.Helm = &Helm{ReleaseName: a.Name}
		}
	}
}

// Discover finds the apps of a repository that has no .gantry.yaml:
//   - every directory with a kustomization file, except those another
//     kustomization uses as a base or component;
//   - every directory with Chart.yaml, except library charts and charts
//     vendored under another chart's charts/;
//   - under each discovery root (srv.Discovery.Roots, default apps/ and
//     clusters/), every immediate subdirectory holding manifests and no
//     kustomization or chart, as a plain-YAML app.
//
// Hidden directories are skipped. Apps go to the server's default cluster.
// Every read goes through the confined reader (repofs).
func Discover(root string, srv *Server) (*Repo, error) {
	fsys, err := openRepo(root)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	return discover(fsys, srv)
}

// discover is Discover on an open checkout.
func discover(fsys *repofs.FS, srv *Server) (*Repo, error) {
	roots := DefaultDiscoveryRoots
	if srv != nil && len(srv.Discovery.Roots) > 0 {
		roots = srv.Discovery.Roots
	}
	var kustomizeDirs, chartDirs []string
	used := map[string]bool{} // directories a kustomization pulls in
	err := fsys.WalkDir(".", func(rel string, e fs.DirEntry, err error) error {
		if rel != "." && strings.HasPrefix(path.Base(rel), ".") {
			if e != nil && e.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, repofs.ErrOutside) {
				return nil // a link out of the checkout holds no app
			}
			return fmt.Errorf("discover apps: %w", err)
		}
		if !e.IsDir() {
			return nil
		}
		switch detectRender(fsys, rel) {
		case RenderHelm:
			if !isLibraryChart(fsys, path.Join(rel, "Chart.yaml")) {
				chartDirs = append(chartDirs, rel)
			}
			return fs.SkipDir // templates and vendored charts are the chart's
		case RenderKustomize:
			kustomizeDirs = append(kustomizeDirs, rel)
			for _, ref := range kustomizationRefs(fsys, rel) {
				used[path.Clean(path.Join(rel, ref))] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	repo := &Repo{Version: RepoVersion, Discovered: true}
	taken := map[string]bool{}
	add := func(dir string, kind RenderKind) {
		repo.Apps = append(repo.Apps, App{Name: appName(dir, roots, taken), Path: dir, Render: kind})
	}
	for _, d := range kustomizeDirs {
		if !used[d] {
			add(d, RenderKustomize)
		}
	}
	for _, d := range chartDirs {
		add(d, RenderHelm)
	}
	for _, r := range roots {
		dirs, err := fsys.ReadDir(path.Clean(r))
		if err != nil {
			continue // a root that does not exist holds no apps
		}
		for _, e := range dirs {
			dir := path.Join(r, e.Name())
			if !fsys.IsDir(dir) || strings.HasPrefix(e.Name(), ".") || containsApp(dir, kustomizeDirs, chartDirs) {
				continue
			}
			if hasManifests(fsys, dir) {
				add(dir, RenderYAML)
			}
		}
	}
	sort.Slice(repo.Apps, func(i, j int) bool { return repo.Apps[i].Path < repo.Apps[j].Path })
	repo.detectRenders(fsys)
	repo.applyDefaults(srv)
	return repo, nil
}

// kustomizationRefs lists the local directories a kustomization uses.
func kustomizationRefs(fsys *repofs.FS, dir string) []string {
	for _, k := range KustomizationFiles {
		data, err := fsys.ReadFile(path.Join(dir, k))
		if err != nil {
			continue
		}
		var kz struct {
			Resources  []string `yaml:"resources"`
			Bases      []string `yaml:"bases"`
			Components []string `yaml:"components"`
		}
		if yaml.Unmarshal(data, &kz) != nil {
			return nil
		}
		var refs []string
		for _, r := range append(append(kz.Resources, kz.Bases...), kz.Components...) {
			if !strings.Contains(r, "://") && !strings.HasSuffix(r, ".yaml") && !strings.HasSuffix(r, ".yml") {
				refs = append(refs, r)
			}
		}
		return refs
	}
	return nil
}

func isLibraryChart(fsys *repofs.FS, file string) bool {
	data, err := fsys.ReadFile(file)
	if err != nil {
		return false
	}
	var c struct {
		Type string `yaml:"type"`
	}
	return yaml.Unmarshal(data, &c) == nil && c.Type == "library"
}

// containsApp reports whether dir is, or holds, a kustomize or helm app.
func containsApp(dir string, lists ...[]string) bool {
	for _, l := range lists {
		for _, d := range l {
			if d == dir || strings.HasPrefix(d, dir+"/") {
				return true
			}
		}
	}
	return false
}

func hasManifests(fsys *repofs.FS, dir string) bool {
	found := false
	_ = fsys.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || found {
			return fs.SkipAll
		}
		switch strings.ToLower(path.Ext(p)) {
		case ".yaml", ".yml", ".json":
			found = !e.IsDir()
		}
		return nil
	})
	return found
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// appName derives a unique app name from a directory: the path without
// its discovery root, lower-cased, with '-' between the parts.
func appName(dir string, roots []string, taken map[string]bool) string {
	rel := dir
	for _, r := range roots {
		if s, ok := strings.CutPrefix(dir, strings.TrimSuffix(r, "/")+"/"); ok {
			rel = s
			break
		}
	}
	name := strings.Trim(nonName.ReplaceAllString(strings.ToLower(rel), "-"), "-")
	if name == "" {
		name = "root"
	}
	if len(name) > maxAppName-4 {
		name = strings.Trim(name[len(name)-(maxAppName-4):], "-")
	}
	unique := name
	for i := 2; taken[unique]; i++ {
		unique = fmt.Sprintf("%s-%d", name, i)
	}
	taken[unique] = true
	return unique
}
