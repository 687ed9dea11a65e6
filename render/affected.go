package render

import (
	"context"
	"path"
	"reflect"
	"strings"

	"github.com/gantryops/gantry/config"
)

// Affected returns the names of repo's apps that a change to the given
// repository paths touches, in the order of repo.Apps. An app is touched
// when a changed path is under its path, matches one of its whenModified
// globs, is under one of its patches entries, or is under one of deps[app]
// (the files and directories its render reads elsewhere, from
// Dependencies). A change to .gantry.yaml touches the apps whose definition
// differs from base's (all apps when base is nil). It reads nothing.
func Affected(repo config.Repo, base *config.Repo, deps map[string][]string, changed []string) []string {
	var out []string
	modelChanged := false
	for _, c := range changed {
		if pathJoin(c) == config.RepoFileName {
			modelChanged = true
		}
	}
	for _, app := range repo.Apps {
		if modelChanged && definitionChanged(app, base) {
			out = append(out, app.Name)
			continue
		}
		prefixes := append([]string{app.Path}, app.Patches...)
		prefixes = append(prefixes, deps[app.Name]...)
		for _, c := range changed {
			c = pathJoin(c)
			if underAny(c, prefixes) || matchAny(c, app.WhenModified) {
				out = append(out, app.Name)
				break
			}
		}
	}
	return out
}

// definitionChanged reports whether app is new or different in base.
func definitionChanged(app config.App, base *config.Repo) bool {
	if base == nil {
		return true
	}
	for _, b := range base.Apps {
		if b.Name == app.Name {
			return !reflect.DeepEqual(app, b)
		}
	}
	return true
}

// underAny reports whether p is one of prefixes or below one.
func underAny(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		pre = pathJoin(pre)
		if pre == "." || p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// matchAny reports whether p matches one of the globs.
func matchAny(p string, globs []string) bool {
	for _, g := range globs {
		if matchGlob(g, p) {
			return true
		}
	}
	return false
}

// Dependencies returns the repository paths, files or directories, that
// rendering app reads outside its own path: the bases, components and
// files a kustomization pulls in from other directories, and Helm values
// files kept outside the chart. When the app cannot be scanned (a broken
// kustomization), it returns what it found with the error.
func Dependencies(ctx context.Context, repoRoot string, app config.App) ([]string, error) {
	fsys, err := newRepoFS(ctx, repoRoot, DefaultLimits())
	if err != nil {
		return nil, err
	}
	defer fsys.close()
	dir := pathJoin(app.Path)
	kind := app.Render
	if kind == "" {
		kind = detect(fsys, dir)
	}
	var deps []string
	outside := func(p string) {
		if !underAny(p, []string{dir}) {
			deps = append(deps, p)
		}
	}
	switch kind {
	case config.RenderKustomize:
		d, errs := scanKustomization(fsys, dir)
		for _, p := range d.Dirs {
			outside(p)
		}
		for _, p := range d.Files {
			outside(p)
		}
		if len(errs) > 0 {
			return deps, withApp(app.Name, errs[0])
		}
	case config.RenderHelm:
		if app.Helm != nil {
			for _, v := range app.Helm.Values {
				outside(path.Clean(path.Join(dir, v)))
			}
		}
	}
	return deps, nil
}

// AffectedApps is Affected with each app's dependencies read from the
// repository at repoRoot. An app whose dependencies cannot be read counts
// as affected, so that its render error is reported.
func AffectedApps(ctx context.Context, repoRoot string, repo config.Repo, base *config.Repo, changed []string) []string {
	deps := map[string][]string{}
	broken := map[string]bool{}
	for _, app := range repo.Apps {
		d, err := Dependencies(ctx, repoRoot, app)
		deps[app.Name] = d
		if err != nil {
			broken[app.Name] = true
		}
	}
	hit := map[string]bool{}
	for _, n := range Affected(repo, base, deps, changed) {
		hit[n] = true
	}
	var out []string
	for _, app := range repo.Apps {
		if hit[app.Name] || broken[app.Name] {
			out = append(out, app.Name)
		}
	}
	return out
}
