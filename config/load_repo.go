package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/gantryops/gantry/repofs"

	"github.com/gantryops/gantry/excerpt"
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
//
// Every read goes through the confined reader (repofs): a .gantry.yaml
// that is a symlink leading outside the checkout, a FIFO or a device is
// refused with an error naming .gantry.yaml, never its target or content.
func LoadRepo(root string, srv *Server) (*Repo, error) {
	fsys, err := openRepo(root)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	data, err := fsys.ReadFile(RepoFileName)
	if errors.Is(err, fs.ErrNotExist) {
		return discover(fsys, srv)
	}
	if err != nil {
		return nil, &FieldError{File: RepoFileName, Msg: readProblem(err)}
	}
	return parseRepo(RepoFileName, data, fsys, srv)
}

// openRepo opens the confined view of a checkout that loading reads
// through; .gantry.yaml itself is capped at maxConfigSize.
func openRepo(root string) (*repofs.FS, error) {
	fsys, err := repofs.Open(context.Background(), root, repofs.Limits{MaxFileBytes: maxConfigSize, MaxTotalBytes: maxDiscoveryBytes})
	if err != nil {
		return nil, fmt.Errorf("load repository configuration: %w", err)
	}
	return fsys, nil
}

// maxDiscoveryBytes bounds what loading and discovery read in total.
const maxDiscoveryBytes = 64 << 20

// readProblem says why a file of the checkout could not be read, without
// the file system's own text (which names host paths).
func readProblem(err error) string {
	switch {
	case errors.Is(err, repofs.ErrOutside):
		return "leads outside the repository (a symbolic link?); gantry reads only files inside the checkout"
	case errors.Is(err, repofs.ErrNotRegular):
		return "is not a regular file (a FIFO, socket or device)"
	case errors.Is(err, repofs.ErrTooLarge):
		return fmt.Sprintf("is larger than the %d bytes allowed", maxConfigSize)
	case errors.Is(err, repofs.ErrBudget):
		return "the repository's configuration files are too large in total"
	default:
		return "cannot be read"
	}
}

// ParseRepo parses and validates a .gantry.yaml without a checkout: what
// needs the repository's files (paths that exist, render detection) is not
// checked. file names the source in errors.
func ParseRepo(file string, data []byte, srv *Server) (*Repo, error) {
	return parseRepo(file, data, nil, srv)
}

// parseRepo parses and validates a .gantry.yaml; with fsys (the checkout)
// it also checks paths and detects renders.
func parseRepo(file string, data []byte, fsys *repofs.FS, srv *Server) (*Repo, error) {
	r := &Repo{File: file}
	d, err := parseDocument(file, data, r)
	if err != nil {
		return nil, err
	}
	if !d.has("") {
		return nil, &FieldError{File: file, Msg: "empty file: want at least `version: 1` and `apps:`"}
	}
	validateRepo(d, r, fsys, srv)
	if err := d.errs.err(); err != nil {
		return nil, err
	}
	if fsys != nil {
		r.detectRenders(fsys)
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
	d.errAt(field, "%s is not one of %s%s", excerpt.Quote(got), strings.Join(allowed, ", "), didYouMean(got, allowed))
}

// repoPath checks a path relative to the repository root: not absolute,
// not leaving the repository, and, with the checkout, existing inside it
// (symlinks followed only while they stay inside).
func repoPath(d *decoder, field, p string, fsys *repofs.FS, wantDir bool) {
	if p == "" {
		d.errAt(field, "must not be empty")
		return
	}
	if strings.Contains(p, `\`) || filepath.IsAbs(p) || path.IsAbs(p) {
		d.errAt(field, "%s must be relative to the repository root", excerpt.Quote(p))
		return
	}
	clean := path.Clean(p)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		d.errAt(field, "%s leaves the repository", excerpt.Quote(p))
		return
	}
	if fsys == nil {
		return
	}
	fi, err := fsys.Stat(clean)
	switch {
	case errors.Is(err, repofs.ErrOutside):
		d.errAt(field, "%s leads outside the repository through a symbolic link", excerpt.Quote(p))
	case err != nil:
		d.errAt(field, "%s does not exist in the repository", excerpt.Quote(p))
	case wantDir && !fi.IsDir():
		d.errAt(field, "%s is not a directory", excerpt.Quote(p))
	}
}

func validateRepo(d *decoder, r *Repo, fsys *repofs.FS, srv *Server) {
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
		validateApp(d, fmt.Sprintf("apps[%d]", i), &r.Apps[i], fsys, srv, names)
	}
	validatePromotions(d, r)
	for i, p := range r.Policies.Paths {
		repoPath(d, fmt.Sprintf("policies.paths[%d]", i), p, fsys, true)
	}
}

func validateApp(d *decoder, f string, a *App, fsys *repofs.FS, srv *Server, names map[string]string) {
	switch {
	case a.Name == "":
		d.errAt(f+".name", "missing: every app needs a unique name")
	case len(a.Name) > maxAppName || !dnsLabel.MatchString(a.Name):
		d.errAt(f+".name", "%s must be lower-case letters, digits and '-', at most %d characters", excerpt.Quote(a.Name), maxAppName)
	case names[a.Name] != "":
		d.errAt(f+".name", "%s is already the name of %s (line %d)", excerpt.Quote(a.Name), names[a.Name], d.nodeOf(names[a.Name]+".name").Line)
	default:
		names[a.Name] = f
	}
	if !d.has(f + ".path") {
		d.errAt(f+".path", "missing: the app's directory, relative to the repository root")
	} else {
		repoPath(d, f+".path", a.Path, fsys, true)
	}
	oneOf(d, f+".render", string(a.Render), renderKinds)
	oneOf(d, f+".drift", string(a.Drift), driftModes)
	oneOf(d, f+".apply", string(a.Apply), applyModes)
	oneOf(d, f+".onFailure", string(a.OnFailure), onFailureModes)
	if a.Namespace != "" && !dnsLabel.MatchString(a.Namespace) {
		d.errAt(f+".namespace", "%s is not a valid namespace name", excerpt.Quote(a.Namespace))
	}
	if a.Helm != nil && a.Render != "" && a.Render != RenderHelm {
		d.errAt(f+".helm", "only for `render: helm`, but this app renders with %s", a.Render)
	}
	if srv != nil {
		switch {
		case a.Cluster != "" && a.Cluster != NoCluster && srv.cluster(a.Cluster) == nil:
			d.errAt(f+".cluster", "%s is not a cluster of this gantry server (it knows %s)%s",
				excerpt.Quote(a.Cluster), quoteList(srv.clusterNames()), didYouMean(a.Cluster, srv.clusterNames()))
		case a.Cluster == "" && srv.DefaultCluster == "":
			d.errAt(f+".cluster", "missing, and the server has no defaultCluster (it knows %s)", quoteList(srv.clusterNames()))
		}
	}
	for i, p := range a.Patches {
		repoPath(d, fmt.Sprintf("%s.patches[%d]", f, i), p, fsys, false)
	}
	for i, g := range a.WhenModified {
		if !doublestar.ValidatePattern(g) || strings.HasPrefix(path.Clean(g), "..") || path.IsAbs(g) {
			d.errAt(fmt.Sprintf("%s.whenModified[%d]", f, i), "%s is not a glob relative to the repository root", excerpt.Quote(g))
		}
	}
	for i, g := range a.Exclude {
		if !doublestar.ValidatePattern(g) {
			d.errAt(fmt.Sprintf("%s.exclude[%d]", f, i), "%s is not a valid glob", excerpt.Quote(g))
		}
	}
	for i, rule := range a.Ignore {
		rf := fmt.Sprintf("%s.ignore[%d]", f, i)
		if len(rule.Pointers) == 0 && len(rule.Managers) == 0 {
			d.errAt(rf, "ignores nothing: give pointers or managers")
		}
		for j, p := range rule.Pointers {
			if !strings.HasPrefix(p, "/") {
				d.errAt(fmt.Sprintf("%s.pointers[%d]", rf, j), "%s is not a JSON pointer (it starts with /, e.g. /spec/replicas)", excerpt.Quote(p))
			}
		}
	}
	if a.Helm != nil {
		for i, v := range a.Helm.Values {
			if path.IsAbs(v) || strings.HasPrefix(path.Clean(v), "..") {
				d.errAt(fmt.Sprintf("%s.helm.values[%d]", f, i), "%s must be a file inside the chart directory", excerpt.Quote(v))
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
		if a.OnFailure == "" {
			a.OnFailure = OnFailureRevertPR
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
		if a.Promote != nil {
			if a.Promote.After == "" {
				a.Promote.After = PromoteAfterHealthy
			}
			if a.Promote.Soak == nil {
				s := Duration(DefaultPromoteSoak)
				a.Promote.Soak = &s
			}
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
