package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// dnsLabel is what app names and namespaces must look like: they become
// Lease names, label values, check names and branch names.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxAppName keeps "gantry-lock-<app>" and "gantry/drift/<app>" within
// Kubernetes' 63-character names.
const maxAppName = 50

// LoadRepo reads root/.gantry.yaml, validates it against srv (nil skips
// the checks that need the server configuration) and applies defaults.
// Without a .gantry.yaml the apps are discovered (see Discover).
func LoadRepo(root string, srv *Server) (*Repo, error) {
	file := filepath.Join(root, RepoFileName)
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return Discover(root, srv)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return parseRepo(RepoFileName, data, root, srv)
}

// ParseRepo parses and validates a .gantry.yaml without a checkout: what
// needs the repository's files (paths that exist, render detection) is not
// checked. file names the source in errors.
func ParseRepo(file string, data []byte, srv *Server) (*Repo, error) {
	return parseRepo(file, data, "", srv)
}

func parseRepo(file string, data []byte, root string, srv *Server) (*Repo, error) {
	r := &Repo{File: file}
	d, err := parseDocument(file, data, r)
	if err != nil {
		return nil, err
	}
	if !d.has("") {
		return nil, &FieldError{File: file, Msg: "empty file: want at least `version: 1` and `apps:`"}
	}
	validateRepo(d, r, root, srv)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	if root != "" {
		r.detectRenders(root)
	}
	r.applyDefaults(srv)
	return r, nil
}

var (
	renderKinds = []string{string(RenderYAML), string(RenderKustomize), string(RenderHelm)}
	driftModes  = []string{string(DriftPR), string(DriftRemediate), string(DriftNotify), string(DriftOff)}
	applyModes  = []string{string(ApplyOnMerge), string(ApplyOnCommand)}
)

// oneOf checks an enumerated value; empty means "default".
func oneOf(d *decoder, field, got string, allowed []string) {
	if got == "" {
		return
	}
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	d.errAt(field, "%q is not one of %s%s", got, strings.Join(allowed, ", "), didYouMean(got, allowed))
}

// repoPath checks a path relative to the repository root: not absolute,
// not leaving the repository, and, when root is known, existing.
func repoPath(d *decoder, field, p, root string, wantDir bool) {
	if p == "" {
		d.errAt(field, "must not be empty")
		return
	}
	if strings.Contains(p, `\`) || filepath.IsAbs(p) || path.IsAbs(p) {
		d.errAt(field, "%q must be relative to the repository root", p)
		return
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		d.errAt(field, "%q leaves the repository", p)
		return
	}
	if root == "" {
		return
	}
	full := filepath.Join(root, filepath.FromSlash(clean))
	fi, err := os.Stat(full)
	switch {
	case err != nil:
		d.errAt(field, "%q does not exist in the repository", p)
		return
	case wantDir && !fi.IsDir():
		d.errAt(field, "%q is not a directory", p)
		return
	}
	// A symlink inside the repository must not lead outside it.
	real, err1 := filepath.EvalSymlinks(full)
	realRoot, err2 := filepath.EvalSymlinks(root)
	if err1 == nil && err2 == nil {
		if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			d.errAt(field, "%q leads outside the repository through a symbolic link", p)
		}
	}
}

func validateRepo(d *decoder, r *Repo, root string, srv *Server) {
	switch {
	case !d.has("version"):
		d.errAt("version", "missing: this build reads `version: %d`", RepoVersion)
	case r.Version != RepoVersion:
		d.errAt("version", "%d is not supported: this build reads version %d", r.Version, RepoVersion)
	}
	if !d.has("apps") && !d.has("policies") {
		d.errAt("apps", "missing: list the apps, or delete the file to discover them")
	}
	names := map[string]string{}
	for i := range r.Apps {
		validateApp(d, fmt.Sprintf("apps[%d]", i), &r.Apps[i], root, srv, names)
	}
	for i, p := range r.Policies.Paths {
		repoPath(d, fmt.Sprintf("policies.paths[%d]", i), p, root, true)
	}
}

func validateApp(d *decoder, f string, a *App, root string, srv *Server, names map[string]string) {
	switch {
	case a.Name == "":
		d.errAt(f+".name", "missing: every app needs a unique name")
	case len(a.Name) > maxAppName || !dnsLabel.MatchString(a.Name):
		d.errAt(f+".name", "%q must be lower-case letters, digits and '-', at most %d characters", a.Name, maxAppName)
	case names[a.Name] != "":
		d.errAt(f+".name", "%q is already the name of %s (line %d)", a.Name, names[a.Name], d.nodeOf(names[a.Name]+".name").Line)
	default:
		names[a.Name] = f
	}
	if !d.has(f + ".path") {
		d.errAt(f+".path", "missing: the app's directory, relative to the repository root")
	} else {
		repoPath(d, f+".path", a.Path, root, true)
	}
	oneOf(d, f+".render", string(a.Render), renderKinds)
	oneOf(d, f+".drift", string(a.Drift), driftModes)
	oneOf(d, f+".apply", string(a.Apply), applyModes)
	if a.Namespace != "" && !dnsLabel.MatchString(a.Namespace) {
		d.errAt(f+".namespace", "%q is not a valid namespace name", a.Namespace)
	}
	if a.Helm != nil && a.Render != "" && a.Render != RenderHelm {
		d.errAt(f+".helm", "only for `render: helm`, but this app renders with %s", a.Render)
	}
	if srv != nil {
		switch {
		case a.Cluster != "" && srv.cluster(a.Cluster) == nil:
			d.errAt(f+".cluster", "%q is not a cluster of this gantry server (it knows %s)%s",
				a.Cluster, quoteList(srv.clusterNames()), didYouMean(a.Cluster, srv.clusterNames()))
		case a.Cluster == "" && srv.DefaultCluster == "":
			d.errAt(f+".cluster", "missing, and the server has no defaultCluster (it knows %s)", quoteList(srv.clusterNames()))
		}
	}
	for i, p := range a.Patches {
		repoPath(d, fmt.Sprintf("%s.patches[%d]", f, i), p, root, false)
	}
	for i, g := range a.WhenModified {
		if !doublestar.ValidatePattern(g) || strings.HasPrefix(path.Clean(g), "..") || path.IsAbs(g) {
			d.errAt(fmt.Sprintf("%s.whenModified[%d]", f, i), "%q is not a glob relative to the repository root", g)
		}
	}
	for i, g := range a.Exclude {
		if !doublestar.ValidatePattern(g) {
			d.errAt(fmt.Sprintf("%s.exclude[%d]", f, i), "%q is not a valid glob", g)
		}
	}
	for i, rule := range a.Ignore {
		rf := fmt.Sprintf("%s.ignore[%d]", f, i)
		if len(rule.Pointers) == 0 && len(rule.Managers) == 0 {
			d.errAt(rf, "ignores nothing: give pointers or managers")
		}
		for j, p := range rule.Pointers {
			if !strings.HasPrefix(p, "/") {
				d.errAt(fmt.Sprintf("%s.pointers[%d]", rf, j), "%q is not a JSON pointer (it starts with /, e.g. /spec/replicas)", p)
			}
		}
	}
	if a.Helm != nil {
		for i, v := range a.Helm.Values {
			if path.IsAbs(v) || strings.HasPrefix(path.Clean(v), "..") {
				d.errAt(fmt.Sprintf("%s.helm.values[%d]", f, i), "%q must be a file inside the chart directory", v)
			}
		}
	}
}

func quoteList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// applyDefaults makes every default explicit, so that downstream code
// never guesses. Render detection needs the files and is done by
// DetectRender.
func (r *Repo) applyDefaults(srv *Server) {
	if len(r.Policies.Namespaces) == 0 {
		r.Policies.Namespaces = []string{DefaultPolicyNamespace}
	}
	for i := range r.Apps {
		a := &r.Apps[i]
		if a.Namespace == "" {
			a.Namespace = DefaultNamespace
		}
		if a.Cluster == "" && srv != nil {
			a.Cluster = srv.DefaultCluster
		}
		if a.Drift == "" {
			a.Drift = DefaultDriftMode
			if srv != nil && srv.Drift.Mode != "" {
				a.Drift = srv.Drift.Mode
			}
		}
		if a.Apply == "" {
			a.Apply = DefaultApplyMode
		}
		if a.Prune == nil {
			t := true
			a.Prune = &t
		}
		if a.HealthTimeout == 0 {
			a.HealthTimeout = Duration(DefaultHealthTimeout)
		}
		if a.Render == RenderHelm || a.Helm != nil {
			if a.Helm == nil {
				a.Helm = &Helm{}
			}
			if a.Helm.ReleaseName == "" {
				a.Helm.ReleaseName = a.Name
			}
			if a.Helm.KubeVersion == "" && srv != nil {
				if c := srv.cluster(a.Cluster); c != nil {
					a.Helm.KubeVersion = c.KubeVersion
				}
			}
		}
		a.Path = path.Clean(a.Path)
	}
}
