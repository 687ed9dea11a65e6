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
		pr, _, err := gh.PullRequests.Create(ctx, j.Owner, j.Repo, &github.NewPullRequest{Title: github.String(o.title),
			Head: github.String(o.branch), Base: github.String(o.base), Body: github.String("gantry is writing this pull request's description.")})
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
