package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
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
		s.log.Warn("react to command", append(jobAttrs(j), "err", err)...)
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
	return s.runCommands(ctx, gh, j, func(c Command) string { return "`/gantry " + commandText(c) + "`" })
}

// runCommands runs the job's commands as its sender, on its pull
// request, and answers each that has something to say on the pull
// request, headed by what(c): how the command was given.
func (s *Server) runCommands(ctx context.Context, gh *github.Client, j Job, what func(Command) string) error {
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
		if msg == "" {
			continue
		}
		body := fmt.Sprintf("@%s %s: %s", j.Sender, what(c), msg)
		if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String(body)}); err != nil {
			errs = append(errs, fmt.Errorf("answer @%s on #%d: %w", j.Sender, j.PR, err))
		}
	}
	return errors.Join(errs...)
}

// commandText is the command as gantry echoes it: user text made safe.
func commandText(c Command) string {
	parts := []string{string(c.Verb)}
	if c.Off {
		parts = append(parts, "off")
	}
	parts = append(parts, c.Apps...)
	if c.Reason != "" {
		parts = append(parts, c.Reason)
	}
	return marker.Quote(strings.Join(parts, " "))
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
		HeadSHA: pr.GetHead().GetSHA(), BaseRef: pr.GetBase().GetRef(), Sender: j.Sender, DeliveryID: j.DeliveryID}
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
		if why := excluded(pr, s.route); why != "" {
			return "❌ " + why + ": this gantry server does not process it.", nil
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
		return s.approvePolicies(ctx, gh, j, pr, who, c, allowed)
	case VerbApply:
		return s.applyCommand(ctx, gh, j, pr, c, allowed)
	case VerbRevert:
		return s.revertCommand(ctx, gh, j, pr, c, allowed)
	case VerbPreview:
		return s.previewCommand(ctx, gh, j, pr, c, allowed)
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
			return fmt.Sprintf("no app `%s` in %s%s (apps: %s).", marker.Quote(n), config.RepoFileName, config.DidYouMean(n, known), strings.Join(known, ", "))
		}
	}
	return ""
}

func appsSuffix(apps []string) string {
	if len(apps) == 0 {
		return ""
	}
	return " on " + marker.Quote(strings.Join(apps, ", "))
}

// grant is what GitHub says about the commenter: their role on the
// repository and the teams the configuration cares about.
func (s *Server) grant(ctx context.Context, gh *github.Client, j Job) (config.Grant, error) {
	who := config.Grant{Login: j.Sender}
	role, err := repositoryRole(ctx, gh, j.Owner, j.Repo, j.Sender)
	if err != nil {
		return who, err
	}
	who.Role = role
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
		m, resp, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, j.Sender)
		switch {
		case err == nil:
			if m.GetState() == "active" {
				who.Teams = append(who.Teams, t)
			}
		case resp != nil && resp.StatusCode == http.StatusNotFound:
			// Not a member (or the team is not visible to the App).
		default:
			return who, fmt.Errorf("read @%s's membership of team %s: %w", j.Sender, t, err)
		}
	}
	return who, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// approvePolicies records a policy override for the head the approver
// could read when commenting, if they may give one: never the pull
// request's author, only for the apps their permissions cover and the
// policy sets they may override (see applyOverride), and only on an open
// pull request the server processes.
func (s *Server) approvePolicies(ctx context.Context, gh *github.Client, j Job, pr *github.PullRequest, who config.Grant, c Command,
	allowed func(config.Command, []string) (bool, string)) (string, error) {
	if ok, why := allowed(config.CommandApprovePolicies, nil); !ok {
		return why, nil
	}
	switch {
	case strings.EqualFold(pr.GetUser().GetLogin(), j.Sender):
		return "❌ not allowed: the author of a pull request cannot approve its own policy denies; ask an owner of the policy sets.", nil
	case pr.GetState() != "open":
		return "the pull request is closed: nothing to approve.", nil
	case excluded(pr, s.route) != "":
		return "❌ " + excluded(pr, s.route) + ": this gantry server does not process it, so there is nothing to approve.", nil
	}
	sets, ownerless := overridableSets(s.cfg, who)
	if len(sets) == 0 && !ownerless {
		return "❌ not allowed: you own none of the server's policy sets, and this server does not let denies of sets without owners be overridden (policyOverrides.allowOwnerless).", nil
	}
	bot, err := s.app.BotLogin(ctx)
	if err != nil {
		return "", err
	}
	summaryHead, summaryAt, err := s.summaryState(ctx, gh.Issues, j, bot)
	if err != nil {
		return "", err
	}
	head, why := approvalBinding(pr.GetHead().GetSHA(), summaryHead, summaryAt, j.CommentAt)
	if why != "" {
		return "❌ not recorded: " + why + ".", nil
	}
	o := overridePayload{Head: head, By: j.Sender, Role: who.Role, Teams: who.Teams, Reason: marker.Quote(c.Reason)}
	seal, err := s.pipe.Seal.Seal(marker.KindOverride, marker.Scope(j.Owner, j.Repo, j.PR), o)
	if err != nil {
		return "", err
	}
	covers := "the apps your permissions cover"
	if len(sets) > 0 {
		covers += ", in the policy sets " + strings.Join(sets, ", ")
	}
	if ownerless {
		covers += " and in sets without owners"
	}
	body := fmt.Sprintf("%s\n@%s `/gantry approve-policies`: ✅ policy denies on %s overridden by @%s: `%s` — for %s. A new push needs a new approval.",
		seal, j.Sender, shortSHA(head), j.Sender, o.Reason, covers)
	if _, _, err := gh.Issues.CreateComment(ctx, j.Owner, j.Repo, j.PR, &github.IssueComment{Body: github.String(body)}); err != nil {
		return "", fmt.Errorf("record override on #%d: %w", j.PR, err)
	}
	return "", s.plan(ctx, Job{Kind: JobPlan, InstallationID: j.InstallationID, Owner: j.Owner, Repo: j.Repo, PR: j.PR,
		HeadSHA: head, BaseRef: pr.GetBase().GetRef(), Sender: j.Sender})
}

// repositoryRole is the commenter's role on the repository: the top-level
// role_name GitHub documents (admin, maintain, write, triage, read or a
// custom role's name), which go-github v60 does not decode; then the
// nested user.role_name some responses carry; then permission, which
// folds maintain into write and triage into read.
func repositoryRole(ctx context.Context, gh *github.Client, owner, repo, user string) (string, error) {
	req, err := gh.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/collaborators/%s/permission",
		url.PathEscape(owner), url.PathEscape(repo), url.PathEscape(user)), nil)
	if err != nil {
		return "", err
	}
	var body struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
		User       struct {
			RoleName string `json:"role_name"`
		} `json:"user"`
	}
	if _, err := gh.Do(ctx, req, &body); err != nil {
		return "", fmt.Errorf("read @%s's permission on %s/%s: %w", user, owner, repo, err)
	}
	for _, r := range []string{body.RoleName, body.User.RoleName, body.Permission} {
		if r != "" {
			return r, nil
		}
	}
	return "", fmt.Errorf("read @%s's permission on %s/%s: GitHub gave no role", user, owner, repo)
}
