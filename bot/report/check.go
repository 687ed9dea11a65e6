package report

import (
	"fmt"
	"strings"
)

// The check runs gantry reports on.
const (
	CheckDiff   = "gantry/diff"
	CheckPolicy = "gantry/policy"
	CheckApply  = "gantry/apply"
)

// Check run limits GitHub enforces.
const (
	MaxCheckText          = 65535 // title, summary and text each
	MaxAnnotationsPerCall = 50
)

// Conclusion is a completed check run's verdict.
type Conclusion string

// The conclusions gantry uses.
const (
	Success Conclusion = "success"
	Failure Conclusion = "failure"
	Neutral Conclusion = "neutral"
)

// Annotation marks a line of a file in the pull request.
type Annotation struct {
	Path    string
	Line    int
	Level   string // notice, warning or failure
	Title   string
	Message string
}

// CheckOutput is what a completed check run shows.
type CheckOutput struct {
	Name        string
	Conclusion  Conclusion
	Title       string
	Summary     string
	Annotations []Annotation
}

// DiffCheck is the gantry/diff check: it fails only when the diff could
// not be computed (render error, rejected object, cluster unreachable).
func DiffCheck(r Report) CheckOutput {
	r = r.prepared()
	out := CheckOutput{Name: CheckDiff, Conclusion: Success}
	t := r.Totals()
	changing := 0
	for _, a := range r.Apps {
		if a.Changes() {
			changing++
		}
	}
	switch {
	case r.Failed():
		out.Conclusion = Failure
		out.Title = "diff failed: " + headline(r)
	case changing == 0 && r.offlineApps() == len(r.Apps) && len(r.Apps) > 0:
		out.Title = "validated offline against Kubernetes " + r.Apps[0].Offline.Version + ": no live diff"
	case changing == 0:
		out.Title = "no changes"
	default:
		verb := "change"
		if changing == 1 {
			verb = "changes"
		}
		out.Title = fmt.Sprintf("%s %s: %d create, %d update, %d delete", plural(changing, "app"), verb, t.Create, t.Update, t.Delete)
	}
	if n := r.offlineApps(); n > 0 && n < len(r.Apps) {
		out.Title += fmt.Sprintf(" · %s validated offline", plural(n, "app"))
	}
	if out.Conclusion == Success && r.unreachable() {
		// A live diff was owed and could not be made: passing, but not
		// the green of a diff.
		out.Conclusion = Neutral
	}
	var b strings.Builder
	b.WriteString("| app | cluster | create | update | delete | unchanged |\n|---|---|---:|---:|---:|---:|\n")
	for _, a := range r.Apps {
		c := a.Counts()
		if a.Error != nil || a.Offline != nil {
			fmt.Fprintf(&b, "| %s | %s | – | – | – | – |\n", a.Name, a.Cluster)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d |\n", a.Name, a.Cluster, c.Create, c.Update, c.Delete, c.Unchanged)
	}
	for _, a := range r.Apps {
		if s := unstable(a); s != "" {
			fmt.Fprintf(&b, "\n**Not deterministic:** %s\n", s)
		}
	}
	for _, p := range r.Errors {
		fmt.Fprintf(&b, "\n**Error:** %s\n", problemText(&p))
		out.Annotations = appendProblem(out.Annotations, "gantry could not compute the diff", p)
	}
	for _, a := range r.Apps {
		if a.Error != nil {
			fmt.Fprintf(&b, "\n**Error in `%s`:** %s\n", a.Name, problemText(a.Error))
			out.Annotations = appendProblem(out.Annotations, a.Name+": render or diff failed", *a.Error)
		}
		if a.Offline != nil {
			b.WriteString("\n" + offlineText(a) + "\n")
		}
		for _, o := range a.Objects {
			if o.Error != nil {
				what := " rejected"
				if a.Offline != nil {
					what = " rejected by the Kubernetes " + a.Offline.Version + " schema"
				}
				fmt.Fprintf(&b, "\n**Rejected:** `%s` %s: %s\n", a.Name, o.Ref(), problemText(o.Error))
				out.Annotations = appendProblem(out.Annotations, a.Name+": "+o.Ref()+what, *o.Error)
			}
		}
	}
	out.Summary = clip(b.String())
	return out
}

func appendProblem(as []Annotation, title string, p Problem) []Annotation {
	if p.File == "" {
		return as
	}
	return append(as, Annotation{Path: p.File, Line: max(p.Line, 1), Level: "failure", Title: title, Message: clip(p.Message)})
}

// PolicyCheck is the gantry/policy check: it fails on any deny, unless an
// override was recorded; warnings keep it green but are annotated.
func PolicyCheck(r Report) CheckOutput {
	r = r.prepared()
	out := CheckOutput{Name: CheckPolicy, Conclusion: Success}
	d, w := r.Denies(), r.Warnings()
	switch {
	case d == 0 && w == 0:
		out.Title = "no policy findings"
	case d == 0:
		out.Title = plural(w, "warning")
	default:
		out.Title = fmt.Sprintf("%d deny, %s", d, plural(w, "warning"))
		if w == 0 {
			out.Title = fmt.Sprintf("%d deny", d)
		}
		out.Conclusion = Failure
	}
	excepted := 0
	for _, a := range r.Apps {
		excepted += countSeverity(a.Findings, "excepted")
	}
	if excepted > 0 {
		out.Title += fmt.Sprintf(" · %d excepted", excepted)
	}
	var b strings.Builder
	if n := len(r.PolicyErrors); n > 0 {
		out.Conclusion = Failure
		out.Title = fmt.Sprintf("policies could not be evaluated: %s", plural(n, "error"))
		for _, p := range r.PolicyErrors {
			fmt.Fprintf(&b, "**Policy error:** %s\n\n", problemText(&p))
			out.Annotations = appendProblem(out.Annotations, "policy error", p)
		}
	}
	for _, p := range r.PolicyNotes {
		fmt.Fprintf(&b, "**Policy note:** %s\n\n", problemText(&p))
		if p.File != "" {
			out.Annotations = append(out.Annotations, Annotation{Path: p.File, Line: max(p.Line, 1), Level: "warning", Title: "policy never evaluated", Message: clip(p.Message)})
		}
	}
	if o := r.Override; o != nil && d > 0 && len(r.PolicyErrors) == 0 {
		left := r.Uncovered()
		if left == 0 {
			out.Conclusion = Success
			out.Title += fmt.Sprintf(" · overridden by @%s: %s", o.By, o.Reason)
		} else {
			out.Title += fmt.Sprintf(" · %d not covered by @%s's override", left, o.By)
		}
		fmt.Fprintf(&b, "%s\n\n", overrideText(*o, d-left, left))
	}
	b.WriteString("| app | object | severity | message | source |\n|---|---|---|---|---|\n")
	for _, a := range r.Apps {
		for _, f := range a.Findings {
			sev := f.Severity
			if f.Overridden {
				sev += " (overridden)"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", a.Name, f.Ref(), sev, strings.ReplaceAll(f.Message, "|", `\|`), Location(f.File, f.Line))
			if f.File == "" {
				continue
			}
			level := "warning"
			switch {
			case f.Severity == "deny" && !f.Overridden:
				level = "failure"
			case f.Severity == "excepted":
				// Waived on the object with a reason: shown, not a concern.
				level = "notice"
			}
			out.Annotations = append(out.Annotations, Annotation{Path: f.File, Line: max(f.Line, 1), Level: level,
				Title: fmt.Sprintf("%s %s (%s, rule %s)", f.Severity, f.Ref(), f.Policy, f.Rule), Message: clip(f.Message)})
		}
	}
	out.Summary = clip(b.String())
	return out
}

// clip keeps text within GitHub's check-run output limit.
func clip(s string) string {
	if len(s) <= MaxCheckText {
		return s
	}
	const note = "\n\n_(cut: the full text is on gantry's run page)_"
	cut := s[:MaxCheckText-len(note)]
	if i := strings.LastIndex(cut, "\n"); i > 0 {
		cut = cut[:i]
	}
	return cut + note
}

// Batches splits annotations into GitHub's 50-per-request batches.
func Batches(as []Annotation) [][]Annotation {
	var out [][]Annotation
	for len(as) > MaxAnnotationsPerCall {
		out = append(out, as[:MaxAnnotationsPerCall])
		as = as[MaxAnnotationsPerCall:]
	}
	if len(as) > 0 {
		out = append(out, as)
	}
	return out
}
