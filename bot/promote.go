package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/gitrestore"
	"github.com/gantryops/gantry/promote"
	"github.com/gantryops/gantry/repofs"
)

// PromoteLabel marks the pull requests gantry opens to promote a change.
const PromoteLabel = "gantry:promote"

// promoteBranchPrefix is where gantry's promotion pull requests live:
// gantry/promote/<to>/<short commit>.
const promoteBranchPrefix = "gantry/promote/"

// promoteHealthWait bounds the health check at the end of a soak: an app
// still healthy answers at once; one rolling out has this long.
const promoteHealthWait = 30 * time.Second

// promotePayload is what a promotion pull request's sealed marker
// carries: which promotion it is, so a replica finds it again.
type promotePayload struct {
	ID     string `json:"id"`
	From   string `json:"from"`
	To     string `json:"to"`
	Commit string `json:"commit"`
	Branch string `json:"branch"`
}

// rememberPromotions records, beside the apply records, a soaking
// promotion for every app of run that promotes and applied healthy. A
// promotion still soaking for the same target is superseded: the new one
// compares from its base, so it carries both changes, and its soak starts
// again. Accepted drift is not promoted (it is not a change made for the
// next app). It returns how many it recorded, and says in each app's
// report what became of its promotion.
func (p *Pipeline) rememberPromotions(ctx context.Context, j Job, ghRepo *github.Repository, run *ApplyRun, todo []appToApply, checkID int64, trigger cluster.Trigger, log *slog.Logger) int {
	if trigger == cluster.TriggerAcceptDrift {
		return 0
	}
	n := 0
	now := time.Now().UTC()
	for i, a := range run.Apps {
		if a.app.Promote == nil || a.failed() || i >= len(todo) {
			continue
		}
		base := todo[i].last
		if base == "" && j.Before != "" && !isZeroSHA(j.Before) {
			base = j.Before
		}
		say := func(line string) {
			if i < len(run.Report.Apps) && run.Report.Apps[i].Name == a.app.Name {
				run.Report.Apps[i].Promotion = line
			}
		}
		if base == "" || base == j.HeadSHA {
			log.Info("not promoted: no earlier commit of the app to compare with", "app", a.app.Name, "to", a.app.Promote.To)
			say(fmt.Sprintf("not promoted to %s: no earlier commit of the app to compare with", a.app.Promote.To))
			continue
		}
		pr := promotionOf(j, ghRepo, a, base, run.Report.PRs, checkID, now)
		c, err := p.Clusters.Get(a.app.Cluster)
		if err == nil {
			err = c.UpdatePromotions(ctx, j.Owner+"/"+j.Repo, a.app.Name, func(ps *cluster.Promotions) bool {
				if old, ok := ps.Get(pr.ID); ok && old.State != cluster.PromotionSoaking {
					return false // this commit's promotion is past its soak already
				}
				for k, o := range ps.List {
					if o.State == cluster.PromotionSoaking && o.To == pr.To && o.ID != pr.ID {
						pr.Base = o.Base // the older change rides along
						pr.PRs = append(append([]int(nil), o.PRs...), pr.PRs...)
						ps.List[k].State, ps.List[k].Reason = cluster.PromotionSuperseded, "a newer apply of "+a.app.Name+" ("+shortSHA(j.HeadSHA)+") carries this change on"
					}
				}
				ps.Put(pr)
				return true
			})
		}
		if err != nil {
			log.Error("promotion not recorded: it will not be opened", "app", a.app.Name, "to", pr.To, "err", err)
			say(fmt.Sprintf("⚠️ promotion to %s not recorded, so it will not be opened: %s", pr.To, err))
			continue
		}
		log.Info("promotion soaking", "app", a.app.Name, "to", pr.To, "due", pr.Due)
		say(fmt.Sprintf("⏳ promotion to %s: soaking for %s, until %s; then, if still healthy, a pull request to %s that a human merges",
			pr.To, roundSoak(pr.Soak), pr.Due.Format("15:04:05 UTC"), pr.To))
		n++
	}
	return n
}

// promotionOf is the soaking promotion of an app's healthy apply.
func promotionOf(j Job, ghRepo *github.Repository, a appApplied, base string, prs []int, checkID int64, now time.Time) cluster.Promotion {
	soak := a.app.Promote.SoakD()
	check := ""
	if checkID != 0 && ghRepo.GetHTMLURL() != "" {
		check = fmt.Sprintf("%s/runs/%d", ghRepo.GetHTMLURL(), checkID)
	}
	return cluster.Promotion{ID: shortSHA(j.HeadSHA) + "-" + a.app.Promote.To, Repository: j.Owner + "/" + j.Repo, App: a.app.Name, To: a.app.Promote.To,
		Base: base, Commit: j.HeadSHA, Record: a.record.ID, PRs: append([]int(nil), prs...), Check: check,
		Healthy: now, Due: now.Add(soak), Soak: soak, State: cluster.PromotionSoaking}
}

// Promote opens the promotion pull requests of j's repository whose soak
// has ended by now, and completes those a replica left half-opened. It
// returns when the next soak ends (zero when none is waiting), for the
// caller to come back then.
func (p *Pipeline) Promote(ctx context.Context, j Job, now time.Time) (time.Time, error) {
	log := p.logger().With(jobAttrs(j)...)
	repoID := j.Owner + "/" + j.Repo
	type waiting struct {
		app config.App
		c   *cluster.Client
		ps  []cluster.Promotion
	}
	// The model says which apps promote: read from the base head, once.
	work, err := os.MkdirTemp(p.WorkDir, "promote-")
	if err != nil {
		return time.Time{}, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	b, err := p.checkoutBase(ctx, j, work)
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	var todo []waiting
	var errs []error
	for _, app := range b.model.Apps {
		if app.Promote == nil {
			continue
		}
		c, err := p.Clusters.Get(app.Cluster)
		if err != nil {
			errs = append(errs, fmt.Errorf("promotions of app %s: %w", app.Name, err))
			continue
		}
		ps, err := c.Promotions(ctx, repoID, app.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		w := waiting{app: app, c: c}
		for _, pr := range ps.List {
			switch {
			case pr.State == cluster.PromotionSoaking && now.Before(pr.Due):
				if next.IsZero() || pr.Due.Before(next) {
					next = pr.Due
				}
			case pr.State == cluster.PromotionSoaking || pr.State == cluster.PromotionOpening:
				w.ps = append(w.ps, pr)
			}
		}
		if len(w.ps) > 0 {
			todo = append(todo, w)
		}
	}
	for _, w := range todo {
		for _, pr := range w.ps {
			l := log.With("app", w.app.Name, "to", pr.To, "commit", shortSHA(pr.Commit))
			if err := p.promoteOne(ctx, j, b, w.c, w.app, pr, now, l); err != nil {
				errs = append(errs, fmt.Errorf("promotion of app %s to %s at %s: %w", w.app.Name, pr.To, shortSHA(pr.Commit), err))
			}
		}
	}
	return next, errors.Join(errs...)
}

// promoteOne judges a promotion whose soak ended and opens its pull
// request, or records why it will not be opened. An error leaves it as it
// was, for the next run to try again.
func (p *Pipeline) promoteOne(ctx context.Context, j Job, b *driftBase, c *cluster.Client, app config.App, pr cluster.Promotion, now time.Time, log *slog.Logger) error {
	repoID := j.Owner + "/" + j.Repo
	save := func(pr cluster.Promotion) error {
		return c.UpdatePromotions(ctx, repoID, app.Name, func(ps *cluster.Promotions) bool {
			cur, ok := ps.Get(pr.ID)
			if ok && (cur.State == cluster.PromotionOpened || cur.State == cluster.PromotionAbandoned || cur.State == cluster.PromotionSuperseded) {
				return false // another run finished it first
			}
			ps.Put(pr)
			return true
		})
	}
	abandon := func(why string, tell bool) error {
		log.Info("promotion abandoned", "why", why)
		pr.State, pr.Reason, pr.Checked = cluster.PromotionAbandoned, why, now
		if err := save(pr); err != nil {
			return err
		}
		if tell {
			p.tellPromotion(ctx, b.gh, j, pr, "⏸️ gantry did not promote this change from `"+report.Defang(pr.App)+"` to `"+report.Defang(pr.To)+"`: `"+report.Defang(why)+"`", log)
		}
		return nil
	}
	to := appsNamed(b.model.Apps, []string{pr.To})
	switch {
	case app.Promote.To != pr.To:
		return abandon(fmt.Sprintf("%s now promotes to %s, not %s", app.Name, app.Promote.To, pr.To), false)
	case len(to) == 0:
		return abandon(fmt.Sprintf("%s is no longer an app of %s", pr.To, config.RepoFileName), true)
	}
	var health *cluster.Health
	if pr.State == cluster.PromotionSoaking {
		why, h, err := p.stillHealthy(ctx, c, repoID, app, pr)
		if err != nil {
			return err
		}
		if why != "" {
			return abandon(why, true)
		}
		health = h
		pr.Checked = now
	}
	if pr.Branch == "" {
		pr.Branch = promoteBranchPrefix + pr.To + "/" + shortSHA(pr.Commit)
	}
	// A pull request already on the branch: gantry's own (open or
	// closed, never reopened) ends the promotion; anyone else's keeps
	// gantry from pushing over it.
	own, other, err := p.findPromotionPR(ctx, b.gh, j, pr)
	if err != nil {
		return err
	}
	if own != nil {
		pr.State, pr.Number, pr.URL = cluster.PromotionOpened, own.GetNumber(), own.GetHTMLURL()
		log.Info("promotion pull request already exists", "pr", own.GetNumber(), "state", own.GetState())
		return save(pr)
	}
	if other != nil {
		return fmt.Errorf("branch %s holds pull request #%d, which gantry did not open: not pushing over it", pr.Branch, other.GetNumber())
	}
	res, err := p.promotionEdit(ctx, j, b, app, to[0], pr)
	if err != nil {
		return err
	}
	if res.Empty() {
		if len(res.Conflicts) > 0 {
			return abandon(fmt.Sprintf("no part of the change applies cleanly to %s's source: %s", pr.To, conflictsLine(res.Conflicts)), true)
		}
		return abandon(fmt.Sprintf("%s's source already holds the change (or the change has no counterpart there)", pr.To), false)
	}
	pr.State = cluster.PromotionOpening
	if err := save(pr); err != nil {
		return err
	}
	tok, err := p.GitHub.WriteToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return err
	}
	commit, err := p.Restorer.Commit(ctx, gitrestore.CommitRequest{URL: b.repo.GetCloneURL(), Token: tok, Base: b.branch, Branch: pr.Branch,
		Message: fmt.Sprintf("Promote %s's change at %s to %s\n\n%s applied %s healthy; this makes the same change to %s's source.", app.Name, shortSHA(pr.Commit), pr.To, app.Name, shortSHA(pr.Commit), pr.To),
		Author:  gitrestore.Signature{Name: "gantry", Email: "gantry@users.noreply.github.com"}, Files: res.Files, Deleted: res.Deleted})
	if err != nil {
		return err
	}
	if commit.Empty {
		return abandon(fmt.Sprintf("%s's source on %s already holds the change", pr.To, b.branch), false)
	}
	title := fmt.Sprintf("Promote %s → %s (%s)", app.Name, pr.To, shortSHA(pr.Commit))
	body := promotionBody(b.repo, pr, health, res, b.branch, commit.BaseHead, now)
	opened, err := p.publishOwnPR(ctx, b.gh, j, nil, ownPR{what: "promotion", branch: pr.Branch, base: b.branch, title: title, body: body, kind: marker.KindPromote,
		payload: promotePayload{ID: pr.ID, From: app.Name, To: pr.To, Commit: pr.Commit, Branch: pr.Branch}, label: PromoteLabel})
	if err != nil {
		return err
	}
	pr.State, pr.Number, pr.URL = cluster.PromotionOpened, opened.GetNumber(), opened.GetHTMLURL()
	log.Info("promotion pull request opened", "pr", opened.GetNumber())
	if err := save(pr); err != nil {
		return err
	}
	p.tellPromotion(ctx, b.gh, j, pr, fmt.Sprintf("⏫ gantry opened %s to promote this change from `%s` to `%s` (healthy for %s).", opened.GetHTMLURL(), report.Defang(pr.App), report.Defang(pr.To), roundSoak(now.Sub(pr.Healthy))), log)
	return nil
}

// stillHealthy says why the app no longer qualifies at the soak's end
// ("" when it does): its newest apply must still be this one, healthy, and
// its objects healthy now.
func (p *Pipeline) stillHealthy(ctx context.Context, c *cluster.Client, repoID string, app config.App, pr cluster.Promotion) (string, *cluster.Health, error) {
	rs, err := c.Records(ctx, repoID, app.Name)
	if err != nil {
		return "", nil, err
	}
	last, ok := rs.Last()
	switch {
	case !ok:
		return fmt.Sprintf("%s has no apply record any more", app.Name), nil, nil
	case last.Commit != pr.Commit && last.Good():
		return fmt.Sprintf("a newer apply of %s (%s) replaced this one before the soak ended", app.Name, shortSHA(last.Commit)), nil, nil
	case last.Commit != pr.Commit:
		return fmt.Sprintf("a newer apply of %s (%s) ended %s before the soak ended", app.Name, shortSHA(last.Commit), last.Result), nil, nil
	case !last.Good():
		return fmt.Sprintf("%s's apply of %s is now recorded %s", app.Name, shortSHA(pr.Commit), last.Result), nil, nil
	}
	inv, err := c.Inventory(ctx, repoID, app.Name)
	if err != nil {
		return "", nil, err
	}
	opts := cluster.DefaultWaitOptions()
	opts.Timeout = promoteHealthWait
	h, err := c.Wait(ctx, inv.Objects, opts)
	if err != nil {
		return "", nil, err
	}
	if !h.Healthy {
		var objs []string
		for _, u := range h.Unhealthy {
			objs = append(objs, strings.TrimSpace(u.Object.String()+": "+u.Status+" "+u.Message))
		}
		return fmt.Sprintf("%s was not healthy at the end of the soak (%s)", app.Name, strings.Join(objs, "; ")), h, nil
	}
	return "", h, nil
}

// findPromotionPR looks at the pull requests, open or closed, from the
// promotion's branch: own is gantry's own for this promotion (opened by
// the bot, sealed for its number, for this promotion and branch); other
// is an open one that is not.
func (p *Pipeline) findPromotionPR(ctx context.Context, gh *github.Client, j Job, pr cluster.Promotion) (own, other *github.PullRequest, err error) {
	prs, _, err := gh.PullRequests.List(ctx, j.Owner, j.Repo, &github.PullRequestListOptions{State: "all", Head: j.Owner + ":" + pr.Branch, ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return nil, nil, fmt.Errorf("list the pull requests of %s: %w", pr.Branch, err)
	}
	bot, err := p.GitHub.BotLogin(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, x := range prs {
		if x.GetHead().GetRef() != pr.Branch {
			continue
		}
		if p.isPromotionPR(j, x, bot, pr) {
			return x, nil, nil
		}
		if x.GetState() == "open" && !(x.GetUser().GetLogin() == bot && x.GetBody() == placeholderBody) {
			other = x
		}
	}
	return nil, other, nil
}

// isPromotionPR reports whether x is gantry's promotion pull request for
// pr: never by its branch, title or body's look alone.
func (p *Pipeline) isPromotionPR(j Job, x *github.PullRequest, bot string, pr cluster.Promotion) bool {
	if x.GetUser().GetLogin() != bot || isFork(x) {
		return false
	}
	var d promotePayload
	return p.Seal.Open(marker.KindPromote, marker.Scope(j.Owner, j.Repo, x.GetNumber()), x.GetBody(), &d) &&
		d.ID == pr.ID && d.Branch == pr.Branch && d.Branch == x.GetHead().GetRef()
}

// promotionEdit reads the source app's files at the promotion's base and
// commit and the target's at the base branch's head, all through the
// confined reader, and makes the target's edit.
func (p *Pipeline) promotionEdit(ctx context.Context, j Job, b *driftBase, from, to config.App, pr cluster.Promotion) (*promote.Result, error) {
	tok, err := p.GitHub.ReadToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(p.WorkDir, "promote-src-")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	trees := map[string]map[string][]byte{}
	for _, sha := range []string{pr.Base, pr.Commit} {
		dir, _, err := p.Checkouts.Checkout(ctx, Source{URL: b.repo.GetCloneURL(), Token: tok, SHA: sha}, work)
		if err != nil {
			return nil, err
		}
		if trees[sha], err = sourceFiles(ctx, dir, from); err != nil {
			return nil, fmt.Errorf("source of app %s at %s: %w", from.Name, shortSHA(sha), err)
		}
	}
	var changes []promote.FileChange
	for _, name := range unionKeys(trees[pr.Base], trees[pr.Commit]) {
		before, after := trees[pr.Base][name], trees[pr.Commit][name]
		if before != nil && after != nil && string(before) == string(after) {
			continue
		}
		changes = append(changes, promote.FileChange{Path: name, Before: before, After: after})
	}
	fsys, err := repofs.Open(ctx, b.dir, repofs.DefaultLimits())
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	toDir, err := fsys.Resolve(to.Path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("directory of app %s: %w", to.Name, err)
	}
	read := func(name string) ([]byte, bool, error) {
		real, err := fsys.Resolve(name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, false, nil
		}
		if errors.Is(err, repofs.ErrOutside) {
			return nil, false, fmt.Errorf("%s of app %s: %w", name, to.Name, promote.ErrNotConfined)
		}
		if err != nil {
			return nil, false, err
		}
		if !strings.HasPrefix(real, toDir+"/") {
			return nil, false, fmt.Errorf("%s of app %s: %w", name, to.Name, promote.ErrNotConfined)
		}
		data, err := fsys.ReadFile(real)
		return data, err == nil, err
	}
	return promote.Promote(promote.Input{From: from, To: to, Changes: changes, Current: read})
}

// sourceFiles reads every regular file under app's directory in the
// checkout dir, through the confined reader. A file reached through a
// symbolic link leading out of the app's directory is not the app's own
// source, and is left out.
func sourceFiles(ctx context.Context, dir string, app config.App) (map[string][]byte, error) {
	fsys, err := repofs.Open(ctx, dir, repofs.DefaultLimits())
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	out := map[string][]byte{}
	root, err := fsys.Resolve(app.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil // the app's directory is new, or gone
	}
	if err != nil {
		return nil, err
	}
	err = fsys.WalkDir(app.Path, func(name string, d fs.DirEntry, err error) error {
		if errors.Is(err, repofs.ErrOutside) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		real, err := fsys.Resolve(name)
		if err != nil || !strings.HasPrefix(real, root+"/") || path.Clean(name) != name {
			return nil
		}
		data, err := fsys.ReadFile(name)
		if err != nil {
			return err
		}
		out[name] = data
		return nil
	})
	return out, err
}

// unionKeys are the names in either tree, sorted, each once.
func unionKeys(a, b map[string][]byte) []string {
	keys := slices.AppendSeq(slices.Collect(maps.Keys(a)), maps.Keys(b))
	slices.Sort(keys)
	return slices.Compact(keys)
}

// tellPromotion comments msg on the pull requests whose change the
// promotion carries; a failure is logged.
func (p *Pipeline) tellPromotion(ctx context.Context, gh *github.Client, j Job, pr cluster.Promotion, msg string, log *slog.Logger) {
	for _, n := range pr.PRs {
		if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, n, &github.IssueComment{Body: github.String(msg)}); err != nil {
			log.Warn("promotion not told on the pull request", "pr", n, "err", err)
		}
	}
}

func conflictsLine(cs []promote.Conflict) string {
	var parts []string
	for _, c := range cs {
		s := c.File
		if c.Field != "" {
			s += " " + c.Field
		}
		parts = append(parts, s+": "+c.Why)
	}
	return strings.Join(parts, "; ")
}

// roundSoak is a duration for people: whole seconds.
func roundSoak(d time.Duration) time.Duration { return d.Round(time.Second) }

// promotionBody is a promotion pull request's body: the evidence (health,
// soak, the first pull request, the apply's check run, the commit), what
// it changes, what it leaves for a human, and what merging does.
func promotionBody(repo *github.Repository, pr cluster.Promotion, h *cluster.Health, res *promote.Result, base, baseHead string, now time.Time) string {
	var s strings.Builder
	from, to := report.Defang(pr.App), report.Defang(pr.To)
	fmt.Fprintf(&s, "### ⏫ gantry: promote `%s` → `%s`\n\n", from, to)
	fmt.Fprintf(&s, "The change applied to `%s` at `%s` has been healthy for %s. This pull request makes the same change to `%s`'s source, on top of `%s` at `%s`.\n\n",
		from, shortSHA(pr.Commit), roundSoak(now.Sub(pr.Healthy)), to, report.Defang(base), shortSHA(baseHead))
	s.WriteString("#### Evidence\n\n| | |\n|---|---|\n")
	var refs []string
	for _, n := range pr.PRs {
		refs = append(refs, fmt.Sprintf("[#%d](%s/pull/%d)", n, repo.GetHTMLURL(), n))
	}
	if len(refs) == 0 {
		refs = append(refs, "none known (a push)")
	}
	fmt.Fprintf(&s, "| change | %s |\n", strings.Join(refs, ", "))
	fmt.Fprintf(&s, "| commit | [`%s`](%s/commit/%s) (compared from `%s`) |\n", shortSHA(pr.Commit), repo.GetHTMLURL(), pr.Commit, shortSHA(pr.Base))
	apply := "succeeded, healthy"
	if pr.Check != "" {
		apply += fmt.Sprintf(" ([gantry/apply](%s))", pr.Check)
	}
	fmt.Fprintf(&s, "| `%s` apply | %s at %s |\n", from, apply, pr.Healthy.UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(&s, "| soak | %s asked, %s observed |\n", pr.Soak, roundSoak(now.Sub(pr.Healthy)))
	if h != nil {
		fmt.Fprintf(&s, "| health at the end of the soak | %s healthy, read %s |\n", plural(h.Ready, "object", "objects"), now.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	s.WriteString("\n#### What this changes\n\n")
	for _, e := range res.Edits {
		line := "`" + report.Defang(e.File) + "`"
		if e.Field != "" {
			line += " `" + report.Defang(e.Field) + "`"
		}
		switch {
		case e.From != "" && e.To != "":
			line += fmt.Sprintf(": `%s` → `%s`", report.Defang(e.From), report.Defang(e.To))
		case e.To != "":
			line += fmt.Sprintf(": added `%s`", report.Defang(e.To))
		case e.From != "":
			line += fmt.Sprintf(": removed (was `%s`)", report.Defang(e.From))
		}
		fmt.Fprintf(&s, "- %s\n", line)
	}
	if len(res.Conflicts) > 0 {
		fmt.Fprintf(&s, "\n#### ⚠️ Left for a human\n\n`%s`'s source differs from `%s`'s before the change here, so these parts were not carried over; `%s` keeps its own value. Edit this branch if they must change too:\n\n", to, from, to)
		for _, c := range res.Conflicts {
			line := "`" + report.Defang(c.File) + "`"
			if c.Field != "" {
				line += " `" + report.Defang(c.Field) + "`"
			}
			// Why quotes the files' values: a code span keeps an
			// "@team" there from notifying anyone.
			fmt.Fprintf(&s, "- %s: `%s`\n", line, report.Defang(c.Why))
		}
	}
	if len(res.Skipped) > 0 {
		s.WriteString("\n<details><summary>Files of the change not promoted</summary>\n\n")
		for _, k := range res.Skipped {
			fmt.Fprintf(&s, "- `%s`: `%s`\n", report.Defang(k.File), report.Defang(k.Why))
		}
		s.WriteString("\n</details>\n")
	}
	fmt.Fprintf(&s, "\n#### Merging\n\nThis is an ordinary pull request: gantry plans it here, and merging applies `%s` (and promotes onward if `%s` promotes too). gantry never merges a promotion pull request itself. Closing it drops this promotion: gantry does not open it again.\n", to, to)
	return s.String()
}

// promoteJob is the promotion job of an apply job's repository and branch:
// it runs in the branch's lane, after the apply.
func promoteJob(j Job) Job {
	return Job{Kind: JobPromote, InstallationID: j.InstallationID, Owner: j.Owner, Repo: j.Repo, BaseRef: j.BaseRef}
}

// promote runs the promotion job and sets a timer for the next soak's
// end. The timer is a hint, like a webhook: the resync runs the job too,
// so a replica that restarts or takes over continues from the records.
func (s *Server) promote(ctx context.Context, j Job) error {
	next, err := s.pipe.Promote(ctx, j, time.Now())
	if !next.IsZero() {
		s.promoteAt.at(j, next, s.queue.Enqueue)
	}
	return err
}

// promoteTimers keeps one timer per lane, for its earliest soak's end.
type promoteTimers struct {
	mu     sync.Mutex
	timers map[string]promoteTimer
}

type promoteTimer struct {
	t  *time.Timer
	at time.Time
}

// at makes sure j is enqueued by when; an earlier timer of the lane stays.
func (pt *promoteTimers) at(j Job, when time.Time, enqueue func(Job) bool) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.timers == nil {
		pt.timers = map[string]promoteTimer{}
	}
	key := j.Lane()
	if cur, ok := pt.timers[key]; ok && !cur.at.After(when) && cur.at.After(time.Now()) {
		return
	}
	if cur, ok := pt.timers[key]; ok {
		cur.t.Stop()
	}
	// A moment past the end, so the job finds the soak over.
	pt.timers[key] = promoteTimer{at: when, t: time.AfterFunc(time.Until(when)+time.Second, func() {
		pt.mu.Lock()
		if pt.timers[key].at.Equal(when) {
			delete(pt.timers, key)
		}
		pt.mu.Unlock()
		enqueue(j)
	})}
}
