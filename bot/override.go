package bot

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/config"
)

// partPayload is what the marker of a part of gantry's summary comment
// carries: its number and the head it reports, so an approval can be
// bound to the plan the approver could read.
type partPayload struct {
	N    int    `json:"n"`
	Head string `json:"head,omitempty"`
}

// overridePayload is what a policy override's marker records: the head it
// approves, the approver as GitHub described them at the time (their role
// and the teams the configuration cares about), and the reason. The apps
// and policy sets it covers follow from these and the server's
// configuration.
type overridePayload struct {
	Head   string   `json:"head"`
	By     string   `json:"by"`
	Role   string   `json:"role"`
	Teams  []string `json:"teams,omitempty"`
	Reason string   `json:"reason"`
}

// listComments calls fn on every comment of pull request pr, oldest first.
func listComments(ctx context.Context, api commentsAPI, owner, repo string, pr int, fn func(*github.IssueComment)) error {
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for {
		cs, resp, err := api.ListComments(ctx, owner, repo, pr, opts)
		if err != nil {
			return fmt.Errorf("list comments of #%d: %w", pr, err)
		}
		for _, c := range cs {
			fn(c)
		}
		if resp == nil || resp.NextPage == 0 {
			return nil
		}
		opts.Page = resp.NextPage
	}
}

// findOverride returns the newest policy override gantry itself recorded
// for the job's head: a comment by the bot that opens with an override
// marker sealed for this pull request. Anything else that looks like one
// is ignored; an override never carries over to a new push.
func (p *Pipeline) findOverride(ctx context.Context, api commentsAPI, j Job, bot string) (*overridePayload, error) {
	var found *overridePayload
	scope := marker.Scope(j.Owner, j.Repo, j.PR)
	err := listComments(ctx, api, j.Owner, j.Repo, j.PR, func(c *github.IssueComment) {
		var o overridePayload
		if c.GetUser().GetLogin() == bot && p.Seal.Open(marker.KindOverride, scope, c.GetBody(), &o) && o.Head == j.HeadSHA {
			found = &o
		}
	})
	return found, err
}

// applyOverride marks the denies the override covers and records it on
// the report. A deny is covered when the approver may run
// approve-policies on its app and may override its policy set.
func (p *Pipeline) applyOverride(rep *report.Report, o overridePayload) {
	who := config.Grant{Login: o.By, Role: o.Role, Teams: o.Teams}
	apps, sets := map[string]bool{}, map[string]bool{}
	for i := range rep.Apps {
		a := &rep.Apps[i]
		for k := range a.Findings {
			f := &a.Findings[k]
			if f.Severity != "deny" {
				continue
			}
			if p.Config.Allows(who, config.CommandApprovePolicies, a.Name) && mayOverrideSet(p.Config, who, f.Set) {
				f.Overridden = true
				apps[a.Name], sets[f.Set] = true, true
			}
		}
	}
	rep.Override = &report.Override{By: o.By, Reason: o.Reason, Apps: sortedKeys(apps), Sets: sortedKeys(sets)}
}

// mayOverrideSet reports whether who may override the denies of the named
// policy set: a server set with owners only by its owners; a set without
// owners (the repository's own policies among them) only when the server
// configuration allows that.
func mayOverrideSet(cfg *config.Server, who config.Grant, set string) bool {
	for _, ps := range cfg.Policies {
		if ps.Name != set || strings.HasPrefix(set, "repo:") {
			continue
		}
		if len(ps.Owners) == 0 {
			return cfg.PolicyOverrides.AllowOwnerless
		}
		return owns(ps, who)
	}
	return cfg.PolicyOverrides.AllowOwnerless
}

// owns reports whether who is one of the set's owners (a login, or
// "@org/team" they are an active member of).
func owns(ps config.PolicySet, who config.Grant) bool {
	for _, o := range ps.Owners {
		t, isTeam := strings.CutPrefix(o, "@")
		if (!isTeam && strings.EqualFold(o, who.Login)) || (isTeam && (strings.EqualFold(t, who.Login) || contains(who.Teams, t))) {
			return true
		}
	}
	return false
}

// overridableSets are the policy sets who may override, for the answer
// to an approval ("" entries never).
func overridableSets(cfg *config.Server, who config.Grant) (sets []string, ownerless bool) {
	for _, ps := range cfg.Policies {
		if len(ps.Owners) > 0 && owns(ps, who) {
			sets = append(sets, ps.Name)
		}
	}
	return sets, cfg.PolicyOverrides.AllowOwnerless
}

// approvalBinding decides which head an approval made at commentAt
// approves: the head of the plan gantry had published before the comment,
// if the pull request's head is still that one. summaryHead and
// summaryAt are the head in gantry's summary comment and when that
// comment last changed; zero when there is none.
func approvalBinding(currentHead, summaryHead string, summaryAt, commentAt time.Time) (string, string) {
	switch {
	case summaryHead == "" || summaryAt.IsZero():
		return "", "gantry has published no plan for this pull request yet: wait for it, read it, and approve again"
	case !summaryAt.Before(commentAt):
		return "", "gantry's plan changed after your comment (a new push, or the cluster moved): read the new plan and approve again"
	case summaryHead != currentHead:
		return "", fmt.Sprintf("the pull request's head moved from %s, the plan you could read, to %s: read the new plan and approve again", shortSHA(summaryHead), shortSHA(currentHead))
	}
	return currentHead, ""
}

// summaryState finds gantry's own summary comment (part 1, sealed for
// this pull request) and returns the head it reports and when it last
// changed.
func (s *Server) summaryState(ctx context.Context, api commentsAPI, j Job, bot string) (string, time.Time, error) {
	var head string
	var at time.Time
	scope := marker.Scope(j.Owner, j.Repo, j.PR)
	err := listComments(ctx, api, j.Owner, j.Repo, j.PR, func(c *github.IssueComment) {
		var pp partPayload
		if c.GetUser().GetLogin() == bot && s.pipe.Seal.Open(marker.KindPart, scope, c.GetBody(), &pp) && pp.N == 1 {
			head, at = pp.Head, c.GetUpdatedAt().Time
			if at.IsZero() {
				at = c.GetCreatedAt().Time
			}
		}
	})
	return head, at, err
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
