package bot

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

func repo() *github.Repository {
	return &github.Repository{ID: github.Int64(1), Name: github.String("ops"), FullName: github.String("acme/ops"),
		Owner: &github.User{Login: github.String("acme")}}
}

func prEvent(action string, mutate func(*github.PullRequest)) *github.PullRequestEvent {
	pr := &github.PullRequest{Number: github.Int(7), Draft: github.Bool(false),
		Head: &github.PullRequestBranch{SHA: github.String("abc"), Ref: github.String("feature"), Repo: repo()},
		Base: &github.PullRequestBranch{Ref: github.String("main"), Repo: repo()}}
	if mutate != nil {
		mutate(pr)
	}
	return &github.PullRequestEvent{Action: github.String(action), PullRequest: pr, Repo: repo(),
		Installation: &github.Installation{ID: github.Int64(42)}, Sender: &github.User{Login: github.String("alice")}}
}

// labelEvent is pull request 7 labelled (or unlabelled) with name.
func labelEvent(action, name string) *github.PullRequestEvent {
	e := prEvent(action, nil)
	e.Label = &github.Label{Name: github.String(name)}
	return e
}

func commentEvent(login, typ, body string, onPR bool) *github.IssueCommentEvent {
	issue := &github.Issue{Number: github.Int(7)}
	if onPR {
		issue.PullRequestLinks = &github.PullRequestLinks{URL: github.String("https://api.github.com/repos/acme/ops/pulls/7")}
	}
	return &github.IssueCommentEvent{Action: github.String("created"), Issue: issue, Repo: repo(),
		Installation: &github.Installation{ID: github.Int64(42)},
		Comment:      &github.IssueComment{ID: github.Int64(99), Body: github.String(body), User: &github.User{Login: github.String(login), Type: github.String(typ)}}}
}

func pushEvent(ref string, deleted bool) *github.PushEvent {
	return &github.PushEvent{Ref: github.String(ref), After: github.String("def"), Deleted: github.Bool(deleted),
		Repo:         &github.PushEventRepository{Name: github.String("ops"), Owner: &github.User{Login: github.String("acme")}, DefaultBranch: github.String("main")},
		Installation: &github.Installation{ID: github.Int64(42)}, Sender: &github.User{Login: github.String("bob")}}
}

func TestRoute(t *testing.T) {
	seal := marker.New([]byte("server key"))
	cfg := RouteConfig{BotLogin: "gantry[bot]", DriftBranchPrefix: "gantry/drift/", Seal: seal}
	plan := &Job{Kind: JobPlan, InstallationID: 42, Owner: "acme", Repo: "ops", PR: 7, HeadSHA: "abc", BaseRef: "main", Sender: "alice", PRFiltered: true}
	// drift makes pull request 7 one of gantry's drift pull requests, as
	// the bot opens them; body replaces the sealed body when not empty.
	drift := func(body string) func(*github.PullRequest) {
		return func(p *github.PullRequest) {
			p.Head.Ref = github.String("gantry/drift/web")
			p.User = &github.User{Login: github.String("gantry[bot]")}
			p.Body = github.String(seal.MustSeal(marker.KindDrift, marker.Scope("acme", "ops", 7), driftPayload{App: "web", Branch: "gantry/drift/web", Commit: "abc"}) + "\ndrift of web")
			if body != "" {
				p.Body = github.String(body)
			}
		}
	}
	sealedFor := func(n int) string {
		return seal.MustSeal(marker.KindDrift, marker.Scope("acme", "ops", n), driftPayload{App: "web", Branch: "gantry/drift/web", Commit: "abc"})
	}
	with := func(j *Job, f func(*Job)) *Job { c := *j; f(&c); return &c }
	tests := []struct {
		name       string
		event      any
		cfg        *RouteConfig
		want       *Job
		wantIgnore string
	}{
		{"opened", prEvent("opened", nil), nil, plan, ""},
		{"synchronize", prEvent("synchronize", nil), nil, plan, ""},
		{"ready for review", prEvent("ready_for_review", nil), nil, plan, ""},
		{"labeled is ignored", prEvent("labeled", nil), nil, nil, "pull_request labeled"},
		{"the preview label is ignored when previews are off", labelEvent("labeled", "gantry/preview"), nil, nil, "pull_request labeled \"gantry/preview\""},
		{"another label is ignored", labelEvent("labeled", "bug"), &RouteConfig{PreviewLabel: "gantry/preview"}, nil, "pull_request labeled \"bug\""},
		{"the preview label previews", labelEvent("labeled", "gantry/preview"), &RouteConfig{PreviewLabel: "gantry/preview"},
			with(plan, func(j *Job) {
				j.Kind, j.PRFiltered, j.Comment = JobPreviewLabel, false, &Parsed{Commands: []Command{{Verb: VerbPreview}}}
			}), ""},
		{"removing the preview label deletes the previews", labelEvent("unlabeled", "gantry/preview"), &RouteConfig{PreviewLabel: "gantry/preview"},
			with(plan, func(j *Job) {
				j.Kind, j.PRFiltered, j.Comment = JobPreviewUnlabel, false, &Parsed{Commands: []Command{{Verb: VerbPreview, Off: true}}}
			}), ""},
		{"draft ignored", prEvent("opened", func(p *github.PullRequest) { p.Draft = github.Bool(true) }), nil, nil, "is a draft"},
		{"draft processed when configured", prEvent("opened", func(p *github.PullRequest) { p.Draft = github.Bool(true) }), &RouteConfig{Drafts: true}, plan, ""},
		{"fork ignored", prEvent("opened", func(p *github.PullRequest) {
			p.Head.Repo = &github.Repository{ID: github.Int64(2), FullName: github.String("mallory/ops")}
		}), nil, nil, "comes from the fork mallory/ops"},
		{"deleted fork (head.repo null) fails closed", prEvent("opened", func(p *github.PullRequest) { p.Head.Repo = nil }), nil, nil,
			"comes from the fork a repository that no longer exists"},
		{"head repository without id fails closed", prEvent("opened", func(p *github.PullRequest) { p.Head.Repo = &github.Repository{} }), nil, nil, "comes from the fork"},
		{"closed", prEvent("closed", func(p *github.PullRequest) { p.Merged = github.Bool(true) }), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"drift PR closed unmerged", prEvent("closed", drift("")), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobDriftPRClose, false }), ""},
		{"drift PR merged", prEvent("closed", func(p *github.PullRequest) {
			drift("")(p)
			p.Merged = github.Bool(true)
		}), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"drift branch opened by a person is an ordinary PR", prEvent("closed", func(p *github.PullRequest) {
			drift("")(p)
			p.User = &github.User{Login: github.String("mallory")}
		}), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"drift branch someone else pushed to is an ordinary PR", prEvent("closed", func(p *github.PullRequest) {
			drift("")(p)
			p.Head.SHA = github.String("f00")
		}), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered, j.HeadSHA = JobPRClosed, false, "f00" }), ""},
		{"drift branch with an unsealed body", prEvent("closed", drift("<!-- gantry:drift e30 AAAAAAAAAAAAAAAAAAAAAA -->\n")), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"drift marker sealed for another PR", prEvent("closed", drift(sealedFor(8))), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"drift marker after other text", prEvent("closed", drift("quoted\n"+sealedFor(7))), nil, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"no key, no drift PR", prEvent("closed", drift("")), &RouteConfig{BotLogin: "gantry[bot]", DriftBranchPrefix: "gantry/drift/"}, with(plan, func(j *Job) { j.Kind, j.PRFiltered = JobPRClosed, false }), ""},
		{"comment command", commentEvent("alice", "User", "/gantry plan web", true), nil,
			&Job{Kind: JobCommand, InstallationID: 42, Owner: "acme", Repo: "ops", PR: 7, Sender: "alice", CommentID: 99,
				Comment: &Parsed{Commands: []Command{{Verb: VerbPlan, Apps: []string{"web"}, Line: 1}}}}, ""},
		{"comment without command", commentEvent("alice", "User", "nice", true), nil, nil, "has no /gantry command"},
		{"own comment", commentEvent("gantry[bot]", "Bot", "/gantry help", true), nil, nil, "comment by the bot"},
		{"other bot", commentEvent("renovate[bot]", "Bot", "/gantry apply", true), nil, nil, "comment by the bot"},
		{"comment on an issue", commentEvent("alice", "User", "/gantry apply", false), nil, nil, "not a pull request"},
		{"push to base", pushEvent("refs/heads/main", false), nil,
			&Job{Kind: JobApply, InstallationID: 42, Owner: "acme", Repo: "ops", HeadSHA: "def", BaseRef: "main", Sender: "bob"}, ""},
		{"push to feature", pushEvent("refs/heads/feature", false), nil, nil, "not the base branch main"},
		{"tag push", pushEvent("refs/tags/v1", false), nil, nil, "not a branch"},
		{"base deleted", pushEvent("refs/heads/main", true), nil, nil, "deleted"},
		{"ping", &github.PingEvent{}, nil, nil, "ping"},
		{"comment without its issue (found by FuzzWebhook)", &github.IssueCommentEvent{Action: github.String("created")}, nil, nil, "not a pull request"},
		{"re-requested check run without the run", &github.CheckRunEvent{Action: github.String("rerequested")}, nil, nil, "is not gantry's"},
		{"re-requested check suite without the suite", &github.CheckSuiteEvent{Action: github.String("rerequested")}, nil, nil, "has no pull request"},
		{"star", &github.StarEvent{}, nil, nil, "not one gantry acts on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				c = *tt.cfg
			}
			got := Route(tt.event, c)
			if diff := cmp.Diff(tt.want, got.Job); diff != "" {
				t.Errorf("job (-want +got):\n%s", diff)
			}
			if !strings.Contains(got.Ignore, tt.wantIgnore) || (tt.wantIgnore == "") != (got.Ignore == "") {
				t.Errorf("ignore %q, want it to contain %q", got.Ignore, tt.wantIgnore)
			}
		})
	}
}

func TestJobLanes(t *testing.T) {
	pr := Job{Owner: "acme", Repo: "ops", PR: 7, BaseRef: "main"}
	push := Job{Owner: "acme", Repo: "ops", BaseRef: "main"}
	inst := Job{InstallationID: 42}
	for _, tt := range []struct {
		job  Job
		want string
	}{
		{pr, "acme/ops#7"}, {push, "acme/ops@main"}, {inst, "installation/42"},
	} {
		if got := tt.job.Lane(); got != tt.want {
			t.Errorf("Lane() = %q, want %q", got, tt.want)
		}
	}
}

// webhookExamples reads GitHub's own example deliveries
// (@octokit/webhooks-examples) from the spec cache `make github-spec` fills.
func webhookExamples(t *testing.T) map[string][]json.RawMessage {
	t.Helper()
	dir := githubsim.SpecDir()
	data, err := os.ReadFile(filepath.Join(dir, "node_modules", "@octokit", "webhooks-examples", "api.github.com", "index.json"))
	if err != nil {
		t.Fatalf("read webhook examples (run `make github-spec`): %v", err)
	}
	var index []struct {
		Name     string            `json:"name"`
		Examples []json.RawMessage `json:"examples"`
	}
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	out := map[string][]json.RawMessage{}
	for _, e := range index {
		out[e.Name] = e.Examples
	}
	return out
}

// TestRouteGitHubExamples routes every example delivery GitHub publishes:
// none panics, and the ones gantry acts on become the expected jobs with
// the fields the pipeline needs.
func TestRouteGitHubExamples(t *testing.T) {
	examples := webhookExamples(t)
	routed := map[JobKind]int{}
	total := 0
	for event, list := range examples {
		for i, raw := range list {
			parsed, err := github.ParseWebHook(event, raw)
			if err != nil {
				continue // events go-github v60 does not model are ignored before routing
			}
			total++
			d := Route(parsed, RouteConfig{BotLogin: "gantry[bot]", DriftBranchPrefix: "gantry/drift/"})
			if (d.Job == nil) == (d.Ignore == "") {
				t.Errorf("%s example %d: want exactly one of a job or an ignore reason, got %+v", event, i, d)
				continue
			}
			if d.Job == nil {
				continue
			}
			routed[d.Job.Kind]++
			j := d.Job
			if j.Kind != JobInstallation && (j.Owner == "" || j.Repo == "") {
				t.Errorf("%s example %d: job without repository: %+v", event, i, j)
			}
			if (j.Kind == JobPlan || j.Kind == JobApply) && j.HeadSHA == "" {
				t.Errorf("%s example %d: %s job without a head SHA", event, i, j.Kind)
			}
			if j.Kind == JobPlan && j.PR == 0 {
				t.Errorf("%s example %d: plan without a pull request number", event, i)
			}
		}
	}
	for _, k := range []JobKind{JobPlan, JobPRClosed, JobApply, JobInstallation} {
		if routed[k] == 0 {
			t.Errorf("no GitHub example delivery routed to %s (routed: %v of %d)", k, routed, total)
		}
	}
}
