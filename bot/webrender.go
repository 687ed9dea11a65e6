package bot

import (
	"fmt"
	"strings"
	"time"

	"github.com/gantryops/gantry/bot/report"
)

// The run page is built from the report itself, not from the comment's
// markdown: html/template escapes every text that came from a pull
// request or a cluster, and the only markup on the page is the template's
// own. Rendering the markdown instead would mean letting its raw HTML
// (<details>, <sub>, the markers) through a sanitizer and trusting that
// the defanging done for GitHub also holds for a browser.

// runView is one run laid out for pages/run.html.
type runView struct {
	// Title names the pull request, "owner/repo#N".
	Title   string
	HeadSHA string
	At      time.Time
	// Headline is the one-line verdict: what changes, what fails.
	Headline string
	// Errors concern the whole run: checkout, .gantry.yaml, policies that
	// did not compile.
	Errors   []problemView
	Apps     []appRow
	Problems []problemView
	Removed  []report.Removed
	Hooks    []hookView
	Findings []findingView
	Override *overrideView
	// Objects are the objects whose diff is shown, in the report's
	// reading order (deletions first).
	Objects []objectView
	// Unchanged counts the objects left out of Objects.
	Unchanged int
	// Unfold opens every diff when there are few enough to read at once.
	Unfold               bool
	RenderTime, DiffTime time.Duration
}

// appRow is one line of the summary table.
type appRow struct {
	Name, Cluster string
	Counts        report.Counts
	// Failed says the app was not rendered or diffed: its counts are
	// unknown, not zero.
	Failed bool
	// Policy is the cell's text and PolicyClass its colour: deny, warn or
	// ok.
	Policy, PolicyClass string
	// Lock says who holds the app's lock, "" when nobody does.
	Lock string
}

// problemView is an error with what it concerns and where.
type problemView struct{ What, Message, Location string }

// hookView is one app's hooks in the order applying runs them.
type hookView struct {
	App   string
	Hooks []report.Hook
}

// findingView is one policy result.
type findingView struct {
	App, Severity, Ref, Location, Message, Policy, Rule string
	Overridden                                          bool
}

// overrideView is who approved the policy denies, and what remains.
type overrideView struct {
	By, Reason string
	Covers     []string
	Uncovered  int
}

// objectView is one object's change with its diff split into lines.
type objectView struct {
	App, Ref string
	Action   report.Action
	// Fields are the changed paths; SecretKeys the Secret keys whose
	// values change (the values themselves were masked upstream).
	Fields, SecretKeys []string
	Error              *problemView
	Lines              []diffLine
}

// lineKind is how a diff line is coloured, as its CSS class.
type lineKind string

const (
	lineAdded   lineKind = "add"
	lineRemoved lineKind = "del"
	lineHunk    lineKind = "hunk"
	lineContext lineKind = "ctx"
)

// diffLine is one line of a unified diff and its kind.
type diffLine struct {
	Kind lineKind
	Text string
}

// viewRun lays out r for its page. It is pure: the page shows exactly
// what the report holds, in the order report.Sorted gives.
func viewRun(r run) runView {
	rep := r.Report.Sorted()
	v := runView{
		Title:      fmt.Sprintf("%s/%s#%d", r.Job.Owner, r.Job.Repo, r.Job.PR),
		HeadSHA:    r.Job.HeadSHA,
		At:         r.At,
		Headline:   pageHeadline(rep),
		Removed:    rep.Removed,
		RenderTime: rep.RenderTime,
		DiffTime:   rep.DiffTime,
	}
	if v.HeadSHA == "" {
		v.HeadSHA = rep.HeadSHA
	}
	for _, p := range rep.Errors {
		v.Errors = append(v.Errors, pageProblem("", p))
	}
	for _, p := range rep.PolicyErrors {
		v.Errors = append(v.Errors, pageProblem("policy", p))
	}
	for _, a := range rep.Apps {
		v.Apps = append(v.Apps, pageRow(a))
		if a.Error != nil {
			v.Problems = append(v.Problems, pageProblem(a.Name, *a.Error))
		}
		if len(a.Hooks) > 0 {
			v.Hooks = append(v.Hooks, hookView{App: a.Name, Hooks: a.Hooks})
		}
		for _, f := range a.Findings {
			v.Findings = append(v.Findings, findingView{App: a.Name, Severity: f.Severity, Ref: f.Ref(),
				Location: report.Location(f.File, f.Line), Message: f.Message, Policy: f.Policy, Rule: f.Rule, Overridden: f.Overridden})
		}
		for _, o := range a.Objects {
			if o.Error != nil {
				v.Problems = append(v.Problems, pageProblem(a.Name+" "+o.Ref(), *o.Error))
			}
			if o.Action == report.Unchanged && o.Error == nil {
				v.Unchanged++
				continue
			}
			if o.Error != nil && o.Diff == "" {
				continue // nothing to show beyond the error, listed above
			}
			ov := objectView{App: a.Name, Ref: o.Ref(), Action: o.Action, Fields: o.Fields, SecretKeys: o.SecretKeys, Lines: diffLines(o.Diff)}
			if o.Error != nil {
				p := pageProblem("", *o.Error)
				ov.Error = &p
			}
			v.Objects = append(v.Objects, ov)
		}
	}
	v.Unfold = len(v.Objects) <= unfoldAtMost
	if o := rep.Override; o != nil {
		ov := &overrideView{By: o.By, Reason: o.Reason, Uncovered: rep.Uncovered()}
		if len(o.Apps) > 0 {
			ov.Covers = append(ov.Covers, "apps "+strings.Join(o.Apps, ", "))
		}
		if len(o.Sets) > 0 {
			ov.Covers = append(ov.Covers, "policy sets "+strings.Join(o.Sets, ", "))
		}
		v.Override = ov
	}
	return v
}

// unfoldAtMost is how many objects' diffs the page shows open; past it,
// every diff starts folded and the summary lines read as a list.
const unfoldAtMost = 10

// pageRow is a's line of the summary table.
func pageRow(a report.App) appRow {
	r := appRow{Name: a.Name, Cluster: a.Cluster, Counts: a.Counts(), Failed: a.Error != nil, PolicyClass: "ok", Policy: "pass"}
	switch d, w := a.Denies(), a.Warnings(); {
	case a.Error != nil:
		r.Policy, r.PolicyClass = "not evaluated", "warn"
	case d > 0 && w > 0:
		r.Policy, r.PolicyClass = fmt.Sprintf("%s, %s", pageCount(d, "deny", "denies"), pageCount(w, "warning", "warnings")), "deny"
	case d > 0:
		r.Policy, r.PolicyClass = pageCount(d, "deny", "denies"), "deny"
	case w > 0:
		r.Policy, r.PolicyClass = pageCount(w, "warning", "warnings"), "warn"
	}
	if d, u := a.Denies(), a.Uncovered(); d > 0 && u == 0 {
		r.PolicyClass = "ok"
		r.Policy += " (overridden)"
	}
	switch {
	case a.LockedByThis:
		r.Lock = "this pull request"
	case a.LockedBy != 0:
		r.Lock = fmt.Sprintf("#%d", a.LockedBy)
	}
	return r
}

// pageHeadline is the page's verdict: how many apps change, how many
// denies stand and how many errors stopped the diff.
func pageHeadline(r report.Report) string {
	changing, errs := 0, len(r.Errors)+len(r.PolicyErrors)
	for _, a := range r.Apps {
		if a.Changes() {
			changing++
		}
		if a.Error != nil {
			errs++
		}
		for _, o := range a.Objects {
			if o.Error != nil {
				errs++
			}
		}
	}
	var parts []string
	switch {
	case changing > 0:
		parts = append(parts, pageCount(changing, "app changes", "apps change"))
	case len(r.Apps) > 0 && errs == 0:
		parts = append(parts, "no changes")
	case len(r.Apps) == 0 && errs == 0:
		parts = append(parts, "no app is affected")
	}
	if d := r.Uncovered(); d > 0 {
		parts = append(parts, pageCount(d, "policy failure", "policy failures"))
	}
	if errs > 0 {
		parts = append(parts, pageCount(errs, "error", "errors"))
	}
	return strings.Join(parts, " · ")
}

// diffLines splits a unified diff (cluster's: hunks without file
// headers) into coloured lines, by each line's first character.
func diffLines(diff string) []diffLine {
	diff = strings.TrimRight(diff, "\n")
	if diff == "" {
		return []diffLine{{Kind: lineContext, Text: "(no textual difference)"}}
	}
	lines := strings.Split(diff, "\n")
	out := make([]diffLine, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		kind := lineContext
		switch {
		case strings.HasPrefix(l, "@@"):
			kind = lineHunk
		case strings.HasPrefix(l, "+"):
			kind = lineAdded
		case strings.HasPrefix(l, "-"):
			kind = lineRemoved
		}
		out = append(out, diffLine{Kind: kind, Text: l})
	}
	return out
}

func pageProblem(what string, p report.Problem) problemView {
	return problemView{What: what, Message: strings.TrimSpace(p.Message), Location: report.Location(p.File, p.Line)}
}

// pageCount writes "1 deny" or "2 denies".
func pageCount(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
