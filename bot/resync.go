package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/report"
)

// resyncLoop runs resync at start, so work missed while gantry was down
// is done, then every configured interval until ctx ends. Webhooks are
// hints: a lost or duplicated delivery delays a result but never loses
// it.
func (s *Server) resyncLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.ResyncInterval.D())
	defer t.Stop()
	if err := s.resync(ctx); err != nil {
		s.log.Warn("resync", "err", err)
	}
	if s.resynced != nil {
		close(s.resynced)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.resync(ctx); err != nil {
				s.log.Warn("resync", "err", err)
			}
		}
	}
}

// resync repairs what lost deliveries left behind: every open pull
// request whose head has no gantry/diff check run is planned, every base
// branch head is applied where an app's last applied commit is behind it,
// the locks of open pull requests are renewed, and every lock held by a
// pull request that is no longer open is released.
func (s *Server) resync(ctx context.Context) error {
	return s.resyncOf(ctx, s.owns)
}

// owns says whether this replica works on repository: always without
// sharding, else when it holds the repository's shard.
func (s *Server) owns(repository string) bool {
	m := s.shards.Load()
	return m == nil || m.holds(repository)
}

// resyncOf is resync over the repositories owns accepts: with sharding,
// those of the shards this replica holds.
func (s *Server) resyncOf(ctx context.Context, owns func(repository string) bool) error {
	if s.app == nil {
		return errors.New("resync: no GitHub App configured")
	}
	s.watch.refresh(ctx)
	var errs []error
	open := map[string]bool{} // "owner/repo#n" of open pull requests
	opts := &github.ListOptions{PerPage: 100}
	for {
		insts, resp, err := s.app.AppClient().Apps.ListInstallations(ctx, opts)
		if err != nil {
			return fmt.Errorf("resync: list installations: %w", err)
		}
		for _, inst := range insts {
			if err := s.resyncInstallation(ctx, inst.GetID(), open, owns); err != nil {
				errs = append(errs, err)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	complete := len(errs) == 0
	if complete {
		errs = append(errs, s.tendLocks(ctx, open, owns))
	}
	errs = append(errs, s.tendPreviews(ctx, open, complete, owns))
	return errors.Join(errs...)
}

func (s *Server) resyncInstallation(ctx context.Context, id int64, open map[string]bool, owns func(string) bool) error {
	gh, err := s.app.Client(id)
	if err != nil {
		return err
	}
	opts := &github.ListOptions{PerPage: 100}
	for {
		repos, resp, err := gh.Apps.ListRepos(ctx, opts)
		if err != nil {
			return fmt.Errorf("resync: installation %d: list repositories: %w", id, err)
		}
		for _, r := range repos.Repositories {
			if !owns(r.GetOwner().GetLogin() + "/" + r.GetName()) {
				continue // another replica's shard
			}
			if err := s.resyncRepo(ctx, gh, id, r, open); err != nil {
				return err
			}
		}
		if resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}

func (s *Server) resyncRepo(ctx context.Context, gh *github.Client, id int64, r *github.Repository, open map[string]bool) error {
	owner, name := r.GetOwner().GetLogin(), r.GetName()
	opts := &github.PullRequestListOptions{State: "open", ListOptions: github.ListOptions{PerPage: 100}}
	for {
		prs, resp, err := gh.PullRequests.List(ctx, owner, name, opts)
		if err != nil {
			return fmt.Errorf("resync: list pull requests of %s/%s: %w", owner, name, err)
		}
		for _, pr := range prs {
			open[strings.ToLower(lockHolder(owner, name, pr.GetNumber()))] = true
			d := Route(&github.PullRequestEvent{Action: github.String("synchronize"), PullRequest: pr, Repo: r,
				Installation: &github.Installation{ID: github.Int64(id)}, Sender: pr.GetUser()}, s.route)
			if d.Job == nil {
				continue // drafts and forks, as configured
			}
			found, stale, err := s.ownChecks(ctx, gh, owner, name, pr.GetHead().GetSHA(), report.CheckDiff, report.CheckPolicy)
			if err != nil {
				return fmt.Errorf("resync: check runs of %s/%s#%d: %w", owner, name, pr.GetNumber(), err)
			}
			switch {
			case !found:
				s.log.Info("resync: planning a pull request without a gantry check", jobAttrs(*d.Job)...)
				s.queue.Enqueue(*d.Job)
			case len(stale) > 0 && !s.queue.Holds(*d.Job):
				// Its run died with its replica (killed, or the leader
				// lost): the plan starts again and completes those runs.
				s.log.Info("resync: taking over a plan left in progress", jobAttrs(*d.Job)...)
				d.Job.ResumeChecks = stale
				s.queue.Enqueue(*d.Job)
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	// A push lost, or one that arrived while gantry was down, is applied
	// now: the apply job compares each app's last applied commit with the
	// base head, and does nothing when they agree.
	branch := r.GetDefaultBranch()
	b, _, err := gh.Repositories.GetBranch(ctx, owner, name, branch, 1)
	if err != nil {
		return fmt.Errorf("resync: branch %s of %s/%s: %w", branch, owner, name, err)
	}
	apply := Job{Kind: JobApply, InstallationID: id, Owner: owner, Repo: name, HeadSHA: b.GetCommit().GetSHA(), BaseRef: branch}
	if !s.queue.Holds(apply) {
		_, stale, err := s.ownChecks(ctx, gh, owner, name, apply.HeadSHA, report.CheckApply)
		if err != nil {
			return fmt.Errorf("resync: check runs of %s/%s@%s: %w", owner, name, branch, err)
		}
		apply.ResumeChecks = stale
	}
	s.queue.Enqueue(apply)
	// The full comparison behind the watches: drift that happened while
	// gantry was down, or whose event was missed. It runs after the apply
	// in the branch's lane, and compares only apps applied at the head.
	s.queue.Enqueue(Job{Kind: JobDrift, InstallationID: id, Owner: owner, Repo: name, BaseRef: branch})
	// Promotions a replica left soaking or half-opened continue here.
	s.queue.Enqueue(promoteJob(apply))
	return nil
}

// ownChecks reads the latest check runs of this App named names on sha:
// found says one exists; stale, when one of them is not completed, holds
// every one of them by name, so the run taking over completes those runs
// (a replica killed between completing one check and the next leaves
// both) and creates none beside them. A run of another App with the same
// name is not gantry's and counts for nothing.
func (s *Server) ownChecks(ctx context.Context, gh *github.Client, owner, repo, sha string, names ...string) (found bool, stale map[string]int64, err error) {
	runs, _, err := gh.Checks.ListCheckRunsForRef(ctx, owner, repo, sha, &github.ListCheckRunsOptions{Filter: github.String("latest"),
		ListOptions: github.ListOptions{PerPage: 100}})
	if err != nil {
		return false, nil, err
	}
	own := map[string]int64{}
	unfinished := false
	for _, r := range runs.CheckRuns {
		if !slices.Contains(names, r.GetName()) || r.GetApp().GetID() != s.cfg.GitHub.AppID {
			continue
		}
		own[r.GetName()] = r.GetID()
		unfinished = unfinished || r.GetStatus() != "completed"
	}
	if unfinished {
		stale = own
	}
	return len(own) > 0, stale, nil
}
