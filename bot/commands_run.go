package bot

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
)

// command runs the commands of one comment, in order, each authorized
// against the commenter's repository role and the server's permissions.
func (s *Server) command(ctx context.Context, j Job) error {
	gh, err := s.app.Client(j.InstallationID)
	if err != nil {
		return err
	}
	// 👀: the command was taken.
	if _, _, err := gh.Reactions.CreateIssueCommentReaction(ctx, j.Owner, j.Repo, j.CommentID, "eyes"); err != nil {
		s.log.Warn("react to command", "lane", j.Lane(), "err", err)
	}
	say := func(body string) error {
		_, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String(body)})
		if err != nil {
			return fmt.Errorf("answer @%s on #%d: %w", j.Sender, j.PR, err)
		}
		return nil
	}
	if j.Comment.Reply != "" {
		if err := say(fmt.Sprintf("@%s %s", j.Sender, j.Comment.Reply)); err != nil {
			return err
		}
	}
	if len(j.Comment.Commands) == 0 {
		return nil
	}
	pr, _, err := gh.PullRequests.Get(ctx, j.Owner, j.Repo, j.PR)
	if err != nil {
		return fmt.Errorf("read pull request #%d: %w", j.PR, err)
	}
	who, err := s.grant(ctx, gh, j)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range j.Comment.Commands {
		msg, err := s.runCommand(ctx, gh, j, pr, who, c)
		if err != nil {
			errs = append(errs, err)
			msg = "failed: " + err.Error()
		}
		if msg != "" {
			errs = append(errs, say(fmt.Sprintf("@%s `/gantry %s`: %s", j.Sender, commandText(c), msg)))
		}
	}
	return errors.Join(errs...)
}

func commandText(c Command) string {
	parts := []string{string(c.Verb)}
	parts = append(parts, c.Apps...)
	if c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	return strings.Join(parts, " ")
}

// runCommand does one command and returns the answer to post ("" when the
// command's own output, such as a new plan, is the answer).
func (s *Server) runCommand(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, who config.Grant, c Command) (string, error) {
	deny := func(cmd config.Command, app string) string {
		what := "this pull request"
		if app != "" {
			what = "`" + app + "`"
		}
		return fmt.Sprintf("❌ not allowed: your role on %s/%s is %q, and the gantry server's permissions do not let you run `%s` on %s.",
			j.Owner, j.Repo, who.Role, cmd, what)
	}
	allowed := func(cmd config.Command, apps []string) (bool, string) {
		if len(apps) == 0 {
			apps = []string{""}
		}
		for _, a := range apps {
			if !s.cfg.Allows(who, cmd, a) {
				return false, deny(cmd, a)
			}
		}
		return true, ""
	}
	head := Job{Kind: JobPlan, InstallationID: j.InstallationID, Owner: j.Owner, Repo: j.Repo, PR: j.PR,
		HeadSHA: pr.GetHead().GetSHA(), BaseRef: pr.GetBase().GetRef(), Sender: j.Sender}
	switch c.Verb {
	case VerbHelp:
		return HelpText(), nil
	case VerbPlan:
		if ok, why := allowed(config.CommandPlan, c.Apps); !ok {
			return why, nil
		}
		if pr.GetState() != "open" {
			return "the pull request is closed: nothing to plan.", nil
		}
		if unknown := s.unknownApps(ctx, gh, j, head.HeadSHA, c.Apps); unknown != "" {
			return unknown, nil
		}
		head.Apps = c.Apps
		return "", s.plan(ctx, head)
	case VerbUnlock:
		if ok, why := allowed(config.CommandUnlock, c.Apps); !ok {
			return why, nil
		}
		released, err := s.releaseLocks(ctx, j, c.Apps)
		if err != nil {
			return "", err
		}
		if len(released) == 0 {
			return "this pull request holds no lock" + appsSuffix(c.Apps) + ".", nil
		}
		return "🔓 released " + strings.Join(released, ", ") + ".", nil
	case VerbApprovePolicies:
		if ok, why := allowed(config.CommandApprovePolicies, nil); !ok {
			return why, nil
		}
		if !s.policyOwner(who) {
			return "❌ not allowed: only the owners of the server's policy sets may override their denies.", nil
		}
		marker := overrideMarker(head.HeadSHA, j.Sender, c.Reason)
		body := fmt.Sprintf("%s\n@%s `/gantry approve-policies`: ✅ policy denies on %s overridden by @%s: %s. A new push needs a new approval.",
			marker, j.Sender, shortSHA(head.HeadSHA), j.Sender, c.Reason)
		if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String(body)}); err != nil {
			return "", fmt.Errorf("record override on #%d: %w", j.PR, err)
		}
		return "", s.plan(ctx, head)
	case VerbApply, VerbRevert:
		return fmt.Sprintf("`/gantry %s` is %s; merging applies once apply on merge is built.", c.Verb, errNotBuilt), nil
	}
	return "", fmt.Errorf("command %q has no handler", c.Verb)
}

// unknownApps checks app names against the head's .gantry.yaml and says
// which are not apps, with a suggestion; "" when all are.
func (s *Server) unknownApps(ctx context.Context, gh *github.Client, j Job, sha string, names []string) string {
	if len(names) == 0 {
		return ""
	}
	file, _, _, err := gh.Repositories.GetContents(ctx, j.Owner, j.Repo, config.RepoFileName, &github.RepositoryContentGetOptions{Ref: sha})
	if err != nil {
		return "" // discovered apps, or unreadable: the plan will say
	}
	text, err := file.GetContent()
	if err != nil {
		return ""
	}
	repo, err := config.ParseRepo(config.RepoFileName, []byte(text), s.cfg)
	if err != nil {
		return "" // the plan reports the invalid .gantry.yaml
	}
	known := make([]string, len(repo.Apps))
	for i, a := range repo.Apps {
		known[i] = a.Name
	}
	for _, n := range names {
		if !contains(known, n) {
			return fmt.Sprintf("no app `%s` in %s%s (apps: %s).", n, config.RepoFileName, config.DidYouMean(n, known), strings.Join(known, ", "))
		}
	}
	return ""
}

func appsSuffix(apps []string) string {
	if len(apps) == 0 {
		return ""
	}
	return " on " + strings.Join(apps, ", ")
}

// grant is what GitHub says about the commenter: their role on the
// repository and the teams the configuration cares about.
func (s *Server) grant(ctx context.Context, gh *github.Client, j Job) (config.Grant, error) {
	who := config.Grant{Login: j.Sender}
	perm, _, err := gh.Repositories.GetPermissionLevel(ctx, j.Owner, j.Repo, j.Sender)
	if err != nil {
		return who, fmt.Errorf("read @%s's permission on %s/%s: %w", j.Sender, j.Owner, j.Repo, err)
	}
	who.Role = perm.GetUser().GetRoleName() // maintain and triage; permission folds them into write and read
	if who.Role == "" {
		who.Role = perm.GetPermission()
	}
	teams := map[string]bool{}
	for _, p := range s.cfg.Permissions {
		for _, t := range p.Teams {
			teams[t] = true
		}
	}
	for _, ps := range s.cfg.Policies {
		for _, o := range ps.Owners {
			if t, ok := strings.CutPrefix(o, "@"); ok && strings.Contains(t, "/") {
				teams[t] = true
			}
		}
	}
	names := make([]string, 0, len(teams))
	for t := range teams {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		org, slug, _ := strings.Cut(t, "/")
		m, _, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, j.Sender)
		if err == nil && m.GetState() == "active" {
			who.Teams = append(who.Teams, t)
		}
	}
	return who, nil
}

// policyOwner reports whether who owns every server policy set that names
// owners (sets without owners leave it to the permissions).
func (s *Server) policyOwner(who config.Grant) bool {
	for _, ps := range s.cfg.Policies {
		if len(ps.Owners) == 0 {
			continue
		}
		owns := false
		for _, o := range ps.Owners {
			t, isTeam := strings.CutPrefix(o, "@")
			if (!isTeam && o == who.Login) || (isTeam && (t == who.Login || contains(who.Teams, t))) {
				owns = true
			}
		}
		if !owns {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var overrideRe = regexp.MustCompile(`<!-- gantry:override head=([0-9a-f]+) by=(\S+) reason=(\S*) -->`)

func overrideMarker(sha, by, reason string) string {
	return fmt.Sprintf("<!-- gantry:override head=%s by=%s reason=%s -->", sha, url.QueryEscape(by), url.QueryEscape(reason))
}

// findOverride returns the newest policy override the bot recorded for
// the job's head commit; an override never carries over to a new push.
func findOverride(ctx context.Context, api commentsAPI, j Job, bot string) *report.Override {
	var found *report.Override
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := api.ListComments(ctx, j.Owner, j.Repo, j.PR, opts)
		if err != nil {
			return found
		}
		for _, c := range cs {
			if c.GetUser().GetLogin() != bot {
				continue
			}
			m := overrideRe.FindStringSubmatch(c.GetBody())
			if m == nil || m[1] != j.HeadSHA {
				continue
			}
			by, _ := url.QueryUnescape(m[2])
			reason, _ := url.QueryUnescape(m[3])
			found = &report.Override{By: by, Reason: reason}
		}
		if resp == nil || resp.NextPage == 0 {
			return found
		}
		opts.Page = resp.NextPage
	}
}

// releaseLocks releases the locks the job's pull request holds (only on
// apps, when given) in every cluster, and returns the apps released.
func (s *Server) releaseLocks(ctx context.Context, j Job, apps []string) ([]string, error) {
	holder := fmt.Sprintf("%s/%s#%d", j.Owner, j.Repo, j.PR)
	var released []string
	err := s.forEachLock(ctx, func(c *cluster.Client, l cluster.Lock) error {
		if l.Holder != holder || (len(apps) > 0 && !contains(apps, l.App)) {
			return nil
		}
		if err := c.ReleaseLock(ctx, l.App, holder); err != nil {
			return fmt.Errorf("release lock of %s: %w", l.App, err)
		}
		released = append(released, "`"+l.App+"`")
		return nil
	})
	return released, err
}

// forEachLock calls fn for every lock in every configured cluster; a
// cluster that cannot be read is an error that does not stop the others.
func (s *Server) forEachLock(ctx context.Context, fn func(*cluster.Client, cluster.Lock) error) error {
	var errs []error
	for _, cc := range s.cfg.Clusters {
		c, err := s.pipe.Clusters.Get(cc.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		locks, err := c.Locks(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("locks in cluster %s: %w", cc.Name, err))
			continue
		}
		for _, l := range locks {
			errs = append(errs, fn(c, l))
		}
	}
	return errors.Join(errs...)
}
