package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/driftwrite"
	"github.com/gantryops/gantry/gitrestore"
	"github.com/gantryops/gantry/notify"
	"github.com/gantryops/gantry/render"
)

// DriftLabel marks the pull requests gantry opens for drift.
const DriftLabel = "gantry:drift"

// driftBase is a checkout of the default branch's head for the drift
// flows: the model, and the apps whose last apply is that head.
type driftBase struct {
	gh     *github.Client
	repo   *github.Repository
	dir    string
	head   string
	model  *config.Repo
	branch string
}

// checkoutBase checks out the default branch's current head into work.
func (p *Pipeline) checkoutBase(ctx context.Context, j Job, work string) (*driftBase, error) {
	gh, err := p.GitHub.Client(j.InstallationID)
	if err != nil {
		return nil, err
	}
	repo, _, err := gh.Repositories.Get(ctx, j.Owner, j.Repo)
	if err != nil {
		return nil, fmt.Errorf("read repository %s/%s: %w", j.Owner, j.Repo, err)
	}
	tok, err := p.GitHub.ReadToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return nil, err
	}
	b := &driftBase{gh: gh, repo: repo, branch: repo.GetDefaultBranch()}
	if b.dir, b.head, err = p.Checkouts.Checkout(ctx, Source{URL: repo.GetCloneURL(), Token: tok, Ref: "refs/heads/" + b.branch}, work); err != nil {
		return nil, err
	}
	if b.model, err = config.LoadRepo(b.dir, p.Config); err != nil {
		return nil, fmt.Errorf("%s at %s: %w", config.RepoFileName, shortSHA(b.head), err)
	}
	return b, nil
}

// Drift compares the live state of j's apps (every app, when j names none)
// with the base head they were last applied at, and acts as each app's
// drift mode says: a drift pull request (pr), a restore (remediate), or a
// record only (notify). An app whose last apply is not the head is left to
// its apply. A drift pull request whose drift is gone is closed.
func (p *Pipeline) Drift(ctx context.Context, j Job) error {
	log := p.logger().With(jobAttrs(j)...)
	work, err := os.MkdirTemp(p.WorkDir, "drift-")
	if err != nil {
		return fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	b, err := p.checkoutBase(ctx, j, work)
	if err != nil {
		return err
	}
	apps := b.model.Apps
	if len(j.Apps) > 0 {
		apps = appsNamed(apps, j.Apps)
	}
	var errs []error
	for _, app := range apps {
		if app.Drift == config.DriftOff || app.Cluster == config.NoCluster {
			continue
		}
		if err := p.driftApp(ctx, j, b, app, log.With("app", app.Name)); err != nil {
			errs = append(errs, fmt.Errorf("drift of app %s: %w", app.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (p *Pipeline) driftApp(ctx context.Context, j Job, b *driftBase, app config.App, log *slog.Logger) error {
	repoID := j.Owner + "/" + j.Repo
	c, err := p.Clusters.Get(app.Cluster)
	if err != nil {
		return err
	}
	rs, err := c.Records(ctx, repoID, app.Name)
	if err != nil {
		return err
	}
	last, ok := rs.Last()
	if !ok || last.Commit != b.head || !last.Ended() {
		log.Debug("not compared: the app's last apply is not the base head (its apply comes first)")
		return nil
	}
	objs, sources, err := p.renderer(repoID, "").Render(ctx, b.dir, app)
	if err != nil {
		return err
	}
	ds, err := c.Drift(ctx, app, objs, cluster.DriftOptions{Repository: repoID})
	if err != nil {
		return err
	}
	open, err := p.findDriftPR(ctx, b.gh, j, app.Name)
	if err != nil {
		return err
	}
	if !ds.Drifted() {
		if open != nil {
			log.Info("drift gone: closing its pull request", "pr", open.GetNumber())
			return p.closeDriftPR(ctx, b.gh, j, open, "The drift is gone: the live state matches `"+shortSHA(b.head)+"` again (undone by hand, or applied over). Nothing is left to accept.")
		}
		return nil
	}
	log.Info("drift", "objects", len(ds.Objects), "mode", app.Drift)
	tell := func(url string) {
		if p.Notify != nil {
			p.Notify.Send(notify.Event{Kind: notify.Drift, Repository: repoID, App: app.Name, Cluster: app.Cluster, Commit: b.head, URL: url,
				Message: fmt.Sprintf("%s drifted (mode %s): %s", app.Name, app.Drift, driftSummary(ds)), At: time.Now()})
		}
	}
	switch app.Drift {
	case config.DriftNotify:
		// Told once per drift: a comparison that finds the same drift as
		// the newest record says nothing again.
		if last.Trigger == cluster.TriggerDriftNotify && last.Error == driftSummary(ds) {
			return nil
		}
		tell("")
		return p.recordDrift(ctx, c, j, app, b.head, ds, cluster.TriggerDriftNotify, log)
	case config.DriftRemediate:
		tell("")
		_, err := p.restore(ctx, b, j, app, cluster.TriggerRemediate, ds)
		return err
	}
	url, err := p.driftPR(ctx, j, b, app, ds, objs, sources, open, log)
	if url != "" {
		tell(url)
	}
	return err
}

// recordDrift keeps a drift seen and left as it is in the app's records.
func (p *Pipeline) recordDrift(ctx context.Context, c *cluster.Client, j Job, app config.App, head string, ds *cluster.DriftSet, trigger cluster.Trigger, log *slog.Logger) error {
	now := time.Now().UTC()
	rec := cluster.ApplyRecord{ID: now.Format("20060102T150405.000000000Z") + "-drift", Repository: j.Owner + "/" + j.Repo, App: app.Name,
		Cluster: app.Cluster, Trigger: trigger, Commit: head, Result: cluster.ResultDrifted, Started: now, Error: driftSummary(ds)}
	return c.Record(ctx, rec)
}

// driftSummary says in one line which objects drifted and who changed
// them.
func driftSummary(ds *cluster.DriftSet) string {
	var parts []string
	for _, o := range ds.Objects {
		if !o.Drifted() {
			continue
		}
		switch {
		case o.Gone:
			parts = append(parts, o.Object.String()+" deleted")
		default:
			var fs []string
			for _, f := range o.Fields {
				fs = append(fs, f.Path+" by "+f.Manager)
			}
			parts = append(parts, o.Object.String()+": "+strings.Join(fs, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// restore applies the app as the base head renders it, taking back the
// fields others changed, and returns what it changed.
func (p *Pipeline) restore(ctx context.Context, b *driftBase, j Job, app config.App, trigger cluster.Trigger, ds *cluster.DriftSet) (appApplied, error) {
	a := p.applyApp(ctx, b.dir, p.Config.ScopeOf(j.Owner+"/"+j.Repo), appToApply{app: app, reason: string(trigger)},
		cluster.Origin{Trigger: trigger, Commit: b.head, By: "gantry"})
	if a.err != nil {
		return a, a.err
	}
	if a.failed() {
		return a, fmt.Errorf("restore of app %s: %s: %s", app.Name, a.record.Result, a.record.Error)
	}
	return a, nil
}

// driftBranch is the branch of an app's drift pull request.
func (p *Pipeline) driftBranch(app string) string {
	prefix := p.Route.DriftBranchPrefix
	if prefix == "" {
		prefix = "gantry/drift/"
	}
	return prefix + app
}

// findDriftPR returns the app's open drift pull request, when gantry can
// authenticate it as its own and no one else pushed to it: sealed for it,
// opened by the bot, its head the commit gantry pushed.
func (p *Pipeline) findDriftPR(ctx context.Context, gh *github.Client, j Job, app string) (*github.PullRequest, error) {
	branch := p.driftBranch(app)
	prs, _, err := gh.PullRequests.List(ctx, j.Owner, j.Repo, &github.PullRequestListOptions{State: "open", Head: j.Owner + ":" + branch})
	if err != nil {
		return nil, fmt.Errorf("list the pull requests of %s: %w", branch, err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch && isDriftPR(pr.GetBase().GetRepo(), pr, p.Route) {
			return pr, nil
		}
	}
	return nil, nil
}

// driftPR writes the live state of the drifted objects into the
// repository on the app's drift branch and opens, or updates, its pull
// request; it returns the pull request's URL when it opened or changed it
// ("" when the same drift was already there).
func (p *Pipeline) driftPR(ctx context.Context, j Job, b *driftBase, app config.App, ds *cluster.DriftSet, objs []*unstructured.Unstructured, sources render.SourceMap, open *github.PullRequest, log *slog.Logger) (string, error) {
	var in []driftwrite.Object
	for _, o := range ds.Objects {
		if !o.Drifted() {
			continue
		}
		w := driftwrite.Object{APIVersion: o.Object.GroupVersionKind().GroupVersion().String(), Kind: o.Object.Kind, Namespace: o.Object.Namespace, Name: o.Object.Name,
			Secret: o.Object.Kind == "Secret" && o.Object.Group == ""}
		if o.Desired != nil {
			w.Desired = o.Desired.Object
			w.Source, _ = sources.Of(o.Desired)
		}
		if o.Accepted != nil {
			w.Accepted = o.Accepted.Object
		}
		in = append(in, w)
	}
	edit, err := driftwrite.Write(ctx, b.dir, *b.model, app, in)
	if err != nil {
		return "", err
	}
	digest := editDigest(edit)
	if open != nil {
		var d driftPayload
		if p.Seal.Open(marker.KindDrift, marker.Scope(j.Owner, j.Repo, open.GetNumber()), open.GetBody(), &d) && d.Digest == digest {
			log.Debug("the drift pull request already holds this drift", "pr", open.GetNumber())
			return "", nil
		}
	}
	branch := p.driftBranch(app.Name)
	tok, err := p.GitHub.WriteToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return "", err
	}
	res, err := p.Restorer.Commit(ctx, gitrestore.CommitRequest{URL: b.repo.GetCloneURL(), Token: tok, Base: b.branch, Branch: branch,
		Message: fmt.Sprintf("Accept drift of %s\n\n%s", app.Name, driftSummary(ds)), Author: gitrestore.Signature{Name: "gantry", Email: "gantry@users.noreply.github.com"},
		Files: edit.Files, Deleted: edit.Deleted})
	if err != nil {
		return "", err
	}
	if res.Empty {
		log.Info("drift not writable into the repository (Secret values only, or no source): recorded", "skipped", edit.Skipped)
		c, err := p.Clusters.Get(app.Cluster)
		if err != nil {
			return "", err
		}
		return "", p.recordDrift(ctx, c, j, app, b.head, ds, cluster.TriggerDriftNotify, log)
	}
	title := "Accept drift of " + app.Name
	body := driftBody(app, ds, edit, b)
	if open != nil {
		log.Info("drift pull request updated", "pr", open.GetNumber())
		msg := "The drift changed: the branch now holds the live state as of " + time.Now().UTC().Format(time.RFC3339) + ".\n\n" + driftSummaryMarkdown(ds)
		if _, _, err := b.gh.Issues.CreateComment(ctx, j.Owner, j.Repo, open.GetNumber(), &github.IssueComment{Body: github.String(msg)}); err != nil {
			return "", fmt.Errorf("comment on drift pull request #%d: %w", open.GetNumber(), err)
		}
	}
	pr, err := p.publishOwnPR(ctx, b.gh, j, open, ownPR{what: "drift", branch: branch, base: b.branch, title: title, body: body,
		kind: marker.KindDrift, payload: driftPayload{App: app.Name, Branch: branch, Commit: res.Commit, Digest: digest}, label: DriftLabel})
	if err != nil {
		return "", err
	}
	if open == nil {
		log.Info("drift pull request opened", "pr", pr.GetNumber())
	}
	return pr.GetHTMLURL(), nil
}

// editDigest identifies a drift edit: the same drift makes the same edit.
func editDigest(e *driftwrite.Result) string {
	h := sha256.New()
	names := make([]string, 0, len(e.Files))
	for n := range e.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(e.Files[n]))
		h.Write(e.Files[n])
	}
	for _, d := range e.Deleted {
		fmt.Fprintf(h, "-%s\x00", d)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// label adds label to an issue or pull request, in the object form
// GitHub's description asks for (go-github sends a bare array); a failure
// is logged, never fatal.
func (p *Pipeline) label(ctx context.Context, gh *github.Client, j Job, n int, label string) {
	req, err := gh.NewRequest("POST", fmt.Sprintf("repos/%s/%s/issues/%d/labels", j.Owner, j.Repo, n), map[string][]string{"labels": {label}})
	if err == nil {
		_, err = gh.Do(ctx, req, nil)
	}
	if err != nil {
		p.logger().Warn("not labelled", "pr", n, "label", label, "err", err)
	}
}

// driftBody is a drift pull request's body: what drifted, old → new, who
// and when, and what merging, closing and /gantry revert do.
func driftBody(app config.App, ds *cluster.DriftSet, edit *driftwrite.Result, b *driftBase) string {
	var s strings.Builder
	fmt.Fprintf(&s, "### 🔀 gantry: `%s` drifted from `%s`\n\n", report.Defang(app.Name), shortSHA(b.head))
	fmt.Fprintf(&s, "Objects of `%s` in cluster `%s` were changed outside Git. This pull request writes the live state into the repository.\n\n", report.Defang(app.Name), report.Defang(app.Cluster))
	s.WriteString(driftSummaryMarkdown(ds))
	for _, sk := range edit.Skipped {
		fmt.Fprintf(&s, "- ⚠️ not written: %s\n", report.Defang(sk))
	}
	s.WriteString("\n#### What you can do\n\n- **Merge** to accept the drift: Git then says what the cluster has, and the apply after the merge changes nothing.\n" +
		"- **Close** (or comment `/gantry revert`) to restore the cluster to Git: gantry applies `" + shortSHA(b.head) + "` again, taking the fields back, and says what it restored.\n" +
		"- Pushing to this branch makes it an ordinary pull request: gantry stops updating it.\n")
	return s.String()
}

// driftSummaryMarkdown lists the drifted objects and fields, old → new,
// with who changed them and when; Secret values are never shown.
func driftSummaryMarkdown(ds *cluster.DriftSet) string {
	var s strings.Builder
	s.WriteString("| object | field | in Git | live | changed by | when |\n|---|---|---|---|---|---|\n")
	for _, o := range ds.Objects {
		if !o.Drifted() {
			continue
		}
		ref := report.Defang(o.Object.String())
		if o.Gone {
			fmt.Fprintf(&s, "| `%s` | (the whole object) | present | deleted | | |\n", ref)
			continue
		}
		for _, f := range o.Fields {
			when := ""
			if !f.Time.IsZero() {
				when = f.Time.UTC().Format("2006-01-02 15:04:05 UTC")
			}
			who := report.Defang(f.Manager)
			if f.Subresource != "" {
				who += " (" + report.Defang(f.Subresource) + ")"
			}
			fmt.Fprintf(&s, "| `%s` | `%s` | `%s` | `%s` | %s | %s |\n", ref, report.Defang(f.Path), report.Defang(clip(f.Desired)), report.Defang(clip(f.Live)), who, when)
		}
	}
	return s.String()
}

func clip(v string) string {
	if len(v) > 80 {
		return v[:77] + "..."
	}
	return v
}

// closeDriftPR closes a drift pull request with a comment.
func (p *Pipeline) closeDriftPR(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, why string) error {
	if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, pr.GetNumber(), &github.IssueComment{Body: github.String(why)}); err != nil {
		return fmt.Errorf("comment on drift pull request #%d: %w", pr.GetNumber(), err)
	}
	if _, _, err := gh.PullRequests.Edit(ctx, j.Owner, j.Repo, pr.GetNumber(), &github.PullRequest{State: github.String("closed")}); err != nil {
		return fmt.Errorf("close drift pull request #%d: %w", pr.GetNumber(), err)
	}
	return nil
}

// RevertDrift restores the cluster to Git for the app of a drift pull
// request that was closed unmerged (or answered with /gantry revert), and
// says what it restored; changed is false when nothing needed restoring.
func (p *Pipeline) RevertDrift(ctx context.Context, j Job, pr *github.PullRequest) (msg string, changed bool, err error) {
	var d driftPayload
	if !p.Seal.Open(marker.KindDrift, marker.Scope(j.Owner, j.Repo, pr.GetNumber()), pr.GetBody(), &d) {
		return "", false, fmt.Errorf("pull request #%d is not one of gantry's drift pull requests", pr.GetNumber())
	}
	work, err := os.MkdirTemp(p.WorkDir, "restore-")
	if err != nil {
		return "", false, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	b, err := p.checkoutBase(ctx, j, work)
	if err != nil {
		return "", false, err
	}
	apps := appsNamed(b.model.Apps, []string{d.App})
	if len(apps) == 0 {
		return "", false, fmt.Errorf("app %s is no longer in %s", d.App, config.RepoFileName)
	}
	a, err := p.restore(ctx, b, j, apps[0], cluster.TriggerRestoreDrift, nil)
	var s strings.Builder
	if err != nil {
		fmt.Fprintf(&s, "❌ restoring `%s` to `%s` failed: %s", report.Defang(d.App), shortSHA(b.head), report.Defang(err.Error()))
		return s.String(), false, err
	}
	fmt.Fprintf(&s, "↩️ restored `%s` to `%s`, as Git says:", report.Defang(d.App), shortSHA(b.head))
	n := 0
	for _, o := range a.changes.Objects {
		if o.Action == cluster.ChangeCreated || o.Action == cluster.ChangeConfigured {
			fmt.Fprintf(&s, "\n- %s `%s`", o.Action, report.Defang(o.Object.String()))
			n++
		}
	}
	if n == 0 {
		s.WriteString(" nothing needed changing (the drift was already gone).")
	}
	return s.String(), n > 0, nil
}
