package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/gitrestore"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/policy"
	"github.com/gantryops/gantry/render"
	"github.com/gantryops/gantry/renderworker"
	"github.com/gantryops/gantry/schema"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// Pipeline judges pull requests: checkout, affected apps, render, policy
// and live diff, reported as one comment and two check runs.
type Pipeline struct {
	Config    *config.Server
	GitHub    *App
	Checkouts *Checkouts
	Clusters  *Clusters
	// Trusted are the server's policy sets; the repository's come from
	// its base branch.
	Trusted []policy.Source
	// Worker, when set, renders pull request heads in worker processes
	// (render.isolation: process); nil renders them here.
	Worker *renderworker.Process
	// Sidecar, when set, renders pull request heads through a render
	// worker sidecar's socket (render.isolation: sidecar).
	Sidecar *renderworker.Socket
	// WorkDir holds the checkouts of runs in progress.
	WorkDir string
	// Restorer makes the commits of revert pull requests.
	Restorer *gitrestore.Restorer
	// Notify tells the configured receivers of failed applies, revert
	// pull requests and drift; nil sends nothing.
	Notify *notify.Notifier
	// AppConcurrency bounds the apps rendered and diffed at once.
	AppConcurrency int
	Log            *slog.Logger
	// OnStarted, when set, is told when a job's checks are in progress.
	OnStarted func(Job)
	// Seal makes and recognises the markers of gantry's own comments.
	Seal *marker.Sealer
	// Route holds the draft and fork filters every plan passes, whatever
	// started it (webhook, command, re-requested check, resync).
	Route RouteConfig
	// LockWaits measures waits for app locks; nil measures nothing.
	LockWaits *lockWaits
	// SOPS are the age keys of the configuration's sops entries, by key
	// file (LoadSOPSKeys); nil holds none.
	SOPS map[string]*sopsdecrypt.Keys

	mu       sync.Mutex
	engines  map[string]*policy.Engine // by repository and base commit
	engineAt []string                  // insertion order, to bound the cache
}

// Plan runs the pipeline for a pull request's head and publishes the
// result. Its error is returned only when nothing could be published.
func (p *Pipeline) Plan(ctx context.Context, j Job) error {
	_, _, err := p.PlanReport(ctx, j)
	return err
}

// PlanReport is Plan, also returning the report and the comment bodies
// published (nil when the run was cancelled before its end).
func (p *Pipeline) PlanReport(ctx context.Context, j Job) (*report.Report, []string, error) {
	log := p.logger().With(jobAttrs(j)...)
	gh, err := p.GitHub.Client(j.InstallationID)
	if err != nil {
		return nil, nil, err
	}
	// The filters hold for every route, on the pull request as GitHub
	// describes it: a route that did not see it (a command, a re-requested
	// check) has it read first; a pull request event already passed them.
	pr, _, err := gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR)
	if err != nil {
		return nil, nil, fmt.Errorf("read pull request #%d: %w", j.PR, err)
	}
	if !j.PRFiltered {
		if why := excluded(pr, p.Route); why != "" {
			log.Info("plan skipped", "reason", why)
			return nil, nil, &NotProcessedError{Reason: why}
		}
	}
	// Deliveries arrive out of order: the job's head may be older than
	// the pull request's, and its result would be stale.
	if head := pr.GetHead().GetSHA(); head != "" && head != j.HeadSHA {
		return nil, nil, p.skipStale(ctx, gh, j, head, log)
	}
	ids, err := StartChecks(ctx, gh.Checks, j.Owner, j.Repo, j.HeadSHA, j.ResumeChecks, report.CheckDiff, report.CheckPolicy)
	if err != nil {
		return nil, nil, err
	}
	if p.OnStarted != nil {
		p.OnStarted(j)
	}
	rep, stale := p.judge(ctx, gh, j, pr, log)
	// Publishing outlives a cancellation so a superseded run still says so.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	cause := context.Cause(ctx)
	if stale {
		// The checkout met a newer head before its delivery cancelled
		// this run: its result would be stale all the same.
		cause = ErrSuperseded
	}
	if errors.Is(cause, ErrSuperseded) || errors.Is(cause, ErrShutdown) {
		return nil, nil, p.abandon(pctx, gh, j, ids, cause)
	}
	if errors.Is(cause, ErrShardLost) {
		// The shard's next holder takes these checks over, in progress.
		return nil, nil, cause
	}
	bot, err := p.GitHub.BotLogin(pctx)
	if err != nil {
		return &rep, nil, err
	}
	var errs []error
	ov, err := p.findOverride(pctx, gh.Issues, j, bot)
	if err != nil {
		// Without the comments no override can be trusted: the policy
		// check fails on its denies and says why.
		log.Warn("overrides not read", "err", err)
		rep.PolicyErrors = append(rep.PolicyErrors, report.Problem{Message: "recorded policy overrides could not be read: " + err.Error()})
	}
	if ov != nil {
		p.applyOverride(&rep, *ov)
	}
	scope := marker.Scope(j.Owner, j.Repo, j.PR)
	parts := report.Comment(rep, func(n int) string { return p.Seal.MustSeal(marker.KindPart, scope, partPayload{N: n, Head: j.HeadSHA}) })
	if err := PublishComment(pctx, gh.Issues, p.Seal, j.Owner, j.Repo, j.PR, bot, parts); err != nil {
		// The checks complete only with their comment: left in progress,
		// the resync takes this head over and publishes both, instead of
		// green checks beside a missing or half comment.
		log.Warn("plan comment not published: its checks stay in progress for the resync", "err", err)
		return &rep, nil, err
	}
	for _, out := range []report.CheckOutput{report.DiffCheck(rep), report.PolicyCheck(rep)} {
		if err := CompleteCheck(pctx, gh.Checks, j.Owner, j.Repo, ids[out.Name], out); err != nil {
			errs = append(errs, err)
		}
	}
	log.Info("plan published", "apps", len(rep.Apps), "denies", rep.Denies(), "failed", rep.Failed())
	return &rep, parts, errors.Join(errs...)
}

// skipStale ends a plan of a head the pull request has moved past: its
// result would be stale, and the newer head has a plan of its own. Check
// runs a dead run left in progress on the older head are completed as
// cancelled.
func (p *Pipeline) skipStale(ctx context.Context, gh *github.Client, j Job, head string, log *slog.Logger) error {
	if len(j.ResumeChecks) > 0 {
		if err := p.abandon(ctx, gh, j, j.ResumeChecks, ErrSuperseded); err != nil {
			return fmt.Errorf("complete the checks left on %s: %w", shortSHA(j.HeadSHA), err)
		}
	}
	why := "the pull request moved on to " + shortSHA(head)
	log.Info("plan skipped", "reason", why)
	return &NotProcessedError{Reason: why}
}

// abandon completes the checks of a run that stopped before its end.
func (p *Pipeline) abandon(ctx context.Context, gh *github.Client, j Job, ids map[string]int64, cause error) error {
	var errs []error
	for name, id := range ids {
		_, _, err := gh.Checks.UpdateCheckRun(ctx, j.Owner, j.Repo, id, github.UpdateCheckRunOptions{
			Name: name, Status: github.String("completed"), Conclusion: github.String("cancelled"),
			Output: &github.CheckRunOutput{Title: github.String("cancelled"), Summary: github.String(cause.Error())},
		})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// appRenderer renders one app of a checkout: a render.Renderer here, or
// a renderworker.Process in a worker process of its own.
type appRenderer interface {
	Render(ctx context.Context, repoRoot string, app config.App) ([]*unstructured.Unstructured, render.SourceMap, error)
}

// renderer renders apps within the server's render limits. A pull
// request's head renders in its repository's lane (render.Renderer.Lane):
// what its author pushes may loop past the deadline, push after push, and
// its abandoned renders then hold up that repository's plans only. Merged
// code (applies, drift, a base branch) renders in no lane, so a pull
// request never holds it up. With a Worker, a pull request's head renders
// in a worker process, which is killed at the deadline instead; but a
// repository the server holds SOPS keys for renders in the server, since
// the worker holds no credentials and age keys are one. The renderer
// decrypts SOPS files with the age keys the server holds for repo
// ("owner/name").
func (p *Pipeline) renderer(repo, lane string) appRenderer {
	lim := p.Config.Render
	limits := render.Limits{Timeout: lim.Timeout.D(), MaxObjects: lim.MaxObjects}
	keys := p.sopsFor(repo)
	if lane != "" && keys == nil && p.Worker != nil {
		w := *p.Worker
		w.Limits = limits
		return &w
	}
	if lane != "" && keys == nil && p.Sidecar != nil {
		return &renderworker.Socket{Path: p.Sidecar.Path, Limits: limits}
	}
	return &render.Renderer{Limits: limits, Lane: lane, SOPS: keys}
}

func (p *Pipeline) logger() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// judge computes the report; every failure ends up in it, located where
// possible, so the checks fail with the reason instead of the run
// crashing. stale says the pull request's head moved past j's: the report
// is then of no use.
func (p *Pipeline) judge(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, log *slog.Logger) (rep report.Report, stale bool) {
	rep.HeadSHA = j.HeadSHA
	defer func() {
		if r := recover(); r != nil {
			log.Error("plan panicked", "panic", r)
			rep.Errors = append(rep.Errors, report.Problem{Message: fmt.Sprintf("internal error: %v", r)})
		}
	}()
	fail := func(err error) (report.Report, bool) {
		rep.Errors = append(rep.Errors, problemOf(err))
		return rep, errors.Is(err, ErrStaleRef)
	}
	if pr == nil {
		var err error
		if pr, _, err = gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR); err != nil {
			return fail(fmt.Errorf("read pull request #%d: %w", j.PR, err))
		}
	}
	changed, err := changedFiles(ctx, gh, j)
	if err != nil {
		return fail(err)
	}
	work, err := os.MkdirTemp(p.WorkDir, "run-")
	if err != nil {
		return fail(fmt.Errorf("work directory: %w", err))
	}
	defer os.RemoveAll(work)
	t, err := p.checkout(ctx, j, pr, work)
	if err != nil {
		return fail(err)
	}
	head, base, err := model(t, p.Config)
	if err != nil {
		return failConfig(rep, err), false
	}
	rep.Removed = p.removedApps(ctx, j, head, base)
	// Apps a command names join the affected ones (unknown names were
	// answered by the command).
	apps := appsNamed(head.Apps, append(render.AffectedApps(ctx, t.head, *head, base, changed), j.Apps...))
	results := p.renderAndDiff(ctx, t.head, apps, p.Config.ScopeOf(j.Owner+"/"+j.Repo), previousOf(ctx, p.renderer(j.Owner+"/"+j.Repo, ""), t.base, base))
	for _, r := range results {
		rep.RenderTime = max(rep.RenderTime, r.renderTime)
		rep.DiffTime = max(rep.DiffTime, r.diffTime)
	}
	findings, problems, notes := p.judgePolicies(ctx, j, pr, changed, t, base, results, log)
	rep.PolicyErrors = append(rep.PolicyErrors, problems...)
	rep.PolicyNotes = append(rep.PolicyNotes, notes...)
	for _, r := range results {
		a := r.reportApp()
		a.Findings = findings[r.app.Name]
		if a.Error == nil && a.Changes() {
			p.lock(ctx, r, j, &a, log)
		}
		rep.Apps = append(rep.Apps, a)
	}
	return rep, false
}

// removedApps are the apps of base that head no longer has, with what
// their inventories hold.
func (p *Pipeline) removedApps(ctx context.Context, j Job, head, base *config.Repo) []report.Removed {
	if base == nil {
		return nil
	}
	var out []report.Removed
	for _, b := range base.Apps {
		if len(appsNamed(head.Apps, []string{b.Name})) > 0 || b.Cluster == config.NoCluster {
			continue // kept, or never applied anywhere
		}
		r := report.Removed{Name: b.Name, Cluster: b.Cluster}
		c, err := p.Clusters.Get(b.Cluster)
		var inv *cluster.Inventory
		if err == nil {
			inv, err = c.Inventory(ctx, j.Owner+"/"+j.Repo, b.Name)
		}
		if err != nil {
			r.Error = err.Error()
		} else {
			r.Objects = len(inv.Objects)
		}
		out = append(out, r)
	}
	return out
}

// trees are a run's two checkouts: the pull request's head, which is
// judged, and its base branch, whose policies judge it.
type trees struct {
	head, base, baseSHA string
}

// checkout writes the head and the base branch's current commit into
// work, fetched with a token that can only read the repository.
func (p *Pipeline) checkout(ctx context.Context, j Job, pr *github.PullRequest, work string) (trees, error) {
	var t trees
	tok, err := p.GitHub.ReadToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return t, err
	}
	url := pr.GetBase().GetRepo().GetCloneURL()
	if t.head, _, err = p.Checkouts.Checkout(ctx, Source{URL: url, Token: tok, Ref: fmt.Sprintf("refs/pull/%d/head", j.PR), SHA: j.HeadSHA}, work); err != nil {
		return t, err
	}
	t.base, t.baseSHA, err = p.Checkouts.Checkout(ctx, Source{URL: url, Token: tok, Ref: "refs/heads/" + pr.GetBase().GetRef()}, work)
	return t, err
}

// model loads the repository model of the head (its errors fail the run)
// and of the base (nil when broken: every app then counts as changed).
func model(t trees, srv *config.Server) (head, base *config.Repo, err error) {
	if head, err = config.LoadRepo(t.head, srv); err != nil {
		return nil, nil, err
	}
	if base, err = config.LoadRepo(t.base, srv); err != nil {
		base = nil
	}
	return head, base, nil
}

// judgePolicies evaluates the server's policies and the base branch's
// over the apps' objects with their planned actions and the pull request,
// and returns the findings by app, the policies' own problems, and notes
// on the repository's policies that never take part (a package its
// namespaces do not evaluate).
func (p *Pipeline) judgePolicies(ctx context.Context, j Job, pr *github.PullRequest, changed []string, t trees, base *config.Repo, results []appResult, log *slog.Logger) (map[string][]report.Finding, []report.Problem, []report.Problem) {
	var problems, notes []report.Problem
	engine, err := p.engine(ctx, j, t.base, t.baseSHA, base)
	if err != nil {
		problems = append(problems, policyProblems(err)...)
	}
	if engine != nil {
		for _, u := range engine.Unevaluated() {
			if u.Trust != policy.Repository {
				// The server's own sets: the operator's to fix, not the
				// pull request's to read.
				log.Warn("server policy never evaluated", "set", u.Set, "file", u.File, "package", u.Package)
				continue
			}
			notes = append(notes, report.Problem{Message: u.String(), File: u.File, Line: u.Line})
		}
	}
	in := policy.Input{PR: policyPR(j, pr, changed)}
	for _, r := range results {
		in.Objects = append(in.Objects, r.policyObjects()...)
	}
	findings := map[string][]report.Finding{}
	if engine == nil || len(in.Objects) == 0 {
		return findings, problems, notes
	}
	res, err := engine.Evaluate(ctx, in)
	if err != nil {
		problems = append(problems, problemOf(err))
	}
	for _, e := range res.Errors {
		problems = append(problems, report.Problem{Message: e.Error(), File: e.File, Line: e.Line})
	}
	for _, f := range res.Findings {
		findings[f.App] = append(findings[f.App], findingOf(f))
	}
	return findings, problems, notes
}

// policyPR is the pull request as policies see it.
func policyPR(j Job, pr *github.PullRequest, changed []string) *policy.PR {
	out := &policy.PR{Number: j.PR, Author: pr.GetUser().GetLogin(), BaseBranch: pr.GetBase().GetRef(), ChangedFiles: changed}
	for _, l := range pr.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out
}

// lock takes the app's lock for the pull request, or records who has it.
func (p *Pipeline) lock(ctx context.Context, r appResult, j Job, a *report.App, log *slog.Logger) {
	c, err := p.Clusters.Get(r.app.Cluster)
	if err != nil {
		log.Warn("lock not taken", "app", r.app.Name, "err", err)
		return
	}
	_, err = c.TakeLock(ctx, cluster.LockKey{Repository: j.Owner + "/" + j.Repo, App: r.app.Name}, lockHolder(j.Owner, j.Repo, j.PR), j.PR)
	var locked *cluster.LockedError
	switch {
	case err == nil:
		a.LockedByThis = true
		p.LockWaits.took(j, r.app.Name, time.Now())
	case errors.As(err, &locked):
		a.LockedBy = locked.Lock.PR
		p.LockWaits.blocked(j, r.app.Name, time.Now())
	default:
		log.Warn("lock not taken", "app", r.app.Name, "err", err)
	}
}

// appResult is one app's render and diff.
type appResult struct {
	app     config.App
	objects []*unstructured.Unstructured
	sources render.SourceMap
	diff    *cluster.DiffSet
	err     error
	// refused are the rendered objects outside the repository's grant,
	// each with its error and source line.
	refused []report.Object
	// renderTime and diffTime are the stages' wall-clock times.
	renderTime, diffTime time.Duration
	// offline says why the app is validated offline instead of diffed
	// ("" when it is diffed); validation is that validation's result.
	offline    string
	validation *schema.Result
}

// previousOf renders an app as the base branch has it: what its last
// apply most likely was, so the diff shows a field another manager took
// as taken back rather than as a conflict (nil when base has no such app).
func previousOf(ctx context.Context, r appRenderer, baseDir string, base *config.Repo) func(app string) []*unstructured.Unstructured {
	return func(app string) []*unstructured.Unstructured {
		if base == nil {
			return nil
		}
		prev := appsNamed(base.Apps, []string{app})
		if len(prev) != 1 {
			return nil
		}
		objs, _, err := r.Render(ctx, baseDir, prev[0])
		if err != nil {
			return nil
		}
		return objs
	}
}

func (p *Pipeline) renderAndDiff(ctx context.Context, dir string, apps []config.App, scope config.Scope, previous func(app string) []*unstructured.Unstructured) []appResult {
	out := make([]appResult, len(apps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(p.AppConcurrency, 1))
	for i, app := range apps {
		g.Go(func() error {
			r := appResult{app: app}
			// An app outside the repository's grant is neither rendered
			// nor diffed: nothing of the cluster is read for it. An app
			// that targets no cluster reaches none: it is rendered and
			// validated offline.
			if r.err = scope.CheckApp(app); r.err != nil {
				out[i] = r
				return nil
			}
			start := time.Now()
			r.objects, r.sources, r.err = p.renderer(scope.Repository, scope.Repository).Render(gctx, dir, app)
			r.renderTime = time.Since(start)
			switch {
			case r.err != nil:
			case app.Cluster == config.NoCluster:
				r.offline = offlineNoCluster
			default:
				if r.refused = checkObjects(scope, app, r.objects, r.sources); len(r.refused) > 0 {
					r.err = fmt.Errorf("%s outside what the server configuration grants %s (repositories:)", plural(len(r.refused), "object is", "objects are"), scope.Repository)
					break
				}
				var c *cluster.Client
				if c, r.err = p.Clusters.Get(app.Cluster); r.err == nil {
					opts := cluster.DefaultDiffOptions(scope.Repository)
					if previous != nil {
						opts.Previous = previous(app.Name)
					}
					r.diff, r.err = c.Diff(gctx, app, r.objects, opts)
					if r.err != nil {
						r.err = fmt.Errorf("diff against cluster %s: %w", app.Cluster, r.err)
					}
				}
				r.diffTime = time.Since(start) - r.renderTime
				if cluster.Unreachable(r.err) {
					r.offline, r.err, r.diffTime = fmt.Sprintf("cluster %s could not be reached (%v)", app.Cluster, r.err), nil, 0
				}
			}
			out[i] = r
			return nil
		})
	}
	_ = g.Wait()
	p.validateOffline(ctx, out)
	return out
}

// reportApp turns the app's result into the report's terms.
func (r appResult) reportApp() report.App {
	a := report.App{Name: r.app.Name, Cluster: r.app.Cluster}
	if r.err != nil {
		pr := problemOf(r.err)
		a.Error, a.Objects = &pr, r.refused
		return a
	}
	if r.offline != "" {
		return r.offlineApp(a)
	}
	if r.diff.Error != "" {
		a.Error = &report.Problem{Message: r.diff.Error}
		return a
	}
	for _, d := range r.diff.Objects {
		o := report.Object{APIVersion: d.Object.GroupVersionKind().GroupVersion().String(), Kind: d.Object.Kind, Namespace: d.Object.Namespace, Name: d.Object.Name,
			Action: d.Action, Diff: d.Diff, Fields: d.Changed, Unstable: d.Unstable}
		if d.Note != "" {
			o.Diff = "# " + d.Note + "\n" + o.Diff
		}
		if d.Action != cluster.ActionUpdate {
			o.Fields = nil // a whole object appears or goes: its fields say nothing
		}
		if d.Object.Kind == "Secret" && d.Object.Group == "" {
			o.SecretKeys, o.Fields = secretKeys(d.Changed), nil
		}
		if d.Error != "" {
			src, _ := r.sourceOf(d.Object)
			o.Error = &report.Problem{Message: d.Error, File: src.File, Line: src.Line}
		}
		if d.Action == cluster.ActionConflict {
			// Another app or repository owns the live object: nothing of
			// it is shown, and applying would fail, so it is an error.
			src, _ := r.sourceOf(d.Object)
			o.Diff, o.Fields = "", nil
			o.Error = &report.Problem{Message: d.Object.String() + ": " + d.Note, File: src.File, Line: src.Line}
		}
		a.Objects = append(a.Objects, o)
	}
	for _, h := range r.diff.Hooks {
		a.Hooks = append(a.Hooks, report.Hook{Phase: string(h.Phase), Kind: h.Object.Kind, Namespace: h.Object.Namespace, Name: h.Object.Name, Weight: h.Weight})
	}
	return a
}

func (r appResult) sourceOf(ref cluster.ObjectRef) (render.Source, bool) {
	for _, o := range r.objects {
		if o.GetKind() == ref.Kind && o.GetName() == ref.Name && o.GetNamespace() == ref.Namespace {
			return r.sources.Of(o)
		}
	}
	return render.Source{}, false
}

// policyObjects are the app's objects with their planned actions, live
// objects and sources; deletions carry the live object.
func (r appResult) policyObjects() []policy.Object {
	if r.err != nil || (r.diff == nil && r.offline == "") {
		return nil
	}
	// Offline, nothing of the live state is known: every object is
	// judged as a creation, and no deletion is seen.
	diff := r.diff
	if diff == nil {
		diff = &cluster.DiffSet{}
	}
	byRef := map[cluster.ObjectRef]cluster.ObjectDiff{}
	for _, d := range diff.Objects {
		byRef[d.Object] = d
	}
	var out []policy.Object
	for _, o := range r.objects {
		ref := cluster.RefOf(o)
		d := byRef[ref]
		delete(byRef, ref)
		src, _ := r.sources.Of(o)
		action := d.Action
		if action == "" {
			action = policy.ActionCreate
		}
		out = append(out, policy.Object{Obj: o, App: r.app.Name, Cluster: r.app.Cluster, Action: action, Live: d.Live, File: src.File, Line: src.Line, Decrypted: src.Decrypted})
	}
	for _, d := range diff.Objects {
		if d.Action == cluster.ActionDelete && d.Live != nil {
			out = append(out, policy.Object{Obj: d.Live, App: r.app.Name, Cluster: r.app.Cluster, Action: policy.ActionDelete, Live: d.Live})
		}
	}
	return out
}

// secretKeys turns changed paths of a Secret (data.KEY, stringData.KEY)
// into key names.
func secretKeys(changed []string) []string {
	var keys []string
	seen := map[string]bool{}
	for _, c := range changed {
		for _, prefix := range []string{"data.", "stringData."} {
			if k, ok := strings.CutPrefix(c, prefix); ok && !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys
}

func findingOf(f policy.Finding) report.Finding {
	sev, msg := string(f.Severity), f.Message
	if f.Severity == policy.SeverityDryRun {
		sev, msg = "warn", "[dryrun] "+msg
	}
	return report.Finding{App: f.App, Kind: f.Kind, Namespace: f.Namespace, Name: f.Name, File: f.File, Line: f.Line,
		Set: f.Set, Policy: f.Policy, Rule: f.Rule, Severity: sev, Message: msg}
}

// engine loads the server's policies with the repository's, read from the
// base branch (never the pull request's head), once per base commit.
func (p *Pipeline) engine(ctx context.Context, j Job, baseDir, baseSHA string, base *config.Repo) (*policy.Engine, error) {
	key := j.Owner + "/" + j.Repo + "@" + baseSHA
	p.mu.Lock()
	if e := p.engines[key]; e != nil {
		p.mu.Unlock()
		return e, nil
	}
	p.mu.Unlock()
	sources := append([]policy.Source(nil), p.Trusted...)
	if base != nil {
		for _, path := range base.Policies.Paths {
			src, err := policy.RepoSource(baseDir, path, base.Policies.Namespaces)
			if err != nil {
				return nil, err
			}
			sources = append(sources, src)
		}
	}
	if len(sources) == 0 {
		return nil, nil
	}
	e, err := policy.Load(ctx, sources)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.engines == nil {
		p.engines = map[string]*policy.Engine{}
	}
	if len(p.engineAt) >= 32 {
		delete(p.engines, p.engineAt[0])
		p.engineAt = p.engineAt[1:]
	}
	p.engines[key] = e
	p.engineAt = append(p.engineAt, key)
	return e, nil
}

// changedFiles lists the pull request's changed paths, renames with both
// names.
func changedFiles(ctx context.Context, gh *github.Client, j Job) ([]string, error) {
	var out []string
	opts := &github.ListOptions{PerPage: 100}
	for {
		files, resp, err := gh.PullRequests.ListFiles(ctx, j.Owner, j.Repo, j.PR, opts)
		if err != nil {
			return nil, fmt.Errorf("list changed files of #%d: %w", j.PR, err)
		}
		for _, f := range files {
			out = append(out, f.GetFilename())
			if prev := f.GetPreviousFilename(); prev != "" {
				out = append(out, prev)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func appsNamed(apps []config.App, names []string) []config.App {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []config.App
	for _, a := range apps {
		if want[a.Name] {
			out = append(out, a)
		}
	}
	return out
}

// problemOf locates an error when it knows where it comes from.
func problemOf(err error) report.Problem {
	var re *render.Error
	if errors.As(err, &re) {
		return report.Problem{Message: err.Error(), File: re.File, Line: re.Line}
	}
	var fe *config.FieldError
	if errors.As(err, &fe) {
		return report.Problem{Message: err.Error(), File: filepath.ToSlash(fe.File), Line: fe.Line}
	}
	return report.Problem{Message: err.Error()}
}

// failConfig reports an invalid .gantry.yaml, one problem per field.
func failConfig(rep report.Report, err error) report.Report {
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			rep.Errors = append(rep.Errors, report.Problem{Message: e.Error(), File: filepath.ToSlash(e.File), Line: e.Line})
		}
		return rep
	}
	rep.Errors = append(rep.Errors, problemOf(err))
	return rep
}

// policyProblems reports policy compile errors, each with its file.
func policyProblems(err error) []report.Problem {
	var ces policy.CompileErrors
	if errors.As(err, &ces) {
		var out []report.Problem
		for _, e := range ces {
			out = append(out, report.Problem{Message: e.Error(), File: e.File, Line: e.Line})
		}
		return out
	}
	return []report.Problem{problemOf(err)}
}

// checkObjects returns the rendered objects that reach beyond the
// repository's grant, each with the reason and its source line (at most
// maxRefused, the last saying how many more there are).
func checkObjects(scope config.Scope, app config.App, objs []*unstructured.Unstructured, sources render.SourceMap) []report.Object {
	const maxRefused = 20
	var out []report.Object
	more := 0
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		err := scope.CheckObject(app.Cluster, gvk.Group, gvk.Kind, o.GetNamespace(), o.GetName())
		if err == nil {
			continue
		}
		if len(out) == maxRefused {
			more++
			continue
		}
		// The report names the object: the message says only why.
		msg := err.Error()
		if se, ok := errors.AsType[*config.ScopeError](err); ok {
			bare := *se
			bare.Object = ""
			msg = bare.Error()
		}
		src, _ := sources.Of(o)
		out = append(out, report.Object{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName(),
			Action: report.Create, Error: &report.Problem{Message: msg, File: src.File, Line: src.Line}})
	}
	if more > 0 {
		out[len(out)-1].Error.Message += fmt.Sprintf(" (and %s not listed)", plural(more, "more object", "more objects"))
	}
	return out
}

// plural picks the singular or plural form for n, with n.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
