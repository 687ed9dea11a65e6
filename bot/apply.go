package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/render"
)

// ApplyRun is what one apply job did: the report published, the pull
// requests it applied, and the apps whose apply failed (for revert pull
// requests).
type ApplyRun struct {
	Report report.ApplyReport
	// PRs are the merged pull requests whose change this run applied.
	PRs []*github.PullRequest
	// Apps are the apps applied, in the report's order.
	Apps []appApplied
	// Promotions is how many promotions began to soak.
	Promotions int
}

// appApplied is one app's apply, with what a revert needs.
type appApplied struct {
	app     config.App
	record  cluster.ApplyRecord
	changes *cluster.ChangeSet
	// before is the commit of the app's last healthy apply before this
	// one ("" when none is recorded): what a revert restores.
	before string
	// paths are the repository paths the app's render reads.
	paths []string
	err   error
}

func (a appApplied) failed() bool { return a.err != nil || !a.record.Good() }

// appToApply is an app the base head must be applied for, and why.
type appToApply struct {
	app    config.App
	reason string
	before string // last healthy applied commit, "" when none
	// resumes is the ID of the app's last record when a run that died
	// left it running: this apply ends that record.
	resumes string
	// last is the commit of the app's last apply ("" when none), and
	// previous its render there: apply takes back from it the fields
	// other managers took (cluster.ApplyOptions.Previous).
	last     string
	previous []*unstructured.Unstructured
}

// ApplyBase applies the base branch's head j.HeadSHA for every on-merge
// app whose last applied commit is not the head and whose files changed
// since, and for every app gantry never applied that the push changed;
// apps in parallel, each app's applies in commit order (the branch's jobs
// run in one lane). It publishes the gantry/apply check run on the head and
// returns the run; a run with nothing to apply publishes nothing. A head
// the branch has already moved past is left to the newer head's job.
func (p *Pipeline) ApplyBase(ctx context.Context, j Job) (*ApplyRun, error) {
	log := p.logger().With(jobAttrs(j)...)
	gh, err := p.GitHub.Client(j.InstallationID)
	if err != nil {
		return nil, err
	}
	ghRepo, _, err := gh.Repositories.Get(ctx, j.Owner, j.Repo)
	if err != nil {
		return nil, fmt.Errorf("read repository %s/%s: %w", j.Owner, j.Repo, err)
	}
	tok, err := p.GitHub.ReadToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(p.WorkDir, "apply-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	dir, _, err := p.Checkouts.Checkout(ctx, Source{URL: ghRepo.GetCloneURL(), Token: tok, Ref: "refs/heads/" + j.BaseRef, SHA: j.HeadSHA}, work)
	if errors.Is(err, ErrStaleRef) {
		log.Info("apply skipped: the branch moved past this head; its newer head applies")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	run := &ApplyRun{Report: report.ApplyReport{Commit: j.HeadSHA, Trigger: string(j.applyTrigger())}}
	repoID := j.Owner + "/" + j.Repo
	model, err := config.LoadRepo(dir, p.Config)
	if err != nil {
		// A broken model on the base branch applies nothing and says why
		// on the commit that broke it.
		run.Report.Errors = failConfig(report.Report{}, err).Errors
		return run, p.publishApply(ctx, gh, j, run, log)
	}
	if _, resumed := j.ResumeChecks[report.CheckApply]; resumed && j.Before == "" {
		// The run that died was for a push to this head, and the push's
		// before died with it: the head's first parent stands in, so an
		// app that push changed and gantry never applied is still applied.
		j.Before = firstParent(ctx, gh, j, log)
	}
	todo, commits, errs := p.applyPlan(ctx, gh, j, dir, *model)
	for _, e := range errs {
		run.Report.Errors = append(run.Report.Errors, problemOf(e))
	}
	run.PRs = mergedPRs(ctx, gh, j, commits, log)
	for _, pr := range run.PRs {
		run.Report.PRs = append(run.Report.PRs, pr.GetNumber())
	}
	if len(todo) == 0 && len(errs) == 0 {
		// The merged pull requests' locks are still released.
		log.Info("nothing to apply: every on-merge app is at this head or untouched since its last apply")
		if id, ok := j.ResumeChecks[report.CheckApply]; ok {
			// A run that died left its check in progress after it
			// recorded its applies: the records hold the results.
			return run, CompleteCheck(ctx, gh.Checks, j.Owner, j.Repo, id, report.CheckOutput{Name: report.CheckApply,
				Conclusion: report.Neutral, Title: "the run that started this check stopped",
				Summary: "Its replica stopped before completing this check. The apply records say every on-merge app's last apply is at this head: the pages show each one's result."})
		}
		return run, nil
	}
	by := j.Sender
	if len(run.PRs) > 0 && run.PRs[0].GetMergedBy() != nil {
		by = run.PRs[0].GetMergedBy().GetLogin()
	}
	ids, err := StartChecks(ctx, gh.Checks, j.Owner, j.Repo, j.HeadSHA, j.ResumeChecks, report.CheckApply)
	if err != nil {
		return nil, err
	}
	pr := 0
	if len(run.PRs) == 1 {
		pr = run.PRs[0].GetNumber()
	}
	p.previousRenders(ctx, repoID, ghRepo.GetCloneURL(), tok, work, todo, log)
	scope := p.Config.ScopeOf(repoID)
	origin := cluster.Origin{Trigger: j.applyTrigger(), PR: pr, Commit: j.HeadSHA, By: by, ChangeStarted: changeStarted(ctx, gh, j, run.PRs, log)}
	for _, m := range run.PRs {
		if isDriftPR(ghRepo, m, p.Route) {
			origin.Trigger = cluster.TriggerAcceptDrift
		}
	}
	run.Apps = p.applyApps(ctx, dir, scope, todo, origin, log)
	for _, a := range run.Apps {
		run.Report.Apps = append(run.Report.Apps, applyReportApp(a))
	}
	p.revertFailed(ctx, gh, j, ghRepo, run, log)
	run.Promotions = p.rememberPromotions(ctx, j, ghRepo, run, todo, ids[report.CheckApply], origin.Trigger, log)
	p.notifyFailures(j, run)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	return run, errors.Join(CompleteCheck(pctx, gh.Checks, j.Owner, j.Repo, ids[report.CheckApply], report.ApplyCheck(run.Report)),
		p.commentApplied(pctx, gh, j, run))
}

// publishApply publishes a run that failed before any app, as a failed
// gantry/apply check run on the head.
func (p *Pipeline) publishApply(ctx context.Context, gh *github.Client, j Job, run *ApplyRun, log *slog.Logger) error {
	ids, err := StartChecks(ctx, gh.Checks, j.Owner, j.Repo, j.HeadSHA, j.ResumeChecks, report.CheckApply)
	if err != nil {
		return err
	}
	log.Warn("nothing applied", "err", run.Report.Errors[0].Message)
	return CompleteCheck(ctx, gh.Checks, j.Owner, j.Repo, ids[report.CheckApply], report.ApplyCheck(run.Report))
}

// firstParent is the first parent of the job's head, "" when it has none
// or it cannot be read (then only apps gantry applied before are judged).
func firstParent(ctx context.Context, gh *github.Client, j Job, log *slog.Logger) string {
	c, _, err := gh.Git.GetCommit(ctx, j.Owner, j.Repo, j.HeadSHA)
	if err != nil {
		log.Warn("parent of the head not read: apps never applied are left to the next push", "err", err)
		return ""
	}
	if len(c.Parents) == 0 {
		return ""
	}
	return c.Parents[0].GetSHA()
}

// applyTrigger is the record's trigger for an apply job.
func (j Job) applyTrigger() cluster.Trigger {
	if j.Received.IsZero() && j.Before == "" {
		return cluster.TriggerResync
	}
	return cluster.TriggerMerge
}

// applyPlan decides which on-merge apps the head applies: those whose
// last apply was cut short, those whose files changed between their last
// applied commit and the head, and those never applied that the push
// changed. It also
// returns the commits between (for the merged pull requests) and the
// errors that keep an app from being judged (a cluster it cannot read).
func (p *Pipeline) applyPlan(ctx context.Context, gh *github.Client, j Job, dir string, model config.Repo) ([]appToApply, map[string]bool, []error) {
	repoID := j.Owner + "/" + j.Repo
	commits := map[string]bool{j.HeadSHA: true}
	type cmp struct {
		affected []string // the apps the change touches
		shas     []string // the commits between
		err      error
	}
	compared := map[string]cmp{}
	pushed := j.Before != "" && !isZeroSHA(j.Before)
	compare := func(base string) cmp {
		if c, ok := compared[base]; ok {
			return c
		}
		files, shas, err := compareCommits(ctx, gh, j.Owner, j.Repo, base, j.HeadSHA)
		c := cmp{err: err, shas: shas}
		if err == nil {
			c.affected = render.AffectedApps(ctx, dir, model, modelBase(files, model), files)
		}
		compared[base] = c
		return c
	}
	// The pull requests this apply is for: the push's, and those merged
	// since the last apply of each app it applies (a push whose apply was
	// superseded, or lost).
	if pushed {
		for _, sha := range compare(j.Before).shas {
			commits[sha] = true
		}
	}
	var todo []appToApply
	var errs []error
	records := map[string]*cluster.Records{}
	for _, app := range model.Apps {
		if app.Apply != config.ApplyOnMerge || app.Cluster == config.NoCluster {
			continue
		}
		c, err := p.Clusters.Get(app.Cluster)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", app.Name, err))
			continue
		}
		rs, err := c.Records(ctx, repoID, app.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %s: %w", app.Name, err))
			continue
		}
		records[app.Name] = rs
	}
	// An app never applied is adopted by the push that changes it; when
	// that push's apply was lost (skipped for a newer head, failed, or
	// never delivered), a later job adopts it still: a commit since the
	// branch's last apply by gantry changed it.
	since := lastBranchApply(records)
	adopt := func(name string) bool {
		if pushed && contains(compare(j.Before).affected, name) {
			return true
		}
		if since == "" || since == j.HeadSHA || !contains(compare(since).affected, name) {
			return false
		}
		for _, sha := range compare(since).shas {
			commits[sha] = true
		}
		return true
	}
	for _, app := range model.Apps {
		rs := records[app.Name]
		if app.Apply != config.ApplyOnMerge || rs == nil {
			continue
		}
		t := appToApply{app: app}
		if good, ok := rs.LastGood(); ok {
			t.before = good.Commit
		} else if pushed {
			t.before = j.Before
		}
		last, ok := rs.Last()
		t.last = last.Commit
		switch {
		case !ok && !adopt(app.Name):
			// gantry adopts an app at the first push that changes it:
			// being installed, or a resync, applies nothing by itself.
			continue
		case !ok:
			t.reason = "first apply: a push changed it"
		case last.Commit == j.HeadSHA && last.Interrupted:
			t.reason = "its last apply was interrupted: the cluster could not be reached"
		case last.Commit == j.HeadSHA && last.Ended():
			continue
		case last.Commit == j.HeadSHA:
			t.reason = "its last apply was cut short"
			t.resumes = last.ID
		default:
			c := compare(last.Commit)
			switch {
			case c.err != nil:
				t.reason = "the change since " + shortSHA(last.Commit) + " could not be listed: " + c.err.Error()
			case !contains(c.affected, app.Name):
				continue
			default:
				t.reason = "changed since " + shortSHA(last.Commit)
				for _, sha := range c.shas {
					commits[sha] = true
				}
			}
		}
		todo = append(todo, t)
	}
	return todo, commits, errs
}

// lastBranchApply is the commit of the newest apply of the base branch
// (after a merge, or by a resync) recorded for any of the apps, "" when
// none is.
func lastBranchApply(records map[string]*cluster.Records) string {
	var newest cluster.ApplyRecord
	for _, rs := range records {
		for _, r := range rs.History {
			if (r.Trigger == cluster.TriggerMerge || r.Trigger == cluster.TriggerResync) && r.Started.After(newest.Started) {
				newest = r
			}
		}
	}
	return newest.Commit
}

// modelBase is the base model affected-app detection compares with: none
// (every app's definition counts as changed) when .gantry.yaml changed,
// since the model at the older commit is not read.
func modelBase(files []string, model config.Repo) *config.Repo {
	for _, f := range files {
		if f == config.RepoFileName {
			return nil
		}
	}
	return &model
}

// previousRenders renders each app at its last applied commit, for apply
// to take back the fields others took from it. A commit that cannot be
// read leaves the app without (a conflict then stays a conflict).
func (p *Pipeline) previousRenders(ctx context.Context, repo, url, tok, work string, todo []appToApply, log *slog.Logger) {
	dirs := map[string]*config.Repo{}
	paths := map[string]string{}
	for i, t := range todo {
		if t.last == "" {
			continue
		}
		model, seen := dirs[t.last]
		if !seen {
			dir, _, err := p.Checkouts.Checkout(ctx, Source{URL: url, Token: tok, SHA: t.last}, work)
			if err == nil {
				model, err = config.LoadRepo(dir, p.Config)
			}
			if err != nil {
				log.Warn("last applied commit not read: fields others took stay theirs", "commit", shortSHA(t.last), "err", err)
			}
			dirs[t.last], paths[t.last] = model, dir
		}
		if model == nil {
			continue
		}
		if prev := appsNamed(model.Apps, []string{t.app.Name}); len(prev) == 1 {
			todo[i].previous, _, _ = p.renderer(repo, "").Render(ctx, paths[t.last], prev[0])
		}
	}
}

// notifyFailures tells the configured receivers of every app whose apply
// failed, and of the revert pull requests opened for them.
func (p *Pipeline) notifyFailures(j Job, run *ApplyRun) {
	if p.Notify == nil {
		return
	}
	pr, url := 0, ""
	if len(run.PRs) > 0 {
		pr, url = run.PRs[0].GetNumber(), run.PRs[0].GetHTMLURL()
	}
	for i, a := range run.Apps {
		if !a.failed() {
			continue
		}
		ra := run.Report.Apps[i]
		msg := a.record.Error
		if a.err != nil {
			msg = a.err.Error()
		}
		ev := notify.Event{Kind: notify.ApplyFailed, Repository: j.Owner + "/" + j.Repo, App: a.app.Name, Cluster: a.app.Cluster,
			Commit: j.HeadSHA, PR: pr, URL: url, Message: fmt.Sprintf("apply of %s %s: %s", shortSHA(j.HeadSHA), ra.Result, msg), At: time.Now()}
		p.Notify.Send(ev)
		if ra.Revert != "" {
			ev.Kind, ev.URL, ev.Message = notify.RevertOpened, ra.Revert, "revert pull request opened to restore the last healthy state of "+a.app.Name
			p.Notify.Send(ev)
		}
	}
}

// changeStarted is when the change of prs began: the earliest first
// commit among them (zero when none is known), for the lead time.
func changeStarted(ctx context.Context, gh *github.Client, j Job, prs []*github.PullRequest, log *slog.Logger) time.Time {
	var first time.Time
	for _, pr := range prs {
		commits, _, err := gh.PullRequests.ListCommits(ctx, j.Owner, j.Repo, pr.GetNumber(), &github.ListOptions{PerPage: 1})
		if err != nil {
			log.Warn("first commit not read: the lead time of this apply is unknown", "pr", pr.GetNumber(), "err", err)
			continue
		}
		if len(commits) == 0 {
			continue
		}
		at := commits[0].GetCommit().GetAuthor().GetDate().Time
		if !at.IsZero() && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	return first
}

// compareCommits lists the files changed and the commits between base and
// head. GitHub lists at most 300 files: a longer list is an error, so the
// caller applies rather than guesses.
func compareCommits(ctx context.Context, gh *github.Client, owner, repo, base, head string) ([]string, []string, error) {
	cmp, _, err := gh.Repositories.CompareCommits(ctx, owner, repo, base, head, &github.ListOptions{PerPage: 100})
	if err != nil {
		return nil, nil, fmt.Errorf("compare %s...%s: %w", shortSHA(base), shortSHA(head), err)
	}
	if len(cmp.Files) >= 300 {
		return nil, nil, fmt.Errorf("compare %s...%s: more than 300 files changed", shortSHA(base), shortSHA(head))
	}
	var files, shas []string
	for _, f := range cmp.Files {
		files = append(files, f.GetFilename())
		if prev := f.GetPreviousFilename(); prev != "" {
			files = append(files, prev)
		}
	}
	for _, c := range cmp.Commits {
		shas = append(shas, c.GetSHA())
	}
	return files, shas, nil
}

func isZeroSHA(s string) bool { return strings.Trim(s, "0") == "" }

// mergedPRs are the pull requests into j's branch whose merge commit is
// among commits, most recent first; a listing error is logged (the apply
// goes on without comments on them).
func mergedPRs(ctx context.Context, gh *github.Client, j Job, commits map[string]bool, log *slog.Logger) []*github.PullRequest {
	prs, _, err := gh.PullRequests.List(ctx, j.Owner, j.Repo, &github.PullRequestListOptions{
		State: "closed", Base: j.BaseRef, Sort: "updated", Direction: "desc", ListOptions: github.ListOptions{PerPage: 50}})
	if err != nil {
		log.Warn("merged pull requests not listed: the apply is not commented on them", "err", err)
		return nil
	}
	var out []*github.PullRequest
	for _, pr := range prs {
		if pr.MergedAt != nil && commits[pr.GetMergeCommitSHA()] {
			out = append(out, pr)
		}
	}
	return out
}

// applyApps renders and applies each app, in parallel, each through the
// one apply path that records it.
func (p *Pipeline) applyApps(ctx context.Context, dir string, scope config.Scope, todo []appToApply, origin cluster.Origin, log *slog.Logger) []appApplied {
	out := make([]appApplied, len(todo))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(p.AppConcurrency, 1))
	var mu sync.Mutex
	for i, t := range todo {
		g.Go(func() error {
			a := p.applyApp(gctx, dir, scope, t, origin)
			mu.Lock()
			out[i] = a
			mu.Unlock()
			log.Info("applied", "app", t.app.Name, "why", t.reason, "result", a.record.Result, "err", a.err)
			return nil
		})
	}
	_ = g.Wait()
	return out
}

// applyApp renders one app at dir, checks it against the repository's
// grant and applies it with the defaults of an apply after a merge.
func (p *Pipeline) applyApp(ctx context.Context, dir string, scope config.Scope, t appToApply, origin cluster.Origin) (a appApplied) {
	a = appApplied{app: t.app, before: t.before}
	a.record = cluster.ApplyRecord{App: t.app.Name, Cluster: t.app.Cluster, Commit: origin.Commit, Result: cluster.ResultFailed}
	deps, _ := render.Dependencies(ctx, dir, t.app)
	a.paths = appPaths(t.app, deps)
	if a.err = scope.CheckApp(t.app); a.err != nil {
		return a
	}
	objs, sources, err := p.renderer(scope.Repository, "").Render(ctx, dir, t.app)
	if err != nil {
		a.err = err
		return a
	}
	if refused := checkObjects(scope, t.app, objs, sources); len(refused) > 0 {
		a.err = fmt.Errorf("%s outside what the server configuration grants %s (repositories:): %s%s", plural(len(refused), "object is", "objects are"),
			scope.Repository, refused[0].Ref(), refused[0].Error.Message)
		return a
	}
	c, err := p.Clusters.Get(t.app.Cluster)
	if err != nil {
		a.err = err
		return a
	}
	origin.Cluster, origin.Resumes = t.app.Cluster, t.resumes
	opts := cluster.DefaultApplyOptions(scope.Repository)
	opts.Previous = t.previous
	cs, rec, err := c.ApplyAndRecord(ctx, t.app, objs, opts, origin)
	if cs != nil {
		cs.SetSources(sourceFunc(objs, sources))
	}
	a.changes, a.record = cs, rec
	if err != nil && !errors.Is(err, cluster.ErrApplyFailed) {
		a.err = err
	}
	return a
}

// sourceFunc finds an object's "file:line" among the rendered objects.
func sourceFunc(objs []*unstructured.Unstructured, sources render.SourceMap) func(cluster.ObjectRef) string {
	byRef := map[cluster.ObjectRef]string{}
	for _, o := range objs {
		if s, ok := sources.Of(o); ok {
			byRef[cluster.RefOf(o)] = fmt.Sprintf("%s:%d", s.File, s.Line)
		}
	}
	return func(r cluster.ObjectRef) string { return byRef[r] }
}

// appPaths are the repository paths an app's state lives in: its
// directory, its patches and what its render reads elsewhere.
func appPaths(app config.App, deps []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range append(append([]string{app.Path}, app.Patches...), deps...) {
		p = path.Clean(filepath.ToSlash(p))
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// applyReportApp turns an app's apply into the report's terms.
func applyReportApp(a appApplied) report.ApplyApp {
	out := report.ApplyApp{Name: a.app.Name, Cluster: a.app.Cluster, Result: string(a.record.Result), Counts: map[string]int{}, Duration: a.record.Duration}
	if a.err != nil {
		out.Result = string(cluster.ResultFailed)
		p := problemOf(a.err)
		out.Error = &p
	}
	if a.err == nil && a.record.Result == cluster.ResultFailed && a.changes != nil && a.changes.Error != "" {
		out.Error = &report.Problem{Message: a.changes.Error}
	} else if a.err == nil && a.record.Result == cluster.ResultFailed && a.record.Error != "" && (a.changes == nil || a.changes.Count(cluster.ChangeFailed) == 0) {
		out.Error = &report.Problem{Message: a.record.Error}
	}
	cs := a.changes
	if cs == nil {
		return out
	}
	for _, o := range cs.Objects {
		out.Counts[string(o.Action)]++
		if o.Action == cluster.ChangeNotApplied {
			out.NotApplied, out.NotAppliedWhy = append(out.NotApplied, o.Object.String()), o.Note
		}
		if o.Action != cluster.ChangeFailed {
			continue
		}
		file, line := splitSource(o.Source)
		out.Failed = append(out.Failed, report.Object{APIVersion: o.Object.GroupVersionKind().GroupVersion().String(), Kind: o.Object.Kind,
			Namespace: o.Object.Namespace, Name: o.Object.Name, Error: &report.Problem{Message: o.Error, File: file, Line: line}})
	}
	for _, h := range cs.Hooks {
		line := fmt.Sprintf("%s: %s in %.1f s", h.HookPlan, h.Result, h.Duration.Seconds())
		if h.Error != "" {
			line += ": " + h.Error
		} else if h.Note != "" {
			line += " (" + h.Note + ")"
		}
		out.Hooks = append(out.Hooks, line)
	}
	if h := cs.Health; h != nil {
		out.HealthWaited, out.Healthy = true, h.Healthy
		for _, u := range h.Unhealthy {
			line := u.Object.String() + ": " + u.Status
			if u.Message != "" {
				line += " (" + u.Message + ")"
			}
			if len(u.Pods) > 0 {
				line += "; pods: " + strings.Join(u.Pods, "; ")
			}
			out.Unhealthy = append(out.Unhealthy, line)
		}
	}
	return out
}

// splitSource splits "file:line".
func splitSource(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	var n int
	if _, err := fmt.Sscanf(s[i+1:], "%d", &n); err != nil {
		return s, 0
	}
	return s[:i], n
}

// commentApplied comments the run's report on every pull request it
// applied.
func (p *Pipeline) commentApplied(ctx context.Context, gh *github.Client, j Job, run *ApplyRun) error {
	body := report.ApplyComment(run.Report)
	var errs []error
	for _, pr := range run.PRs {
		if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, pr.GetNumber(), &github.IssueComment{Body: github.String(body)}); err != nil {
			errs = append(errs, fmt.Errorf("comment the apply on #%d: %w", pr.GetNumber(), err))
		}
	}
	return errors.Join(errs...)
}
