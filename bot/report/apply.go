package report

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ApplyReport is what one apply run did: the commit applied, per app.
type ApplyReport struct {
	// Commit is the commit applied: a base head, or a pull request's head.
	Commit string
	// Trigger is what started it: merge, resync or command.
	Trigger string
	// PRs are the pull requests whose merge (or command) the run applies.
	PRs  []int
	Apps []ApplyApp
	// Errors are what failed the run before any app: the repository model,
	// the checkout.
	Errors []Problem
}

// ApplyApp is one app's apply.
type ApplyApp struct {
	Name, Cluster string
	// Result is succeeded, failed or unhealthy (cluster.Result).
	Result string
	// Error says why the app failed as a whole.
	Error *Problem
	// Counts by what apply did: created, configured, deleted, unchanged,
	// failed, left, skipped.
	Counts   map[string]int
	Duration time.Duration
	// Healthy, when the apply waited, is whether every object became
	// healthy; HealthWaited says it waited.
	Healthy, HealthWaited bool
	// Failed are the objects that failed, each with its source line.
	Failed []Object
	// Unhealthy are the objects not healthy at the timeout, with why.
	Unhealthy []string
	// Hooks are the hooks run, one line each.
	Hooks []string
	// NotApplied are the objects an apply that stopped early never sent
	// (cluster.ChangeNotApplied), and NotAppliedWhy why it stopped.
	NotApplied    []string
	NotAppliedWhy string
	// Revert is the pull request opened to revert the change ("" when
	// none); RevertNote says why none was opened.
	Revert, RevertNote string
	// RolledBack says the previous state was applied again.
	RolledBack string
	// Promotion says what became of the app's promote: setting: the
	// soak that began, or why none did ("" when it promotes nothing).
	Promotion string
}

// Failed reports whether the app did not end applied and healthy.
func (a ApplyApp) failed() bool { return a.Result != "succeeded" }

// ApplyCheck is the gantry/apply check run on the applied commit.
func ApplyCheck(r ApplyReport) CheckOutput {
	r = r.prepared()
	out := CheckOutput{Name: CheckApply, Conclusion: Success}
	bad := 0
	for _, a := range r.Apps {
		if a.failed() {
			bad++
		}
	}
	switch {
	case len(r.Errors) > 0:
		out.Conclusion, out.Title = Failure, "nothing applied: "+r.Errors[0].Message
	case bad > 0:
		out.Conclusion, out.Title = Failure, fmt.Sprintf("%d of %d apps failed", bad, len(r.Apps))
	case len(r.Apps) == 0:
		out.Conclusion, out.Title = Neutral, "no app to apply"
	default:
		out.Title = fmt.Sprintf("%s applied and healthy", plural(len(r.Apps), "app"))
	}
	if len(out.Title) > 200 {
		out.Title = out.Title[:200]
	}
	out.Summary = applyBody(r, false)
	for _, e := range r.Errors {
		if e.File != "" {
			out.Annotations = append(out.Annotations, Annotation{Path: e.File, Line: max(e.Line, 1), Level: "failure", Title: "gantry apply", Message: e.Message})
		}
	}
	for _, a := range r.Apps {
		if a.Error != nil && a.Error.File != "" {
			out.Annotations = append(out.Annotations, Annotation{Path: a.Error.File, Line: max(a.Error.Line, 1), Level: "failure", Title: "app " + a.Name, Message: a.Error.Message})
		}
		for _, o := range a.Failed {
			if o.Error != nil && o.Error.File != "" {
				out.Annotations = append(out.Annotations, Annotation{Path: o.Error.File, Line: max(o.Error.Line, 1), Level: "failure",
					Title: fmt.Sprintf("%s %s failed to apply", a.Name, o.Ref()), Message: o.Error.Message})
			}
		}
	}
	if len(out.Summary) > MaxCheckText {
		out.Summary = out.Summary[:MaxCheckText-20] + "\n\n(truncated)"
	}
	return out
}

// ApplyComment is the comment on a merged (or commanded) pull request
// saying what its apply did.
func ApplyComment(r ApplyReport) string {
	r = r.prepared()
	var b strings.Builder
	icon, verdict := "✅", "applied"
	for _, a := range r.Apps {
		if a.failed() {
			icon, verdict = "❌", "apply failed"
		}
	}
	if len(r.Errors) > 0 {
		icon, verdict = "❌", "nothing applied"
	}
	fmt.Fprintf(&b, "### %s gantry: %s at `%s`\n\n", icon, verdict, shortSHA(r.Commit))
	b.WriteString(applyBody(r, true))
	return b.String()
}

// applyBody is the per-app table and the details of what went wrong.
func applyBody(r ApplyReport, comment bool) string {
	var b strings.Builder
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "- ❌ %s\n", e.where())
	}
	if len(r.Errors) > 0 {
		b.WriteString("\n")
	}
	if len(r.Apps) > 0 {
		b.WriteString("| app | cluster | result | created | configured | pruned | unchanged | took | health |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---|\n")
		for _, a := range r.Apps {
			fmt.Fprintf(&b, "| `%s` | `%s` | %s | %d | %d | %d | %d | %.1f s | %s |\n", a.Name, a.Cluster, resultText(a),
				a.Counts["created"], a.Counts["configured"], a.Counts["deleted"], a.Counts["unchanged"], a.Duration.Seconds(), healthText(a))
		}
		b.WriteString("\n")
	}
	for _, a := range r.Apps {
		var lines []string
		if a.Error != nil {
			lines = append(lines, "- ❌ "+a.Error.where())
		}
		for _, o := range a.Failed {
			lines = append(lines, "- ❌ "+o.Error.where())
		}
		for _, u := range a.Unhealthy {
			lines = append(lines, "- ⏳ "+u)
		}
		if n := a.Counts["left"]; n > 0 {
			lines = append(lines, fmt.Sprintf("- %s no longer rendered and left in the cluster (the app does not prune)", plural(n, "object")))
		}
		if n := len(a.NotApplied); n > 0 {
			lines = append(lines, fmt.Sprintf("- ⏭️ %s not applied (%s): %s", plural(n, "object"), a.NotAppliedWhy, namedFirst(a.NotApplied, 10)))
		}
		if n := a.Counts["skipped"]; n > 0 {
			lines = append(lines, fmt.Sprintf("- %s kept by prune (opted out, or owned elsewhere)", plural(n, "object")))
		}
		for _, h := range a.Hooks {
			lines = append(lines, "- hook: "+h)
		}
		if a.RolledBack != "" {
			lines = append(lines, "- ↩️ "+a.RolledBack)
		}
		if a.Promotion != "" {
			lines = append(lines, "- "+a.Promotion)
		}
		switch {
		case a.Revert != "":
			lines = append(lines, "- ↩️ revert pull request: "+a.Revert+" (merging it restores the state before this change; it is never merged by gantry)")
		case a.RevertNote != "":
			lines = append(lines, "- "+a.RevertNote)
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(&b, "**%s**\n\n%s\n\n", "`"+a.Name+"`", strings.Join(lines, "\n"))
	}
	if comment && len(r.PRs) > 1 {
		prs := make([]string, len(r.PRs))
		for i, n := range r.PRs {
			prs[i] = fmt.Sprintf("#%d", n)
		}
		fmt.Fprintf(&b, "This apply covers %s, merged before it ran.\n", strings.Join(prs, ", "))
	}
	return b.String()
}

// namedFirst lists the first n names and counts the rest.
func namedFirst(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func resultText(a ApplyApp) string {
	switch a.Result {
	case "succeeded":
		return "✅ applied"
	case "unhealthy":
		return "⏳ unhealthy"
	}
	if n := a.Counts["failed"]; n > 0 {
		return fmt.Sprintf("❌ %s failed", plural(n, "object"))
	}
	return "❌ failed"
}

func healthText(a ApplyApp) string {
	switch {
	case !a.HealthWaited:
		return "not waited"
	case a.Healthy:
		return "healthy"
	}
	return fmt.Sprintf("%d not healthy", len(a.Unhealthy))
}

// where is the problem with its location, as one line.
func (p Problem) where() string {
	if p.File == "" {
		return p.Message
	}
	if p.Line > 0 {
		return fmt.Sprintf("`%s:%d`: %s", p.File, p.Line, p.Message)
	}
	return fmt.Sprintf("`%s`: %s", p.File, p.Message)
}

// prepared is r sorted by app, with text from a repository or a cluster
// made safe for markdown.
func (r ApplyReport) prepared() ApplyReport {
	r.Errors = defangProblems(r.Errors)
	apps := append([]ApplyApp(nil), r.Apps...)
	sort.SliceStable(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	for i := range apps {
		a := &apps[i]
		a.Name, a.Cluster = Defang(a.Name), Defang(a.Cluster)
		if a.Error != nil {
			e := defangProblem(*a.Error)
			a.Error = &e
		}
		failed := make([]Object, len(a.Failed))
		for k, o := range a.Failed {
			o.Kind, o.Namespace, o.Name = Defang(o.Kind), Defang(o.Namespace), Defang(o.Name)
			if o.Error != nil {
				e := defangProblem(*o.Error)
				o.Error = &e
			} else {
				o.Error = &Problem{Message: o.Ref() + " failed"}
			}
			failed[k] = o
		}
		a.Failed = failed
		a.Unhealthy = defangAll(a.Unhealthy)
		a.Hooks = defangAll(a.Hooks)
		a.NotApplied, a.NotAppliedWhy = defangAll(a.NotApplied), Defang(a.NotAppliedWhy)
		a.Promotion = Defang(a.Promotion)
	}
	r.Apps = apps
	return r
}
