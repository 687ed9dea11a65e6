package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// loadApps reads the repository model and keeps the apps named (all when
// none is). The CLI runs without a server configuration: clusters come
// from the kubeconfig, so apps are not checked against known clusters.
func loadApps(dir string, names []string) ([]config.App, error) {
	repo, err := config.LoadRepo(dir, nil)
	if err != nil {
		return nil, err
	}
	if len(repo.Apps) == 0 {
		return nil, noApps(dir, repo)
	}
	if len(names) == 0 {
		return repo.Apps, nil
	}
	byName := map[string]config.App{}
	var all []string
	for _, a := range repo.Apps {
		byName[a.Name] = a
		all = append(all, a.Name)
	}
	var out []config.App
	for _, n := range names {
		a, ok := byName[n]
		if !ok {
			sort.Strings(all)
			return nil, fmt.Errorf("no app %q in %s (apps: %s)", n, dir, strings.Join(all, ", "))
		}
		out = append(out, a)
	}
	return out, nil
}

// noApps says that a repository holds no apps, where gantry looked and
// how to give it some, rather than rendering nothing and succeeding.
func noApps(dir string, repo *config.Repo) error {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	file := filepath.Join(dir, config.RepoFileName)
	if !repo.Discovered {
		return fmt.Errorf("no apps in %s: %s lists none; add apps: with a name and path for each", dir, file)
	}
	return fmt.Errorf("no apps in %s: there is no %s, and discovery found none "+
		"(it takes every directory with a kustomization or a Chart.yaml, and each subdirectory of %s holding manifests); "+
		"write a %s listing the apps, or give the repository's root with --repo",
		dir, config.RepoFileName, strings.Join(config.DefaultDiscoveryRoots, "/ or ")+"/", config.RepoFileName)
}

// renderRepo loads the apps rf names and renders them, printing every
// render error to stderr; failed says whether any app failed to render.
func renderRepo(cmd *cobra.Command, rf repoFlags) (rs []rendered, failed bool, err error) {
	apps, err := loadApps(rf.repo, rf.apps)
	if err != nil {
		return nil, false, err
	}
	keys, err := rf.sopsKeys()
	if err != nil {
		return nil, false, err
	}
	rs = renderApps(cmd.Context(), rf.repo, apps, keys)
	return rs, reportRenderErrors(cmd.ErrOrStderr(), rs), nil
}

// rendered is one app's render.
type rendered struct {
	app     config.App
	objects []*unstructured.Unstructured
	sources render.SourceMap
	err     error
}

// sourceOf returns the file:line an object of the app was rendered from,
// or "" for an object the render did not produce (a deletion).
func (r rendered) sourceOf(ref cluster.ObjectRef) string {
	apiVersion := ref.Version
	if ref.Group != "" {
		apiVersion = ref.Group + "/" + ref.Version
	}
	src, ok := r.sources[render.ObjectKey{APIVersion: apiVersion, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}]
	if !ok || src.File == "" {
		return ""
	}
	if src.Line == 0 {
		return src.File
	}
	return fmt.Sprintf("%s:%d", src.File, src.Line)
}

// renderApps renders each app, going on past errors so that every broken
// app is reported in one run.
func renderApps(ctx context.Context, dir string, apps []config.App, keys *sopsdecrypt.Keys) []rendered {
	out := make([]rendered, len(apps))
	r := render.Renderer{SOPS: keys}
	for i, a := range apps {
		objs, src, err := r.Render(ctx, dir, a)
		out[i] = rendered{app: a, objects: objs, sources: src, err: err}
	}
	return out
}

// reportRenderErrors prints every render error, one per line with app,
// file and line, and says whether there was any.
func reportRenderErrors(w io.Writer, rs []rendered) bool {
	failed := false
	for _, r := range rs {
		if r.err == nil {
			continue
		}
		failed = true
		errs := render.AsErrors(r.err)
		if len(errs) == 0 {
			fmt.Fprintf(w, "gantry: app %s: %v\n", r.app.Name, r.err)
			continue
		}
		for _, e := range errs {
			fmt.Fprintf(w, "gantry: %v\n", e)
		}
	}
	return failed
}
