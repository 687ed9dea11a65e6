package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
)

// JobKind is what a routed event asks gantry to do.
type JobKind string

// The kinds of work an event can start.
const (
	JobPlan         JobKind = "plan"          // render, policy and diff a pull request's head
	JobPRClosed     JobKind = "pr-closed"     // release locks; a merge's apply follows its push
	JobCommand      JobKind = "command"       // run the commands of a comment
	JobApply        JobKind = "apply"         // a push to a base branch: apply what it changed
	JobInstallation JobKind = "installation"  // the App's installations changed: resync them
	JobDriftPRClose JobKind = "drift-closed"  // one of gantry's drift PRs closed unmerged: restore the cluster to Git
	JobDrift        JobKind = "drift"         // compare apps' live state with Git and act as their drift mode says
	JobPromote      JobKind = "promote"       // open the promotion pull requests whose soak has ended
	JobPreviewLabel JobKind = "preview-label" // the preview label was added: preview the affected apps
	// JobPreviewUnlabel is the preview label's removal: delete the
	// previews. A kind of its own, so the queue never takes a removal
	// for the addition it follows.
	JobPreviewUnlabel JobKind = "preview-unlabel"
)

// Job is the work one event asks for. Lane says which serial lane it runs
// in: all work for one pull request (or one base branch) runs in order.
type Job struct {
	Kind           JobKind
	InstallationID int64
	Owner, Repo    string
	PR             int    // 0 for push and installation jobs
	HeadSHA        string // the commit judged or applied
	// Merged says a closed pull request was merged into the default
	// branch.
	Merged bool
	// Before is a push's previous head of the branch, or the head a
	// synchronize replaced ("" for other jobs).
	Before    string
	BaseRef   string // the pull request's base branch, or the pushed branch
	Sender    string // who caused the event
	Comment   *Parsed
	CommentID int64
	// CommentAt is when GitHub says the comment was made: an approval
	// binds to the plan published before it.
	CommentAt  time.Time
	DeliveryID string
	// Received is when the webhook arrived; zero for jobs resync made.
	Received time.Time
	// Apps are apps a plan includes besides the ones the change affects
	// (`/gantry plan app…`).
	Apps []string
	// PRFiltered says the router saw the pull request itself (a
	// pull_request event, or resync's listing) and the server's draft and
	// fork filters passed; other plans read it and check them first.
	PRFiltered bool
	// ResumeChecks are check runs, by name, that a run which never ended
	// (its replica was killed) left in progress on this head: the job
	// completes them instead of creating new ones, so each head keeps one
	// run per check.
	ResumeChecks map[string]int64
}

// Lane is the serial lane of the job: per pull request, per pushed branch,
// or per installation.
func (j Job) Lane() string {
	switch {
	case j.PR != 0:
		return fmt.Sprintf("%s/%s#%d", j.Owner, j.Repo, j.PR)
	case j.BaseRef != "":
		return fmt.Sprintf("%s/%s@%s", j.Owner, j.Repo, j.BaseRef)
	}
	return fmt.Sprintf("installation/%d", j.InstallationID)
}

// RouteConfig is what routing needs to know about the server.
type RouteConfig struct {
	// BotLogin is the App's bot user ("name[bot]"): its own comments are
	// never commands.
	BotLogin string
	// Drafts processes draft pull requests.
	Drafts bool
	// Forks processes pull requests from forks (never applied).
	Forks bool
	// DriftBranchPrefix is where gantry's drift pull requests live. The
	// branch name alone proves nothing: see Seal.
	DriftBranchPrefix string
	// PreviewLabel is the pull request label that asks for previews; ""
	// when previews are off.
	PreviewLabel string
	// Seal recognises gantry's own drift pull requests: opened by the bot,
	// from the drift prefix, with a body that opens with a drift marker
	// sealed for that pull request. Without it no pull request is taken
	// for a drift pull request.
	Seal *marker.Sealer
}

// Decision is a routed event: a job to run, or the reason it is ignored.
type Decision struct {
	Job    *Job
	Ignore string
}

func ignore(format string, args ...any) Decision {
	return Decision{Ignore: fmt.Sprintf(format, args...)}
}

// Route decides what a parsed webhook event (from github.ParseWebHook)
// asks for. It is pure: the same event and configuration always give the
// same decision.
func Route(event any, cfg RouteConfig) Decision {
	switch e := event.(type) {
	case *github.PingEvent:
		return ignore("ping")
	case *github.PullRequestEvent:
		return routePR(e, cfg)
	case *github.IssueCommentEvent:
		return routeComment(e, cfg)
	case *github.PushEvent:
		return routePush(e)
	case *github.CheckRunEvent:
		if e.GetAction() != "rerequested" {
			return ignore("check_run %s", e.GetAction())
		}
		if !strings.HasPrefix(e.GetCheckRun().GetName(), "gantry/") {
			return ignore("check run %q is not gantry's", e.GetCheckRun().GetName())
		}
		var prs []*github.PullRequest
		if e.GetCheckRun() != nil {
			prs = e.GetCheckRun().PullRequests
		}
		if len(prs) == 0 {
			return ignore("re-requested check run %q has no pull request", e.GetCheckRun().GetName())
		}
		return Decision{Job: &Job{Kind: JobPlan, InstallationID: e.GetInstallation().GetID(),
			Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), PR: prs[0].GetNumber(),
			HeadSHA: e.GetCheckRun().GetHeadSHA(), BaseRef: prs[0].GetBase().GetRef(), Sender: e.GetSender().GetLogin()}}
	case *github.CheckSuiteEvent:
		if e.GetAction() != "rerequested" {
			return ignore("check_suite %s", e.GetAction())
		}
		var prs []*github.PullRequest
		if e.GetCheckSuite() != nil {
			prs = e.GetCheckSuite().PullRequests
		}
		if len(prs) == 0 {
			return ignore("re-requested check suite has no pull request")
		}
		return Decision{Job: &Job{Kind: JobPlan, InstallationID: e.GetInstallation().GetID(),
			Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), PR: prs[0].GetNumber(),
			HeadSHA: e.GetCheckSuite().GetHeadSHA(), BaseRef: prs[0].GetBase().GetRef(), Sender: e.GetSender().GetLogin()}}
	case *github.InstallationEvent:
		return Decision{Job: &Job{Kind: JobInstallation, InstallationID: e.GetInstallation().GetID(), Sender: e.GetSender().GetLogin()}}
	case *github.InstallationRepositoriesEvent:
		return Decision{Job: &Job{Kind: JobInstallation, InstallationID: e.GetInstallation().GetID(), Sender: e.GetSender().GetLogin()}}
	}
	return ignore("event %T is not one gantry acts on", event)
}

func routePR(e *github.PullRequestEvent, cfg RouteConfig) Decision {
	pr := e.GetPullRequest()
	job := &Job{InstallationID: e.GetInstallation().GetID(), Owner: e.GetRepo().GetOwner().GetLogin(),
		Repo: e.GetRepo().GetName(), PR: pr.GetNumber(), HeadSHA: pr.GetHead().GetSHA(),
		BaseRef: pr.GetBase().GetRef(), Sender: e.GetSender().GetLogin()}
	switch e.GetAction() {
	case "opened", "synchronize", "reopened", "ready_for_review":
		if why := excluded(pr, cfg); why != "" {
			return ignore("%s", why)
		}
		job.Kind, job.PRFiltered = JobPlan, true
		if e.GetAction() == "synchronize" {
			job.Before = e.GetBefore()
		}
	case "labeled", "unlabeled":
		if cfg.PreviewLabel == "" || e.GetLabel().GetName() != cfg.PreviewLabel {
			return ignore("pull_request %s %q", e.GetAction(), e.GetLabel().GetName())
		}
		// As if the labeller commented `/gantry preview` (or `off`): the
		// same authorization and answers.
		job.Kind = JobPreviewLabel
		if e.GetAction() == "unlabeled" {
			job.Kind = JobPreviewUnlabel
		}
		job.Comment = &Parsed{Commands: []Command{{Verb: VerbPreview, Off: e.GetAction() == "unlabeled"}}}
	case "closed":
		job.Kind = JobPRClosed
		// A merge into the default branch is applied by its push, which
		// releases the pull request's locks after the apply.
		job.Merged = pr.GetMerged() && pr.GetBase().GetRef() == e.GetRepo().GetDefaultBranch()
		if !pr.GetMerged() && isDriftPR(e.GetRepo(), pr, cfg) {
			job.Kind = JobDriftPRClose
		}
	default:
		return ignore("pull_request %s", e.GetAction())
	}
	return Decision{Job: job}
}

// isFork reports whether pr's head lives outside its base repository. It
// fails closed: a head repository GitHub does not name (a deleted fork
// gives head.repo null) counts as a fork.
func isFork(pr *github.PullRequest) bool {
	head, base := pr.GetHead().GetRepo(), pr.GetBase().GetRepo()
	return head == nil || base == nil || head.GetID() == 0 || head.GetID() != base.GetID()
}

// isDriftPR reports whether pr is one of gantry's own drift pull
// requests: the bot opened it from its drift branch prefix in the same
// repository, its body opens with a drift marker sealed for it, and its
// head is the commit gantry pushed. A branch or body anyone else made, or
// a branch someone else pushed to, is an ordinary pull request.
func isDriftPR(repo *github.Repository, pr *github.PullRequest, cfg RouteConfig) bool {
	if cfg.Seal == nil || cfg.DriftBranchPrefix == "" || !strings.HasPrefix(pr.GetHead().GetRef(), cfg.DriftBranchPrefix) {
		return false
	}
	if isFork(pr) || pr.GetUser().GetLogin() != cfg.BotLogin {
		return false
	}
	var d driftPayload
	scope := marker.Scope(repo.GetOwner().GetLogin(), repo.GetName(), pr.GetNumber())
	return cfg.Seal.Open(marker.KindDrift, scope, pr.GetBody(), &d) && d.Branch == pr.GetHead().GetRef() && d.Commit == pr.GetHead().GetSHA()
}

// driftPayload is what a drift pull request's marker carries: the app,
// its branch, and the commit gantry pushed there (a head that is not it
// means someone else pushed: the pull request is then an ordinary one).
type driftPayload struct {
	App    string `json:"app"`
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	// Digest identifies the edit pushed: the same drift is not pushed again.
	Digest string `json:"digest,omitempty"`
}

// excluded says why the server's filters leave pr alone ("" when they do
// not): a draft, or a fork, unless the configuration processes them.
func excluded(pr *github.PullRequest, cfg RouteConfig) string {
	switch {
	case pr.GetDraft() && !cfg.Drafts:
		return fmt.Sprintf("pull request #%d is a draft", pr.GetNumber())
	case isFork(pr) && !cfg.Forks:
		from := pr.GetHead().GetRepo().GetFullName()
		if from == "" {
			from = "a repository that no longer exists"
		}
		return fmt.Sprintf("pull request #%d comes from the fork %s", pr.GetNumber(), from)
	}
	return ""
}

// NotProcessedError says that the server's filters leave a pull request
// alone, for the command that asked for it to answer.
type NotProcessedError struct{ Reason string }

func (e *NotProcessedError) Error() string {
	return e.Reason + ": this gantry server does not process it"
}

func routeComment(e *github.IssueCommentEvent, cfg RouteConfig) Decision {
	if e.GetAction() != "created" {
		return ignore("issue_comment %s", e.GetAction())
	}
	if e.GetIssue() == nil || !e.GetIssue().IsPullRequest() { // IsPullRequest is not nil-safe
		return ignore("comment on issue #%d, not a pull request", e.GetIssue().GetNumber())
	}
	user := e.GetComment().GetUser()
	if user.GetType() == "Bot" || user.GetLogin() == cfg.BotLogin || strings.HasSuffix(user.GetLogin(), "[bot]") {
		return ignore("comment by the bot %s", user.GetLogin())
	}
	parsed := ParseComment(e.GetComment().GetBody())
	if len(parsed.Commands) == 0 && parsed.Reply == "" {
		return ignore("comment %d has no /gantry command", e.GetComment().GetID())
	}
	return Decision{Job: &Job{Kind: JobCommand, InstallationID: e.GetInstallation().GetID(),
		Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(), PR: e.GetIssue().GetNumber(),
		Sender: user.GetLogin(), Comment: &parsed, CommentID: e.GetComment().GetID(), CommentAt: e.GetComment().GetCreatedAt().Time}}
}

func routePush(e *github.PushEvent) Decision {
	ref := e.GetRef()
	branch, ok := strings.CutPrefix(ref, "refs/heads/")
	switch {
	case !ok:
		return ignore("push to %s, not a branch", ref)
	case e.GetDeleted():
		return ignore("branch %s deleted", branch)
	case branch != e.GetRepo().GetDefaultBranch() && branch != e.GetRepo().GetMasterBranch():
		return ignore("push to %s, not the base branch %s", branch, e.GetRepo().GetDefaultBranch())
	}
	return Decision{Job: &Job{Kind: JobApply, InstallationID: e.GetInstallation().GetID(),
		Owner: e.GetRepo().GetOwner().GetLogin(), Repo: e.GetRepo().GetName(),
		HeadSHA: e.GetAfter(), Before: e.GetBefore(), BaseRef: branch, Sender: e.GetSender().GetLogin()}}
}
