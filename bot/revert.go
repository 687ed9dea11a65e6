package bot

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/gitrestore"
)

// RevertLabel marks the pull requests gantry opens to revert a change.
const RevertLabel = "gantry:revert"

// revertBranchPrefix is where gantry's revert pull requests live.
const revertBranchPrefix = "gantry/revert/"

// revertPayload is what a revert pull request's sealed marker carries.
type revertPayload struct {
	Apps   []string `json:"apps"`
	Before string   `json:"before"`
	After  string   `json:"after"`
	Branch string   `json:"branch"`
}

// revert is one revert pull request to open: apps whose change in After
// is undone by restoring their paths to Before.
type revert struct {
	apps   []string
	paths  []string
	before string
	after  string
	branch string
	// prs are the pull requests whose change is reverted.
	prs []int
	// why is the body's account of what went wrong, in markdown.
	why string
}

// revertFailed opens a revert pull request for the apps of run whose
// apply failed or was unhealthy: one per last healthy commit, normally
// one for the run. Apps without a healthy apply to go back to say so.
func (p *Pipeline) revertFailed(ctx context.Context, gh *github.Client, j Job, ghRepo *github.Repository, run *ApplyRun, log *slog.Logger) {
	groups := map[string]*revert{}
	var order []string
	for i, a := range run.Apps {
		if !a.failed() {
			continue
		}
		if a.record.Interrupted {
			// Nothing in the change is at fault: reverting it would undo a
			// good change, and the next resync applies it again.
			run.Report.Apps[i].RevertNote = "the cluster could not be reached, so the change is not at fault and no revert is opened: the next resync applies this commit again"
			continue
		}
		if a.before == "" {
			run.Report.Apps[i].RevertNote = "no earlier healthy apply of this app is recorded, so there is no state to revert to: fix forward with a new pull request"
			continue
		}
		g := groups[a.before]
		if g == nil {
			g = &revert{before: a.before, after: j.HeadSHA, prs: run.Report.PRs}
			groups[a.before] = g
			order = append(order, a.before)
		}
		g.apps = append(g.apps, a.app.Name)
		g.paths = append(g.paths, a.paths...)
		g.why += failureText(run.Report.Apps[i], a)
	}
	for _, before := range order {
		g := groups[before]
		g.branch = revertBranchPrefix + shortSHA(j.HeadSHA)
		if len(order) > 1 {
			g.branch += "-" + strings.Join(g.apps, "-")
		}
		url, note, commit, err := p.openRevert(ctx, gh, j, ghRepo, *g)
		if err != nil {
			log.Error("revert pull request not opened", "apps", g.apps, "err", err)
			note = "the revert pull request could not be opened: " + err.Error()
		}
		for i, a := range run.Apps {
			if !contains(g.apps, a.app.Name) {
				continue
			}
			run.Report.Apps[i].Revert, run.Report.Apps[i].RevertNote = url, note
			if url == "" {
				continue
			}
			p.recordRevert(ctx, j, a, url, log)
			if a.app.OnFailure == config.OnFailureRollback {
				run.Report.Apps[i].RolledBack = p.rollback(ctx, j, ghRepo, g.branch, commit, a.app, log)
			}
		}
	}
}

// rollback applies the app as the revert pull request's commit renders
// it: the last healthy state of its files on top of the base branch, so
// the cluster holds at once what merging the revert will apply. It says
// how that went.
func (p *Pipeline) rollback(ctx context.Context, j Job, ghRepo *github.Repository, branch, commit string, app config.App, log *slog.Logger) string {
	tok, err := p.GitHub.ReadToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return "not rolled back: " + err.Error()
	}
	work, err := os.MkdirTemp(p.WorkDir, "rollback-")
	if err != nil {
		return "not rolled back: " + err.Error()
	}
	defer os.RemoveAll(work)
	dir, _, err := p.Checkouts.Checkout(ctx, Source{URL: ghRepo.GetCloneURL(), Token: tok, Ref: "refs/heads/" + branch, SHA: commit}, work)
	if err != nil {
		return "not rolled back: " + err.Error()
	}
	a := p.applyApp(ctx, dir, p.Config.ScopeOf(j.Owner+"/"+j.Repo), appToApply{app: app, reason: "onFailure: rollback"},
		cluster.Origin{Trigger: cluster.TriggerRollback, Commit: commit, By: "gantry"})
	log.Info("rolled back", "app", app.Name, "result", a.record.Result, "err", a.err)
	if a.failed() {
		msg := string(a.record.Result)
		if a.err != nil {
			msg = a.err.Error()
		} else if a.record.Error != "" {
			msg += ": " + a.record.Error
		}
		return fmt.Sprintf("rollback to the revert pull request's `%s` (onFailure: rollback) failed too: %s", shortSHA(commit), msg)
	}
	return fmt.Sprintf("rolled back at once (onFailure: rollback): applied the revert pull request's `%s`, healthy; merging it brings Git in line with the cluster", shortSHA(commit))
}

// recordRevert adds the revert pull request to the app's apply record.
func (p *Pipeline) recordRevert(ctx context.Context, j Job, a appApplied, url string, log *slog.Logger) {
	if a.record.ID == "" {
		return
	}
	c, err := p.Clusters.Get(a.app.Cluster)
	if err == nil {
		rec := a.record
		rec.Revert = url
		err = c.Record(ctx, rec)
	}
	if err != nil {
		log.Warn("revert pull request not recorded", "app", a.app.Name, "err", err)
	}
}

// failureText is an app's failure for a revert pull request's body: the
// error, the failed objects and the unhealthy ones with their conditions,
// pods and recent events.
func failureText(ra report.ApplyApp, a appApplied) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### `%s` (cluster `%s`): %s\n\n", report.Defang(ra.Name), report.Defang(ra.Cluster), ra.Result)
	if ra.Error != nil {
		fmt.Fprintf(&b, "- error: %s\n", report.Defang(ra.Error.Message))
	}
	for _, o := range ra.Failed {
		where := ""
		if o.Error.File != "" {
			where = fmt.Sprintf(" (`%s:%d`)", report.Defang(o.Error.File), o.Error.Line)
		}
		fmt.Fprintf(&b, "- failed: %s%s\n", report.Defang(o.Error.Message), where)
	}
	if a.changes != nil && a.changes.Health != nil {
		for _, u := range a.changes.Health.Unhealthy {
			fmt.Fprintf(&b, "- not healthy: %s: %s %s\n", report.Defang(u.Object.String()), report.Defang(u.Status), report.Defang(u.Message))
			for _, c := range u.Conditions {
				fmt.Fprintf(&b, "  - condition %s=%s %s %s\n", report.Defang(c.Type), report.Defang(c.Status), report.Defang(c.Reason), report.Defang(c.Message))
			}
			for _, pod := range u.Pods {
				fmt.Fprintf(&b, "  - pod %s\n", report.Defang(pod))
			}
			for _, e := range u.Events {
				fmt.Fprintf(&b, "  - event %s\n", report.Defang(e))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// openRevert pushes the revert commit to r.branch and opens (or updates)
// its pull request, returning its URL and the commit, or a note when
// there was nothing to revert.
func (p *Pipeline) openRevert(ctx context.Context, gh *github.Client, j Job, ghRepo *github.Repository, r revert) (url, note, commit string, err error) {
	tok, err := p.GitHub.WriteToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return "", "", "", err
	}
	sort.Strings(r.apps)
	base := ghRepo.GetDefaultBranch()
	if j.BaseRef != "" {
		base = j.BaseRef
	}
	res, err := p.Restorer.Restore(ctx, gitrestore.Request{
		URL: ghRepo.GetCloneURL(), Token: tok, Base: base, Before: r.before, After: r.after, Paths: r.paths, Branch: r.branch,
		Message: fmt.Sprintf("Revert %s to %s\n\nThe apply of %s failed; this restores the state gantry last applied healthy.", strings.Join(r.apps, ", "), shortSHA(r.before), shortSHA(r.after)),
		Author:  gitrestore.Signature{Name: "gantry", Email: "gantry@users.noreply.github.com"},
	})
	if err != nil {
		return "", "", "", err
	}
	if res.Empty {
		return "", fmt.Sprintf("nothing to revert: %s already holds the state of %s for these paths", base, shortSHA(r.before)), "", nil
	}
	title := fmt.Sprintf("Revert %s to %s", strings.Join(r.apps, ", "), shortSHA(r.before))
	body := revertBody(r, res, base)
	existing, _, err := gh.PullRequests.List(ctx, j.Owner, j.Repo, &github.PullRequestListOptions{State: "open", Head: j.Owner + ":" + r.branch})
	if err != nil {
		return "", "", "", fmt.Errorf("list pull requests of %s: %w", r.branch, err)
	}
	var pr *github.PullRequest
	for _, e := range existing {
		if e.GetHead().GetRef() == r.branch {
			pr = e
		}
	}
	pr, err = p.publishOwnPR(ctx, gh, j, pr, ownPR{what: "revert", branch: r.branch, base: base, title: title, body: body,
		kind: marker.KindRevert, payload: revertPayload{Apps: r.apps, Before: r.before, After: r.after, Branch: r.branch}, label: RevertLabel})
	if err != nil {
		return "", "", "", err
	}
	return pr.GetHTMLURL(), "", res.Commit, nil
}

// revertBody says why the revert exists, what it changes, what it leaves
// to a human, and what merging does.
func revertBody(r revert, res *gitrestore.Result, base string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### ↩️ gantry: revert %s to `%s`\n\n", appList(r.apps), shortSHA(r.before))
	fmt.Fprintf(&b, "Applying `%s`", shortSHA(r.after))
	if len(r.prs) > 0 {
		refs := make([]string, len(r.prs))
		for i, n := range r.prs {
			refs[i] = fmt.Sprintf("#%d", n)
		}
		fmt.Fprintf(&b, " (merged in %s)", strings.Join(refs, ", "))
	}
	fmt.Fprintf(&b, " failed. This pull request restores the files of %s to `%s`, the state gantry last applied healthy, on top of `%s` at `%s`.\n\n",
		appList(r.apps), shortSHA(r.before), report.Defang(base), shortSHA(res.BaseHead))
	b.WriteString("#### What went wrong\n\n")
	b.WriteString(r.why)
	b.WriteString("#### What this changes\n\n")
	for _, f := range res.Restored {
		fmt.Fprintf(&b, "- `%s`\n", report.Defang(f))
	}
	if len(res.Later) > 0 {
		b.WriteString("\n#### ⚠️ Left for a human\n\nLater commits changed these files again after the failed change; this pull request leaves them as they are on the base branch, so no later change is dropped. Resolve them by hand on this branch if they must go back too:\n\n")
		for _, l := range res.Later {
			var cs []string
			for _, c := range l.Commits {
				cs = append(cs, fmt.Sprintf("`%s` %s", shortSHA(c.SHA), report.Defang(c.Subject)))
			}
			fmt.Fprintf(&b, "- `%s`: %s\n", report.Defang(l.Path), strings.Join(cs, ", "))
		}
	}
	fmt.Fprintf(&b, "\n#### Merging\n\nMerging applies the restored state through the normal path (plan on this pull request, apply after the merge). gantry never merges this pull request itself; closing it leaves the cluster as it is.\n")
	return b.String()
}

func appList(apps []string) string {
	q := make([]string, len(apps))
	for i, a := range apps {
		q[i] = "`" + report.Defang(a) + "`"
	}
	return strings.Join(q, ", ")
}
