package bot

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/pause"
	"github.com/gantryops/gantry/render"
)

// applyCommand runs `/gantry apply [app…]`: the pull request's head is
// applied for its apps with apply: on-command, once every requirement of
// the server's applyCommand holds; each unmet one is answered by name.
func (s *Server) applyCommand(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, c Command, allowed func(config.Command, []string) (bool, string)) (string, error) {
	if ok, why := allowed(config.CommandApply, c.Apps); !ok {
		return why, nil
	}
	switch {
	case pr.GetState() != "open":
		return "the pull request is not open: nothing to apply.", nil
	case isFork(pr):
		return "❌ a pull request from a fork is never applied.", nil
	}
	if why := excluded(pr, s.route); why != "" {
		return "❌ " + why + ": this gantry server does not process it.", nil
	}
	head := pr.GetHead().GetSHA()
	h, done, answer, err := s.checkoutHead(ctx, gh, j, pr, "apply-cmd-")
	if done != nil {
		defer done()
	}
	if err != nil || answer != "" {
		return answer, err
	}
	apps, answer := commandApps(*h.head, render.AffectedApps(ctx, h.trees.head, *h.head, h.base, h.changed), c.Apps)
	if len(apps) == 0 {
		return answer, nil
	}
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.Name
	}
	if ok, why := allowed(config.CommandApply, names); !ok {
		return why, nil
	}
	unmet, err := s.unmetRequirements(ctx, gh, j, pr, apps)
	if err != nil {
		return "", err
	}
	if len(unmet) > 0 {
		return "❌ not applied:\n" + bullets(unmet) + answer, nil
	}
	ids, err := StartChecks(ctx, gh.Checks, j.Owner, j.Repo, head, nil, report.CheckApply)
	if err != nil {
		return "", err
	}
	todo := make([]appToApply, len(apps))
	for i, a := range apps {
		todo[i] = appToApply{app: a, reason: "/gantry apply by " + j.Sender}
	}
	log := s.log.With(jobAttrs(j)...).With("apply_head", shortSHA(head))
	applied := s.pipe.applyApps(ctx, h.trees.head, s.cfg.ScopeOf(j.Owner+"/"+j.Repo), todo,
		cluster.Origin{Trigger: cluster.TriggerCommand, PR: j.PR, Commit: head, By: j.Sender, ChangeStarted: changeStarted(ctx, gh, j, []*github.PullRequest{pr}, log)}, log)
	rep := report.ApplyReport{Commit: head, Trigger: string(cluster.TriggerCommand), PRs: []int{j.PR}}
	good := true
	for _, a := range applied {
		rep.Apps = append(rep.Apps, applyReportApp(a))
		good = good && !a.failed()
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := CompleteCheck(pctx, gh.Checks, j.Owner, j.Repo, ids[report.CheckApply], report.ApplyCheck(rep)); err != nil {
		return "", err
	}
	body := report.ApplyComment(rep) + answer
	switch {
	case !good:
		body += "\nThe cluster holds what applied of this head. Push a fix and `/gantry apply` again, or apply the base branch's state by closing this pull request and reverting by hand."
	case s.cfg.ApplyCommand.Merge:
		body += "\n" + s.mergeApplied(pctx, gh, j, head)
	default:
		body += "\nMerge the pull request to bring the base branch in line with the cluster."
	}
	_, _, err = gh.Issues.CreateComment(pctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String(body)})
	if err != nil {
		return "", fmt.Errorf("comment the apply on #%d: %w", j.PR, err)
	}
	return "", nil
}

// commandApps picks the apps `/gantry apply` applies: the affected (or
// named) apps that apply on command. The answer says why named or
// affected apps were left out.
func commandApps(model config.Repo, affected, named []string) ([]config.App, string) {
	want := affected
	if len(named) > 0 {
		want = named
	}
	var out []config.App
	var notes []string
	for _, a := range appsNamed(model.Apps, want) {
		if a.Apply != config.ApplyOnCommand {
			notes = append(notes, fmt.Sprintf("`%s` applies on merge, not on command: merge the pull request to apply it", report.Defang(a.Name)))
			continue
		}
		out = append(out, a)
	}
	if len(want) == 0 {
		notes = append(notes, "this pull request changes no app: nothing to apply")
	}
	if len(notes) == 0 {
		return out, ""
	}
	return out, "\n" + bullets(notes)
}

// unmetRequirements checks the server's applyCommand requirements on the
// pull request, and that no other pull request holds an app's lock; it
// returns each unmet one, said by name.
func (s *Server) unmetRequirements(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, apps []config.App) ([]string, error) {
	var unmet []string
	for _, r := range s.cfg.ApplyCommand.Required() {
		var why string
		var err error
		switch r {
		case config.RequireApproved:
			why, err = approvedRequirement(ctx, gh, j)
		case config.RequireChecks:
			why, err = checksRequirement(ctx, gh, j, pr.GetHead().GetSHA())
		case config.RequireMergeable:
			why, err = mergeableRequirement(ctx, gh, j)
		case config.RequireUpToDate:
			why, err = upToDateRequirement(ctx, gh, j, pr)
		}
		if err != nil {
			return nil, fmt.Errorf("requirement %s: %w", r, err)
		}
		if why != "" {
			unmet = append(unmet, fmt.Sprintf("**%s**: %s", r, why))
		}
	}
	for _, a := range apps {
		c, err := s.pipe.Clusters.Get(a.Cluster)
		if err != nil {
			return nil, err
		}
		l, err := c.InspectLock(ctx, cluster.LockKey{Repository: j.Owner + "/" + j.Repo, App: a.Name})
		if err != nil {
			return nil, fmt.Errorf("read the lock of %s: %w", a.Name, err)
		}
		if l != nil && l.Holder != lockHolder(j.Owner, j.Repo, j.PR) {
			unmet = append(unmet, fmt.Sprintf("**lock**: `%s` is locked by #%d", report.Defang(a.Name), l.PR))
		}
	}
	return unmet, nil
}

// approvedRequirement: an approving review, and no reviewer whose latest
// review requests changes.
func approvedRequirement(ctx context.Context, gh *github.Client, j Job) (string, error) {
	latest := map[string]string{}
	opts := &github.ListOptions{PerPage: 100}
	for {
		reviews, resp, err := gh.PullRequests.ListReviews(ctx, j.Owner, j.Repo, j.PR, opts)
		if err != nil {
			return "", fmt.Errorf("list reviews of #%d: %w", j.PR, err)
		}
		for _, r := range reviews {
			if st := r.GetState(); st == "APPROVED" || st == "CHANGES_REQUESTED" || st == "DISMISSED" {
				latest[r.GetUser().GetLogin()] = st
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	approved := false
	var blocking []string
	for user, st := range latest {
		switch st {
		case "APPROVED":
			approved = true
		case "CHANGES_REQUESTED":
			blocking = append(blocking, "@"+report.Defang(user))
		}
	}
	switch {
	case len(blocking) > 0:
		return "changes requested by " + strings.Join(blocking, ", "), nil
	case !approved:
		return "no approving review", nil
	}
	return "", nil
}

// checksRequirement: every check run on the head completed green, and the
// combined commit status is not failing or pending. gantry/apply is left
// out: it is this command's own check, so requiring it would deadlock.
func checksRequirement(ctx context.Context, gh *github.Client, j Job, head string) (string, error) {
	var bad []string
	opts := &github.ListCheckRunsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		runs, resp, err := gh.Checks.ListCheckRunsForRef(ctx, j.Owner, j.Repo, head, opts)
		if err != nil {
			return "", fmt.Errorf("list check runs of %s: %w", shortSHA(head), err)
		}
		for _, r := range runs.CheckRuns {
			if r.GetName() == report.CheckApply {
				continue
			}
			switch {
			case r.GetStatus() != "completed":
				bad = append(bad, fmt.Sprintf("`%s` is %s", report.Defang(r.GetName()), r.GetStatus()))
			case r.GetConclusion() != "success" && r.GetConclusion() != "neutral" && r.GetConclusion() != "skipped":
				bad = append(bad, fmt.Sprintf("`%s` concluded %s", report.Defang(r.GetName()), r.GetConclusion()))
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	st, _, err := gh.Repositories.GetCombinedStatus(ctx, j.Owner, j.Repo, head, nil)
	if err != nil {
		return "", fmt.Errorf("combined status of %s: %w", shortSHA(head), err)
	}
	if st.GetTotalCount() > 0 && st.GetState() != "success" {
		bad = append(bad, "commit statuses are "+st.GetState())
	}
	return strings.Join(bad, "; "), nil
}

// mergeableRequirement: GitHub says the pull request merges cleanly. GitHub
// computes mergeability in the background and answers null meanwhile, so
// it is asked again for a while.
func mergeableRequirement(ctx context.Context, gh *github.Client, j Job) (string, error) {
	for attempt := 0; ; attempt++ {
		pr, _, err := gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR)
		if err != nil {
			return "", fmt.Errorf("read pull request #%d: %w", j.PR, err)
		}
		if pr.Mergeable != nil {
			if !pr.GetMergeable() {
				return "GitHub says it does not merge cleanly (" + pr.GetMergeableState() + ")", nil
			}
			return "", nil
		}
		if attempt == 10 {
			return "GitHub is still computing whether it merges; try again in a moment", nil
		}
		if err := pause.For(ctx, time.Duration(200*(attempt+1))*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// upToDateRequirement: the head contains the base branch's head.
func upToDateRequirement(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest) (string, error) {
	cmp, _, err := gh.Repositories.CompareCommits(ctx, j.Owner, j.Repo, pr.GetBase().GetRef(), pr.GetHead().GetSHA(), &github.ListOptions{PerPage: 1})
	if err != nil {
		return "", fmt.Errorf("compare %s with the head: %w", pr.GetBase().GetRef(), err)
	}
	if n := cmp.GetBehindBy(); n > 0 {
		return fmt.Sprintf("%s behind %s: update the branch", plural(n, "commit", "commits"), report.Defang(pr.GetBase().GetRef())), nil
	}
	return "", nil
}

// mergeApplied merges the pull request at the head that was applied, and
// says how that went.
func (s *Server) mergeApplied(ctx context.Context, gh *github.Client, j Job, head string) string {
	res, _, err := gh.PullRequests.Merge(ctx, j.Owner, j.Repo, j.PR, "", &github.PullRequestOptions{SHA: head, MergeMethod: s.cfg.ApplyCommand.MergeMethod})
	if err != nil {
		return "⚠️ applied, but not merged: " + err.Error()
	}
	return fmt.Sprintf("Merged as `%s`, as the server's applyCommand.merge says.", shortSHA(res.GetSHA()))
}

func bullets(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString("- " + l + "\n")
	}
	return b.String()
}

// revertCommand runs `/gantry revert [app…]` on a merged pull request: it
// opens the pull request that restores the apps the merge changed to
// their state before it.
func (s *Server) revertCommand(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, c Command, allowed func(config.Command, []string) (bool, string)) (string, error) {
	if ok, why := allowed(config.CommandRevert, c.Apps); !ok {
		return why, nil
	}
	if pr.GetState() == "open" && isDriftPR(pr.GetBase().GetRepo(), pr, s.route) {
		// On a drift pull request: restore the cluster to Git and close it.
		msg, _, err := s.pipe.RevertDrift(ctx, j, pr)
		if err != nil {
			return msg, err
		}
		if err := s.pipe.closeDriftPR(ctx, gh, j, pr, msg); err != nil {
			return "", err
		}
		return "", nil
	}
	if !pr.GetMerged() {
		return "this pull request is not merged: there is nothing to revert (close it, or push the change you want).", nil
	}
	merge := pr.GetMergeCommitSHA()
	mc, _, err := gh.Git.GetCommit(ctx, j.Owner, j.Repo, merge)
	if err != nil {
		return "", fmt.Errorf("read merge commit %s: %w", shortSHA(merge), err)
	}
	if len(mc.Parents) == 0 {
		return "", fmt.Errorf("merge commit %s has no parent", shortSHA(merge))
	}
	before := mc.Parents[0].GetSHA()
	ghRepo, _, err := gh.Repositories.Get(ctx, j.Owner, j.Repo)
	if err != nil {
		return "", fmt.Errorf("read repository %s/%s: %w", j.Owner, j.Repo, err)
	}
	// The apps and their paths are the base branch's current model's.
	work, err := os.MkdirTemp(s.pipe.WorkDir, "revert-")
	if err != nil {
		return "", fmt.Errorf("work directory: %w", err)
	}
	defer os.RemoveAll(work)
	tok, err := s.app.ReadToken(ctx, j.InstallationID, j.Repo)
	if err != nil {
		return "", err
	}
	dir, _, err := s.pipe.Checkouts.Checkout(ctx, Source{URL: ghRepo.GetCloneURL(), Token: tok, Ref: "refs/heads/" + pr.GetBase().GetRef()}, work)
	if err != nil {
		return "", err
	}
	model, err := config.LoadRepo(dir, s.cfg)
	if err != nil {
		return "❌ the base branch's " + config.RepoFileName + " is not valid: " + err.Error(), nil
	}
	changed, err := changedFiles(ctx, gh, Job{Owner: j.Owner, Repo: j.Repo, PR: j.PR})
	if err != nil {
		return "", err
	}
	want := render.AffectedApps(ctx, dir, *model, nil, changed)
	if len(c.Apps) > 0 {
		want = c.Apps
	}
	apps := appsNamed(model.Apps, want)
	if len(apps) == 0 {
		return "the merge changed no app of the base branch's model: nothing to revert.", nil
	}
	r := revert{before: before, after: merge, branch: revertBranchPrefix + shortSHA(merge), prs: []int{j.PR},
		why: fmt.Sprintf("@%s asked for it with `/gantry revert` on #%d.\n\n", report.Defang(j.Sender), j.PR)}
	for _, a := range apps {
		deps, _ := render.Dependencies(ctx, dir, a)
		r.apps = append(r.apps, a.Name)
		r.paths = append(r.paths, appPaths(a, deps)...)
	}
	rj := j
	rj.BaseRef = pr.GetBase().GetRef()
	url, note, _, err := s.pipe.openRevert(ctx, gh, rj, ghRepo, r)
	switch {
	case err != nil:
		return "", err
	case url == "":
		return note + ".", nil
	}
	return "↩️ opened " + url + " to revert " + appList(r.apps) + " to `" + shortSHA(before) + "`; merging it applies the restored state.", nil
}

// headCheckout is a pull request's head and base checked out for a
// command acting on the head: both trees, both models, and the files the
// pull request changes.
type headCheckout struct {
	trees
	head, base *config.Repo
	changed    []string
}

// checkoutHead checks out a pull request's head and its base into a new
// work directory named after prefix, reads both models and lists the
// changed files. done removes the directory (nil when none was made);
// answer is the command's reply when the head's model is invalid.
func (s *Server) checkoutHead(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, prefix string) (h headCheckout, done func(), answer string, err error) {
	work, err := os.MkdirTemp(s.pipe.WorkDir, prefix)
	if err != nil {
		return h, nil, "", fmt.Errorf("work directory: %w", err)
	}
	done = func() { os.RemoveAll(work) }
	hj := Job{Kind: JobPlan, InstallationID: j.InstallationID, Owner: j.Owner, Repo: j.Repo, PR: j.PR, HeadSHA: pr.GetHead().GetSHA(), BaseRef: pr.GetBase().GetRef()}
	if h.trees, err = s.pipe.checkout(ctx, hj, pr, work); err != nil {
		return h, done, "", err
	}
	if h.head, h.base, err = model(h.trees, s.cfg); err != nil {
		return h, done, "❌ the head's " + config.RepoFileName + " is not valid: " + err.Error(), nil
	}
	if h.changed, err = changedFiles(ctx, gh, hj); err != nil {
		return h, done, "", err
	}
	return h, done, "", nil
}
