package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/fixtures/githubsim"
)

// The check runs gantry posts, by name.
const (
	checkDiff   = "gantry/diff"
	checkPolicy = "gantry/policy"
	checkApply  = "gantry/apply"
	botLogin    = "gantry[bot]"
)

// Step is one scene of the story: what a person does, what gantry must
// answer, printed as it happens.
type Step struct {
	// Name says what the step shows; errors and the output name it.
	Name string
	// NotBuilt, when set, says which issue will build what this step
	// shows: the step prints that plainly and counts as behaved.
	NotBuilt string

	run func(ctx context.Context, p *player) error
}

// StepError is a step that did not behave: what it expected and what it
// saw instead.
type StepError struct {
	Step     string
	Expected string
	Seen     string
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %q did not behave: expected %s; saw %s", e.Step, e.Expected, e.Seen)
}

// PlayOptions tune Play.
type PlayOptions struct {
	// StepTimeout bounds each step's waits for gantry. Default: 3m, room
	// for a cold, busy machine.
	StepTimeout time.Duration
	// Steps are played in order. Default: Story().
	Steps []Step
}

// Play plays the steps on a running sandbox, printing to out what each
// user did and what gantry posted. It stops at the first step that does
// not behave and returns a *StepError naming it. After the last step it
// also fails when the simulator saw a request or response GitHub would
// not accept.
func Play(ctx context.Context, sb *Sandbox, out io.Writer, opts PlayOptions) error {
	if opts.StepTimeout == 0 {
		opts.StepTimeout = 3 * time.Minute
	}
	if opts.Steps == nil {
		opts.Steps = Story()
	}
	p := &player{sb: sb, out: out, timeout: opts.StepTimeout, shown: map[int64]string{}, gh: map[string]*github.Client{}}
	for _, u := range sb.Info.Users {
		c, err := github.NewClient(&http.Client{Timeout: time.Minute}).WithAuthToken(u.Token).WithEnterpriseURLs(sb.Info.APIURL, sb.Info.APIURL)
		if err != nil {
			return fmt.Errorf("REST client for %s at %s: %w", u.Login, sb.Info.APIURL, err)
		}
		p.gh[u.Login] = c
	}
	for _, s := range opts.Steps {
		fmt.Fprintf(out, "\n== %s\n", s.Name)
		if s.NotBuilt != "" {
			fmt.Fprintf(out, "   not built yet in this version (%s)\n", s.NotBuilt)
			continue
		}
		p.step = s.Name
		p.deadline = time.Now().Add(opts.StepTimeout)
		if err := s.run(ctx, p); err != nil {
			var se *StepError
			if !errors.As(err, &se) {
				err = &StepError{Step: s.Name, Expected: "the step to run", Seen: err.Error()}
			}
			fmt.Fprintf(out, "   ✗ %v\n", err)
			return err
		}
		fmt.Fprintln(out, "   ✓ as expected")
	}
	if errs := sb.Sim.Errors(); len(errs) > 0 {
		msgs := make([]string, 0, len(errs))
		for _, e := range errs {
			msgs = append(msgs, e.Error())
		}
		return &StepError{Step: "GitHub API conformance", Expected: "every request and response to match GitHub's description",
			Seen: strings.Join(msgs, "; ")}
	}
	return nil
}

// player carries a play's state from step to step.
type player struct {
	sb       *Sandbox
	out      io.Writer
	timeout  time.Duration
	step     string
	deadline time.Time
	shown    map[int64]string // bot comments printed, by id, with the body printed
	gh       map[string]*github.Client

	// planPR is step 1's pull request, merged in step 3.
	planPR int
}

func (p *player) printf(format string, args ...any) { fmt.Fprintf(p.out, "   "+format+"\n", args...) }

// fail is the step's error.
func (p *player) fail(expected, seen string) error {
	return &StepError{Step: p.step, Expected: expected, Seen: seen}
}

// waitFor polls cond until it reports done, the step's deadline passes
// (a StepError with the expectation and the last thing seen), or cond
// reports a mismatch that waiting cannot fix.
func (p *player) waitFor(ctx context.Context, expected string, cond func() (done bool, seen string, wrong bool)) error {
	seen := "nothing yet"
	for {
		done, s, wrong := cond()
		if s != "" {
			seen = s
		}
		if wrong {
			return p.fail(expected, seen)
		}
		if done {
			return nil
		}
		if time.Now().After(p.deadline) {
			return p.fail(expected, seen+fmt.Sprintf(" (after %s)", p.timeout))
		}
		select {
		case <-ctx.Done():
			return p.fail(expected, seen+" when the sandbox was stopped")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// client is the REST client acting as login with its token, as a
// person's script would.
func (p *player) client(login string) *github.Client { return p.gh[login] }

// openPR opens a pull request from branch as login, with files changed,
// through the simulator (push and open), which delivers the webhooks.
func (p *player) openPR(login, branch, title string, files map[string]string) (int, string, error) {
	n, head, err := p.sb.Sim.OpenPR(login, Owner, Name, githubsim.PullOptions{Head: branch, Base: "main", Title: title, Files: files})
	if err != nil {
		return 0, "", p.fail("to open pull request "+branch, err.Error())
	}
	p.printf("%s opened #%d %q (branch %s, head %s)", login, n, title, branch, short(head))
	return n, head, nil
}

// openPRFrom waits for an open pull request whose branch starts with
// prefix (one gantry opens) and returns it.
func (p *player) openPRFrom(ctx context.Context, prefix string) (*github.PullRequest, error) {
	var found *github.PullRequest
	err := p.waitFor(ctx, "an open pull request on "+prefix, func() (bool, string, bool) {
		prs, _, err := p.client("ada").PullRequests.List(ctx, Owner, Name, &github.PullRequestListOptions{State: "open"})
		if err != nil {
			return false, "listing pull requests: " + err.Error(), false
		}
		var heads []string
		for _, pr := range prs {
			heads = append(heads, pr.GetHead().GetRef())
			// gantry labels the pull requests it opens last, once their
			// body is written.
			if strings.HasPrefix(pr.GetHead().GetRef(), prefix) && len(pr.Labels) > 0 {
				found = pr
				return true, "", false
			}
		}
		return false, "open pull requests on " + strings.Join(heads, ", "), false
	})
	return found, err
}

// showPR prints a pull request gantry opened: title, branch, labels and
// its body as text, cut after max lines. It returns the labels.
func (p *player) showPR(pr *github.PullRequest, max int) []string {
	var labels []string
	for _, l := range pr.Labels {
		labels = append(labels, l.GetName())
	}
	p.printf("gantry opened #%d %q", pr.GetNumber(), pr.GetTitle())
	p.printf("  branch %s, labels %s, by %s", pr.GetHead().GetRef(), strings.Join(labels, ", "), pr.GetUser().GetLogin())
	fmt.Fprintln(p.out, indent(Readable(pr.GetBody()), "     │ ", max))
	return labels
}

// comment posts body on pr as login through the REST API.
func (p *player) comment(ctx context.Context, login string, pr int, body string) error {
	if _, _, err := p.client(login).Issues.CreateComment(ctx, Owner, Name, pr, &github.IssueComment{Body: github.String(body)}); err != nil {
		return p.fail(fmt.Sprintf("%s's comment on #%d to post", login, pr), err.Error())
	}
	p.printf("%s commented on #%d: %s", login, pr, body)
	return nil
}

// merge merges pr as login through the REST API and returns the merge
// commit.
func (p *player) merge(ctx context.Context, login string, pr int) (string, error) {
	res, _, err := p.client(login).PullRequests.Merge(ctx, Owner, Name, pr, "", &github.PullRequestOptions{MergeMethod: "merge"})
	if err != nil {
		return "", p.fail(fmt.Sprintf("%s to merge #%d", login, pr), err.Error())
	}
	p.printf("%s merged #%d: merge commit %s", login, pr, short(res.GetSHA()))
	return res.GetSHA(), nil
}

// checks waits until every check named in want has completed on sha,
// prints them, and fails when a conclusion is not the one wanted (or a
// title lacks titleHas, when set).
func (p *player) checks(ctx context.Context, sha string, want map[string]string, titleHas map[string]string) error {
	var latest map[string]githubsim.CheckRun
	err := p.waitFor(ctx, fmt.Sprintf("checks on %s: %s", short(sha), describeWant(want, titleHas)), func() (bool, string, bool) {
		latest = latestRuns(p.sb.Sim.CheckRuns(Owner, Name, sha))
		done, wrong := judgeChecks(want, titleHas, latest)
		return done, describeRuns(latest), wrong
	})
	p.printf("checks on %s:", short(sha))
	names := make([]string, 0, len(latest))
	for n := range latest {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := latest[n]
		state := c.Conclusion
		if state == "" {
			state = c.Status
		}
		p.printf("  %-14s %-9s %s", n, state, c.Title)
	}
	return err
}

// latestRuns keeps the newest run of each check name (runs come oldest
// first).
func latestRuns(runs []githubsim.CheckRun) map[string]githubsim.CheckRun {
	out := map[string]githubsim.CheckRun{}
	for _, r := range runs {
		out[r.Name] = r
	}
	return out
}

// judgeChecks decides whether the wanted checks are there: done when
// each has completed with the wanted conclusion (and title text, when
// titleHas names one); wrong when one completed (with that title text)
// but another conclusion, which no wait will change. A run without the
// awaited title text is an earlier one: it is waited past, not judged.
func judgeChecks(want, titleHas map[string]string, runs map[string]githubsim.CheckRun) (done, wrong bool) {
	done = true
	for name, conclusion := range want {
		r, ok := runs[name]
		if !ok || r.Status != "completed" {
			done = false
			continue
		}
		if sub := titleHas[name]; sub != "" && !strings.Contains(r.Title, sub) {
			// Not the run awaited: a newer one, or this one
			// updated, may still come.
			done = false
			continue
		}
		if r.Conclusion != conclusion {
			return false, true
		}
	}
	return done, false
}

func describeWant(want, titleHas map[string]string) string {
	var parts []string
	for _, n := range sortedKeys(want) {
		s := n + " " + want[n]
		if t := titleHas[n]; t != "" {
			s += fmt.Sprintf(" titled %q", "…"+t+"…")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func describeRuns(runs map[string]githubsim.CheckRun) string {
	if len(runs) == 0 {
		return "no check runs"
	}
	var parts []string
	for _, n := range sortedKeys(runs) {
		r := runs[n]
		state := r.Status
		if r.Conclusion != "" {
			state = r.Conclusion
		}
		parts = append(parts, fmt.Sprintf("%s %s %q", n, state, r.Title))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// botSays waits until gantry has a comment on pr containing sub, then
// prints gantry's comments on pr not printed yet (or changed since).
func (p *player) botSays(ctx context.Context, pr int, sub string) error {
	err := p.waitFor(ctx, fmt.Sprintf("a gantry comment on #%d containing %q", pr, sub), func() (bool, string, bool) {
		n := 0
		for _, c := range p.sb.Sim.Comments(Owner, Name, pr) {
			if c.User == botLogin {
				n++
				if strings.Contains(c.Body, sub) {
					return true, "", false
				}
			}
		}
		return false, fmt.Sprintf("%d gantry comments without it", n), false
	})
	for _, c := range p.sb.Sim.Comments(Owner, Name, pr) {
		if c.User != botLogin || p.shown[c.ID] == c.Body {
			continue
		}
		text := Readable(c.Body)
		if before, ok := p.shown[c.ID]; ok {
			p.printf("gantry updated its comment on #%d, adding:", pr)
			text = addedLines(Readable(before), text)
		} else {
			p.printf("gantry commented on #%d:", pr)
		}
		p.shown[c.ID] = c.Body
		fmt.Fprintln(p.out, indent(text, "     │ ", 40))
	}
	return err
}

// deployment prints a Deployment's image and readiness and returns its
// image.
func (p *player) deployment(ctx context.Context, ns, name string) (string, error) {
	d, err := p.sb.Cluster.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", p.fail("Deployment "+ns+"/"+name+" in the cluster", err.Error())
	}
	image := d.Spec.Template.Spec.Containers[0].Image
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	p.printf("cluster: Deployment %s/%s runs %s, %d/%d ready", ns, name, image, d.Status.ReadyReplicas, want)
	return image, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
