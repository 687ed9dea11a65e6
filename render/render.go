package render

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// Renderer renders apps with configurable limits and cluster facts. The
// zero value is ready to use with DefaultLimits; a Renderer is safe for
// concurrent use.
type Renderer struct {
	// Limits bound what one render may read and build; zero fields take
	// DefaultLimits.
	Limits Limits
	// KubeVersion is Helm's Capabilities.KubeVersion when the app sets
	// none: the target cluster's version. Default:
	// config.KubeLibraryVersion().
	KubeVersion string
	// Scope tells whether kinds unknown to gantry are namespaced, usually
	// from the target cluster's discovery; nil treats them as namespaced.
	Scope ScopeFunc
	// Lane, when set, names whose input this is (the bot: the repository
	// of a pull request). A render abandoned at its deadline keeps its CPU
	// until it ends on its own, so renders of a lane wait, within their own
	// deadline, until the lane's abandoned renders have ended: pushing a
	// runaway chart again and again leaves no more renders running, and
	// other lanes never wait.
	Lane string

	// SOPS are the age keys that open the repository's SOPS-encrypted
	// files (see sops.go); nil holds none, and an encrypted file is then
	// refused by name.
	SOPS *sopsdecrypt.Keys

	// hooks lets tests see a render's progress; nil outside tests.
	hooks *renderHooks
}

// renderHooks are called at points of a render, for tests that must
// coordinate with a render still running.
type renderHooks struct {
	// templating is called as Helm's template engine starts, templated
	// when it returns.
	templating, templated func()
	// once skips the second run of Helm's template engine, for the
	// benchmark that measures what it costs.
	once bool
}

// Render renders one app of the repository checked out at repoRoot with
// the default Renderer. See Renderer.Render.
func Render(ctx context.Context, repoRoot string, app config.App) ([]*unstructured.Unstructured, SourceMap, error) {
	var r Renderer
	return r.Render(ctx, repoRoot, app)
}

// Render turns the app's directory into Kubernetes objects: plain YAML,
// Kustomize or Helm as app.Render says (detected when empty), then the
// app's default namespace and its post-render patches. Objects come sorted
// CRDs, Namespaces, then by kind, namespace and name, each in the source
// map. A failure is one *Error or an errors.Join of several, each naming
// the app, file and line; use AsErrors.
func (r *Renderer) Render(ctx context.Context, repoRoot string, app config.App) ([]*unstructured.Unstructured, SourceMap, error) {
	lim := r.Limits.orDefault()
	if err := ctx.Err(); err != nil {
		return nil, nil, withApp(app.Name, err)
	}
	rctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	if err := stuck.wait(rctx, r.Lane); err != nil {
		if err := ctx.Err(); err != nil {
			return nil, nil, &Error{App: app.Name, Msg: fmt.Sprintf("render not started: %v", err), Err: err}
		}
		return nil, nil, &Error{
			App: app.Name,
			Msg: fmt.Sprintf("render not started within its time limit of %s: an earlier render of %s, abandoned at its deadline, is still running", lim.Timeout, r.Lane),
			Err: fmt.Errorf("%w: %w", ErrLimit, context.DeadlineExceeded),
		}
	}
	type result struct {
		objs []*unstructured.Unstructured
		sm   SourceMap
		err  error
	}
	done := make(chan result, 1)
	var fate renderFate // guarded by stuck.mu
	go func() {
		objs, sm, err := r.renderApp(rctx, repoRoot, app, lim)
		stuck.ended(r.Lane, &fate)
		done <- result{objs, sm, err}
	}()
	select {
	case res := <-done:
		return res.objs, res.sm, res.err
	case <-rctx.Done():
	}
	if !stuck.leave(r.Lane, &fate) { // finished as the deadline came
		res := <-done
		return res.objs, res.sm, res.err
	}
	// Helm's template engine and Kustomize cannot be interrupted: the
	// render is left to finish on its own, its result unread, and counted.
	abandoned.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, nil, &Error{App: app.Name, Msg: fmt.Sprintf("render abandoned: %v", err), Err: err}
	}
	return nil, nil, &Error{
		App: app.Name,
		Msg: fmt.Sprintf("render abandoned after its time limit of %s", lim.Timeout),
		Err: fmt.Errorf("%w: %w", ErrLimit, context.DeadlineExceeded),
	}
}

// abandoned counts renders left running past their deadline.
var abandoned atomic.Uint64

// stuck tracks, by lane, the abandoned renders still running.
var stuck = stuckRenders{lanes: map[string]*stuckLane{}}

// stuckRenders are the abandoned renders still running, by lane.
type stuckRenders struct {
	mu    sync.Mutex
	lanes map[string]*stuckLane
}

// stuckLane is a lane's abandoned renders still running; over is closed
// when the last ends.
type stuckLane struct {
	n    int
	over chan struct{}
}

// wait returns when lane has no abandoned render running, or ctx's error.
func (s *stuckRenders) wait(ctx context.Context, lane string) error {
	if lane == "" {
		return nil
	}
	for {
		s.mu.Lock()
		l := s.lanes[lane]
		s.mu.Unlock()
		if l == nil {
			return nil
		}
		select {
		case <-l.over:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// renderFate is how a render's goroutine ends: still running, finished
// with its result read, or abandoned.
type renderFate uint8

const (
	renderRunning renderFate = iota
	renderFinished
	renderAbandoned
)

// leave marks a render past its deadline abandoned, unless it has already
// finished (then it returns false and its result is waiting).
func (s *stuckRenders) leave(lane string, fate *renderFate) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *fate == renderFinished {
		return false
	}
	*fate = renderAbandoned
	if lane != "" {
		l := s.lanes[lane]
		if l == nil {
			l = &stuckLane{over: make(chan struct{})}
			s.lanes[lane] = l
		}
		l.n++
	}
	return true
}

// ended is told by a render's goroutine as it ends: an abandoned render
// leaves its lane; one still awaited is marked finished, never abandoned.
func (s *stuckRenders) ended(lane string, fate *renderFate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *fate == renderRunning {
		*fate = renderFinished
		return
	}
	if l := s.lanes[lane]; lane != "" && l != nil {
		if l.n--; l.n == 0 {
			close(l.over)
			delete(s.lanes, lane)
		}
	}
}

// Abandoned returns how many renders this process has abandoned at their
// deadline (or their caller's cancellation) while they were still
// running, for a metric: each may still hold memory and CPU until it ends
// on its own.
func Abandoned() uint64 { return abandoned.Load() }

// renderApp is Render without the deadline: it reads the checkout through
// a confined view and recovers the libraries' panics.
func (r *Renderer) renderApp(ctx context.Context, repoRoot string, app config.App, lim Limits) (objs []*unstructured.Unstructured, sm SourceMap, err error) {
	defer func() {
		if p := recover(); p != nil {
			objs, sm = nil, nil
			err = withApp(app.Name, fmt.Errorf("render panicked: %v", p))
		}
	}()
	fsys, err := newRepoFS(ctx, repoRoot, lim)
	if err != nil {
		return nil, nil, withApp(app.Name, err)
	}
	defer fsys.close()
	fsys.sops.keys = r.SOPS
	out, errs := r.render(ctx, fsys, app)
	if len(errs) > 0 {
		err := withApp(app.Name, errors.Join(errs...))
		for _, e := range AsErrors(err) {
			// Libraries name files by absolute path; the checkout's
			// location means nothing to the pull request's author.
			e.Msg = strings.ReplaceAll(e.Msg, fsys.root+string(filepath.Separator), "")
			// A library may quote what it read, decrypted values too.
			e.Msg = fsys.scrub(e.Msg)
		}
		return nil, nil, err
	}
	objs = make([]*unstructured.Unstructured, len(out))
	sm = make(SourceMap, len(out))
	for i, o := range out {
		objs[i] = o.obj
		sm[KeyOf(o.obj)] = o.src
	}
	return objs, sm, nil
}

// render runs the app's renderer and the steps common to all of them.
func (r *Renderer) render(ctx context.Context, fsys *repoFS, app config.App) ([]rendered, []error) {
	dir := pathJoin(app.Path)
	if _, err := fsys.resolve(dir); err != nil {
		if isNotExist(err) {
			return nil, []error{fileError(dir, 0, ErrInvalid, "app path %s is not a directory in the repository", dir)}
		}
		return nil, []error{locate(err, dir, "app path: %v", err)}
	}
	if !fsys.IsDir(dir) {
		return nil, []error{fileError(dir, 0, ErrInvalid, "app path %s is not a directory in the repository", dir)}
	}
	kind := app.Render
	if kind == "" {
		kind = detect(fsys, dir)
	}
	var out []rendered
	var errs []error
	switch kind {
	case config.RenderYAML:
		out, errs = renderPlain(fsys, app)
	case config.RenderKustomize:
		out, errs = renderKustomize(ctx, fsys, app)
	case config.RenderHelm:
		out, errs = r.renderHelm(ctx, fsys, app)
	default:
		return nil, []error{&Error{Msg: fmt.Sprintf("unknown render kind %q, want yaml, kustomize or helm", kind), Err: ErrInvalid}}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if err := ctx.Err(); err != nil {
		return nil, []error{err}
	}
	if len(out) > fsys.lim.MaxObjects {
		return nil, []error{fileError(dir, 0, ErrLimit, "app renders %d objects, over the limit of %d", len(out), fsys.lim.MaxObjects)}
	}
	ns := app.Namespace
	if ns == "" {
		ns = config.DefaultNamespace
	}
	defaultNamespaces(out, ns, r.Scope)
	out, errs = applyPatches(fsys, app, ns, out, r.Scope)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := duplicates(out); len(errs) > 0 {
		return nil, errs
	}
	if errs := fsys.checkDecrypted(out); len(errs) > 0 {
		return nil, errs
	}
	markUnstable(out)
	sortObjects(out)
	return out, nil
}

// duplicates reports objects rendered twice under the same key.
func duplicates(objs []rendered) []error {
	seen := make(map[ObjectKey]Source, len(objs))
	var errs []error
	for _, o := range objs {
		k := KeyOf(o.obj)
		if first, dup := seen[k]; dup {
			errs = append(errs, fileError(o.src.File, o.src.Line, ErrInvalid,
				"%s is rendered twice (also at %s:%d)", describe(o.obj), first.File, first.Line))
			continue
		}
		seen[k] = o.src
	}
	return errs
}

// Detect returns how the app directory appPath of the repository at
// repoRoot is rendered when its app does not say: helm with a Chart.yaml,
// kustomize with a kustomization file, yaml otherwise.
func Detect(ctx context.Context, repoRoot, appPath string) (config.RenderKind, error) {
	fsys, err := newRepoFS(ctx, repoRoot, DefaultLimits())
	if err != nil {
		return "", err
	}
	defer fsys.close()
	return detect(fsys, pathJoin(appPath)), nil
}

// detect is Detect on an open repository view.
func detect(fsys *repoFS, dir string) config.RenderKind {
	if present(fsys, pathJoin(dir, "Chart.yaml")) {
		return config.RenderHelm
	}
	if kustomizationFile(fsys, dir) != "" {
		return config.RenderKustomize
	}
	return config.RenderYAML
}

// kustomizationFile returns the repository path of dir's kustomization
// file, or "" when it has none.
func kustomizationFile(fsys *repoFS, dir string) string {
	for _, n := range config.KustomizationFiles {
		p := pathJoin(dir, n)
		if present(fsys, p) && !fsys.IsDir(p) {
			return p
		}
	}
	return ""
}

// present reports whether something is at p: a file or directory inside
// the repository, or a hostile entry (a symlink out of it) that reading
// will refuse by name rather than take for absent.
func present(fsys *repoFS, p string) bool {
	_, err := fsys.fs.Resolve(p)
	return err == nil || !isNotExist(err)
}
