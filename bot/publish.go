package bot

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
)

// checksAPI is the part of go-github's ChecksService gantry uses.
type checksAPI interface {
	CreateCheckRun(ctx context.Context, owner, repo string, opts github.CreateCheckRunOptions) (*github.CheckRun, *github.Response, error)
	UpdateCheckRun(ctx context.Context, owner, repo string, checkRunID int64, opts github.UpdateCheckRunOptions) (*github.CheckRun, *github.Response, error)
}

// commentsAPI is the part of go-github's IssuesService gantry uses.
type commentsAPI interface {
	ListComments(ctx context.Context, owner, repo string, number int, opts *github.IssueListCommentsOptions) ([]*github.IssueComment, *github.Response, error)
	CreateComment(ctx context.Context, owner, repo string, number int, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
	EditComment(ctx context.Context, owner, repo string, commentID int64, comment *github.IssueComment) (*github.IssueComment, *github.Response, error)
	DeleteComment(ctx context.Context, owner, repo string, commentID int64) (*github.Response, error)
}

// StartChecks creates the named check runs in_progress on sha and returns
// their ids by name. A run named in resume (left in progress by a run that
// never ended) is taken over instead: marked in progress again, not
// duplicated.
func StartChecks(ctx context.Context, api checksAPI, owner, repo, sha string, resume map[string]int64, names ...string) (map[string]int64, error) {
	ids := map[string]int64{}
	out := &github.CheckRunOutput{Title: github.String("in progress"), Summary: github.String("gantry is working on " + shortSHA(sha))}
	for _, name := range names {
		if id, ok := resume[name]; ok {
			if _, _, err := api.UpdateCheckRun(ctx, owner, repo, id, github.UpdateCheckRunOptions{
				Name: name, Status: github.String("in_progress"), Output: out,
			}); err == nil {
				ids[name] = id
				continue
			}
			// Gone or not ours to update: a new run replaces it.
		}
		cr, _, err := api.CreateCheckRun(ctx, owner, repo, github.CreateCheckRunOptions{
			Name: name, HeadSHA: sha, Status: github.String("in_progress"), Output: out,
		})
		if err != nil {
			return ids, fmt.Errorf("create check run %s on %s: %w", name, shortSHA(sha), err)
		}
		ids[name] = cr.GetID()
	}
	return ids, nil
}

// CompleteCheck completes check run id with out; annotations past the
// first 50 are added by further updates, as GitHub requires.
func CompleteCheck(ctx context.Context, api checksAPI, owner, repo string, id int64, out report.CheckOutput) error {
	batches := report.Batches(out.Annotations)
	if len(batches) == 0 {
		batches = [][]report.Annotation{nil}
	}
	for i, batch := range batches {
		opts := github.UpdateCheckRunOptions{
			Name: out.Name,
			Output: &github.CheckRunOutput{
				Title: github.String(out.Title), Summary: github.String(out.Summary), Annotations: toGitHub(batch),
			},
		}
		if i == 0 {
			opts.Status, opts.Conclusion = github.String("completed"), github.String(string(out.Conclusion))
		}
		if _, _, err := api.UpdateCheckRun(ctx, owner, repo, id, opts); err != nil {
			return fmt.Errorf("complete check run %s (annotations batch %d of %d): %w", out.Name, i+1, len(batches), err)
		}
	}
	return nil
}

func toGitHub(as []report.Annotation) []*github.CheckRunAnnotation {
	var out []*github.CheckRunAnnotation
	for _, a := range as {
		out = append(out, &github.CheckRunAnnotation{
			Path: github.String(a.Path), StartLine: github.Int(a.Line), EndLine: github.Int(a.Line),
			AnnotationLevel: github.String(a.Level), Title: github.String(a.Title), Message: github.String(a.Message),
		})
	}
	return out
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// partOf says which part of gantry's summary a comment body is: n for a
// body that opens with a part marker gantry sealed for this pull request,
// 0 for anything else (whatever it looks like).
func partOf(seal *marker.Sealer, scope, body string) int {
	var p partPayload
	if !seal.Open(marker.KindPart, scope, body, &p) || p.N < 1 {
		return 0
	}
	return p.N
}

// PublishComment makes the pull request's gantry comments equal to parts:
// the summary and its continuations are found by their sealed markers
// among the bot's own comments and edited in place (only when they
// differ), missing ones are created, and continuations no longer needed
// are deleted.
func PublishComment(ctx context.Context, api commentsAPI, seal *marker.Sealer, owner, repo string, pr int, bot string, parts []string) error {
	scope := marker.Scope(owner, repo, pr)
	existing := map[int]*github.IssueComment{}
	var extra []*github.IssueComment // duplicates of a part, e.g. after a lost response
	err := listComments(ctx, api, owner, repo, pr, func(c *github.IssueComment) {
		if c.GetUser().GetLogin() != bot {
			return
		}
		if n := partOf(seal, scope, c.GetBody()); n > 0 {
			if existing[n] == nil {
				existing[n] = c
			} else {
				extra = append(extra, c)
			}
		}
	})
	if err != nil {
		return err
	}
	for i, body := range parts {
		n := i + 1
		if c := existing[n]; c != nil {
			delete(existing, n)
			if c.GetBody() == body {
				continue
			}
			if _, _, err := api.EditComment(ctx, owner, repo, c.GetID(), &github.IssueComment{Body: github.String(body)}); err != nil {
				return fmt.Errorf("edit gantry comment part %d on #%d: %w", n, pr, err)
			}
			continue
		}
		if _, _, err := api.CreateComment(ctx, owner, repo, pr, &github.IssueComment{Body: github.String(body)}); err != nil {
			return fmt.Errorf("create gantry comment part %d on #%d: %w", n, pr, err)
		}
	}
	for _, c := range existing {
		extra = append(extra, c)
	}
	for _, c := range extra {
		if _, err := api.DeleteComment(ctx, owner, repo, c.GetID()); err != nil {
			return fmt.Errorf("delete surplus gantry comment %d on #%d: %w", c.GetID(), pr, err)
		}
	}
	return nil
}
