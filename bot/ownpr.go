package bot

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
)

// ownPR is a pull request gantry opens from a branch of its own (a revert
// or a drift): recognised later only by the marker sealed for its number.
type ownPR struct {
	// what names it in errors: "revert", "drift".
	what                      string
	branch, base, title, body string
	kind                      string // marker kind
	payload                   any
	label                     string
}

// publishOwnPR opens the pull request (when open is nil) or updates open:
// it is opened with a placeholder, then given its body behind the marker
// sealed for its number (known only once it exists), and labelled last,
// so a labelled pull request is a complete one and nothing reads an
// unsealed body as gantry's.
func (p *Pipeline) publishOwnPR(ctx context.Context, gh *github.Client, j Job, open *github.PullRequest, o ownPR) (*github.PullRequest, error) {
	if open == nil {
		// A replica killed between opening and sealing left a pull
		// request of the bot's own on the branch: it is completed, not
		// opened again (GitHub refuses a second one from the branch).
		left, err := p.placeholderPR(ctx, gh, j, o.branch)
		if err != nil {
			return nil, err
		}
		open = left
	}
	if open == nil {
		pr, _, err := gh.PullRequests.Create(ctx, j.Owner, j.Repo, &github.NewPullRequest{Title: github.String(o.title),
			Head: github.String(o.branch), Base: github.String(o.base), Body: github.String(placeholderBody)})
		if err != nil {
			return nil, fmt.Errorf("open the %s pull request from %s: %w", o.what, o.branch, err)
		}
		open = pr
	}
	sealed := p.Seal.MustSeal(o.kind, marker.Scope(j.Owner, j.Repo, open.GetNumber()), o.payload) + "\n" + o.body
	if _, _, err := gh.PullRequests.Edit(ctx, j.Owner, j.Repo, open.GetNumber(), &github.PullRequest{Title: github.String(o.title), Body: github.String(sealed)}); err != nil {
		return nil, fmt.Errorf("write the body of %s pull request #%d: %w", o.what, open.GetNumber(), err)
	}
	p.label(ctx, gh, j, open.GetNumber(), o.label)
	return open, nil
}

// placeholderBody is the body of gantry's own pull request until its
// sealed body is written.
const placeholderBody = "gantry is writing this pull request's description."

// placeholderPR is the open pull request from branch that the bot opened
// and never finished (its body still the placeholder), or nil.
func (p *Pipeline) placeholderPR(ctx context.Context, gh *github.Client, j Job, branch string) (*github.PullRequest, error) {
	prs, _, err := gh.PullRequests.List(ctx, j.Owner, j.Repo, &github.PullRequestListOptions{State: "open", Head: j.Owner + ":" + branch})
	if err != nil {
		return nil, fmt.Errorf("list the pull requests of %s: %w", branch, err)
	}
	bot, err := p.GitHub.BotLogin(ctx)
	if err != nil {
		return nil, err
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch && pr.GetUser().GetLogin() == bot && pr.GetBody() == placeholderBody {
			return pr, nil
		}
	}
	return nil, nil
}
