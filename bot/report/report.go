// Package report turns the outcome of a pull request's run into what
// people read: the PR comment (split past GitHub's size limit without
// breaking code fences or <details>) and the check runs' output. It is
// pure: a Report in, markdown out. The markdown lives in embedded
// templates.
package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gantryops/gantry/change"
	"github.com/gantryops/gantry/nondet"
)

// Action is what applying does to one object.
type Action = change.Action

// The actions, in the order the summary counts them.
const (
	Create    = change.Create
	Update    = change.Update
	Delete    = change.Delete
	Unchanged = change.Unchanged
	// Conflict is an object whose live object another app or repository
	// owns; it always carries an Error.
	Conflict = change.Conflict
)

// Report is everything one run found for one head commit.
type Report struct {
	HeadSHA string
	Apps    []App
	// Errors that concern the whole run (checkout, .gantry.yaml).
	Errors []Problem
	// PolicyErrors are policies that did not compile or evaluate; each
	// fails the policy check.
	PolicyErrors []Problem
	// PolicyNotes are warnings about the repository's policies that do
	// not fail the check: a package its namespaces never evaluate.
	PolicyNotes []Problem
	// Override is set when policy denies were approved by a command.
	Override *Override
	// RenderTime and DiffTime are wall-clock times of the stages.
	RenderTime, DiffTime time.Duration
	// Removed are the apps the base branch has and the head does not.
	Removed []Removed
}

// Removed is an app the pull request takes out of .gantry.yaml, with what
// it still owns in its cluster: merging leaves those objects in place.
type Removed struct {
	Name, Cluster string
	// Objects is the number of objects its inventory records.
	Objects int
	// Error says why they could not be counted.
	Error string
}

// App is one affected app's outcome.
type App struct {
	Name, Cluster string
	Objects       []Object
	Findings      []Finding
	// Error is set when the app could not be rendered or diffed at all.
	Error *Problem
	// LockedBy is the pull request holding the app's lock, 0 when free;
	// LockedByThis says it is this pull request.
	LockedBy     int
	LockedByThis bool
	// Hooks are the Helm and Argo CD hooks applying runs, in the order it
	// runs them; each is recreated, never patched.
	Hooks []Hook
	// Offline is set when the app was validated against shipped schemas
	// instead of diffed; its Objects are then the ones the schemas reject.
	Offline *Offline
}

// Hook is one hook run of an apply.
type Hook struct {
	// Phase is Helm's or Argo CD's name of when it runs: pre-upgrade,
	// PostSync, SyncFail (only when the apply fails), ….
	Phase                 string
	Kind, Namespace, Name string
	// Weight orders the hooks of one phase, lower first.
	Weight int
}

// Ref is the hook's object as "Kind namespace/name".
func (h Hook) Ref() string {
	return Object{Kind: h.Kind, Namespace: h.Namespace, Name: h.Name}.Ref()
}

// Object is one object's planned change.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	Action                            Action
	// Diff is the unified YAML diff, Secret values already masked.
	Diff string
	// Fields are the top-level paths that change ("spec.replicas"), for
	// the one-line summary.
	Fields []string
	// SecretKeys are the keys of a Secret whose values change.
	SecretKeys []string
	// Error is set when the API server rejected the object's dry-run.
	Error *Problem
	// Unstable are the fields its Helm chart renders differently every
	// time, with what gantry did with each (names only).
	Unstable []nondet.Field
}

// Ref is "Kind namespace/name" or "Kind name".
func (o Object) Ref() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// Finding is one policy result.
type Finding struct {
	App, Kind, Namespace, Name string
	File                       string
	Line                       int
	// Set is the policy set the rule belongs to.
	Set          string
	Policy, Rule string
	Severity     string // deny, warn, or excepted (a deny waived on the object with a reason)
	Message      string
	// Overridden is set on a deny that a recorded override covers.
	Overridden bool
}

// Ref is the finding's object as "Kind namespace/name".
func (f Finding) Ref() string {
	return Object{Kind: f.Kind, Namespace: f.Namespace, Name: f.Name}.Ref()
}

// Problem is an error with the place it concerns, for annotations.
type Problem struct {
	Message string
	File    string
	Line    int
}

// Override records who approved policy denies, why, and on what: only the
// denies it covers (Overridden findings) stop failing the policy check.
type Override struct {
	By, Reason string
	// Apps and Sets are what the override covers, as the approver's
	// permissions and policy-set ownership allowed.
	Apps, Sets []string
}

// Counts are an app's objects per action.
type Counts struct{ Create, Update, Delete, Unchanged int }

// Counts tallies the app's objects; an object the API server rejected
// counts only as an error.
func (a App) Counts() Counts {
	var c Counts
	for _, o := range a.Objects {
		if o.Error != nil {
			continue
		}
		switch o.Action {
		case Create:
			c.Create++
		case Update:
			c.Update++
		case Delete:
			c.Delete++
		case Unchanged:
			c.Unchanged++
		}
	}
	return c
}

// Denies and Warnings count the app's findings by severity.
func (a App) Denies() int { return countSeverity(a.Findings, "deny") }

// Uncovered counts the app's denies that no override covers.
func (a App) Uncovered() (n int) {
	for _, f := range a.Findings {
		if f.Severity == "deny" && !f.Overridden {
			n++
		}
	}
	return n
}
func (a App) Warnings() int { return countSeverity(a.Findings, "warn") }

func countSeverity(fs []Finding, sev string) int {
	n := 0
	for _, f := range fs {
		if f.Severity == sev {
			n++
		}
	}
	return n
}

// Changes reports whether the app changes anything.
func (a App) Changes() bool {
	c := a.Counts()
	return c.Create+c.Update+c.Delete > 0
}

// Totals sums the counts over every app.
func (r Report) Totals() Counts {
	var t Counts
	for _, a := range r.Apps {
		c := a.Counts()
		t.Create += c.Create
		t.Update += c.Update
		t.Delete += c.Delete
		t.Unchanged += c.Unchanged
	}
	return t
}

// Denies counts deny findings over every app.
func (r Report) Denies() (n int) {
	for _, a := range r.Apps {
		n += a.Denies()
	}
	return n
}

// Uncovered counts deny findings over every app that no override covers.
func (r Report) Uncovered() (n int) {
	for _, a := range r.Apps {
		n += a.Uncovered()
	}
	return n
}

// Warnings counts warn findings over every app.
func (r Report) Warnings() (n int) {
	for _, a := range r.Apps {
		n += a.Warnings()
	}
	return n
}

// Failed reports whether the diff could not be computed somewhere.
func (r Report) Failed() bool {
	if len(r.Errors) > 0 {
		return true
	}
	for _, a := range r.Apps {
		if a.Error != nil {
			return true
		}
		for _, o := range a.Objects {
			if o.Error != nil {
				return true
			}
		}
	}
	return false
}

// Sorted returns the report with apps by name and each app's objects in
// reading order: deletions first (the riskiest), then updates, creates and
// unchanged; then by kind, namespace and name. Output never depends on
// the order work finished in.
func (r Report) Sorted() Report {
	rank := map[Action]int{Delete: 0, Update: 1, Create: 2, Unchanged: 3}
	apps := append([]App(nil), r.Apps...)
	sort.SliceStable(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	for i := range apps {
		objs := append([]Object(nil), apps[i].Objects...)
		sort.SliceStable(objs, func(x, y int) bool {
			a, b := objs[x], objs[y]
			if rank[a.Action] != rank[b.Action] {
				return rank[a.Action] < rank[b.Action]
			}
			return a.Kind+"/"+a.Namespace+"/"+a.Name < b.Kind+"/"+b.Namespace+"/"+b.Name
		})
		apps[i].Objects = objs
		fs := append([]Finding(nil), apps[i].Findings...)
		sort.SliceStable(fs, func(x, y int) bool {
			if fs[x].Severity != fs[y].Severity {
				return fs[x].Severity == "deny"
			}
			return fs[x].File < fs[y].File || (fs[x].File == fs[y].File && fs[x].Line < fs[y].Line)
		})
		apps[i].Findings = fs
	}
	r.Apps = apps
	return r
}

// prepared is r sorted for display, with every text that comes from a
// pull request or a cluster made safe for markdown outside code blocks.
func (r Report) prepared() Report {
	r = r.Sorted()
	r.Errors = defangProblems(r.Errors)
	r.PolicyErrors = defangProblems(r.PolicyErrors)
	r.PolicyNotes = defangProblems(r.PolicyNotes)
	removed := make([]Removed, len(r.Removed))
	for i, rm := range r.Removed {
		removed[i] = Removed{Name: Defang(rm.Name), Cluster: Defang(rm.Cluster), Objects: rm.Objects, Error: Defang(rm.Error)}
	}
	r.Removed = removed
	if r.Override != nil {
		o := *r.Override
		o.By, o.Reason = Defang(o.By), Defang(o.Reason)
		r.Override = &o
	}
	for i := range r.Apps {
		a := &r.Apps[i]
		a.Name, a.Cluster = Defang(a.Name), Defang(a.Cluster)
		a.Offline = defangOffline(a.Offline)
		if a.Error != nil {
			e := defangProblem(*a.Error)
			a.Error = &e
		}
		for k := range a.Objects {
			o := &a.Objects[k]
			o.APIVersion, o.Kind, o.Namespace, o.Name = Defang(o.APIVersion), Defang(o.Kind), Defang(o.Namespace), Defang(o.Name)
			o.Fields = defangAll(o.Fields)
			o.SecretKeys = defangAll(o.SecretKeys)
			o.Unstable = defangUnstable(o.Unstable)
			if o.Error != nil {
				e := defangProblem(*o.Error)
				o.Error = &e
			}
		}
		for k := range a.Findings {
			f := &a.Findings[k]
			f.Kind, f.Namespace, f.Name, f.File = Defang(f.Kind), Defang(f.Namespace), Defang(f.Name), Defang(f.File)
			f.Set, f.Policy, f.Rule, f.Message = Defang(f.Set), Defang(f.Policy), Defang(f.Rule), Defang(f.Message)
		}
	}
	return r
}

// Defang makes text from a pull request or a cluster (object names,
// messages, file names) safe to show in markdown outside a code block: one
// line, no HTML (so no comment that hides what follows, and no marker),
// no backtick to break out of a code span. Diffs are not defanged: they
// are shown in fences longer than any backtick run they hold.
func Defang(s string) string {
	if !strings.ContainsAny(s, "<>`\n\r") {
		return s
	}
	return defanger.Replace(s)
}

var defanger = strings.NewReplacer("<", "&lt;", ">", "&gt;", "`", "'", "\r\n", " ", "\n", " ", "\r", " ")

func defangAll(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Defang(s)
	}
	return out
}

func defangProblem(p Problem) Problem {
	p.Message, p.File = Defang(p.Message), Defang(p.File)
	return p
}

func defangProblems(ps []Problem) []Problem {
	if ps == nil {
		return nil
	}
	out := make([]Problem, len(ps))
	for i, p := range ps {
		out[i] = defangProblem(p)
	}
	return out
}

// plural writes "1 app" or "2 apps".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// shortSHA is the first seven characters of a commit id.
func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// overrideText says who overrode which denies and which remain. The
// reason is the approver's text, already made safe by the bot, shown in a
// code span.
func overrideText(o Override, covered, left int) string {
	s := fmt.Sprintf("✅ Policy denies overridden by @%s: `%s`", o.By, o.Reason)
	var scope []string
	if len(o.Apps) > 0 {
		scope = append(scope, "apps "+strings.Join(o.Apps, ", "))
	}
	if len(o.Sets) > 0 {
		scope = append(scope, "policy sets "+strings.Join(o.Sets, ", "))
	}
	if len(scope) > 0 {
		s += " (covers " + strings.Join(scope, "; ") + ")"
	}
	if left > 0 {
		s = fmt.Sprintf("%s. ⛔ %s not covered: %s", s, plural(left, "deny"), "their app or policy set is outside what the approver may override")
		if covered == 0 {
			s = strings.Replace(s, "✅", "⚠️", 1)
		}
	}
	return s
}

// OverrideSummary is the one-line account of r's override, "" without one.
func (r Report) OverrideSummary() string {
	if r.Override == nil {
		return ""
	}
	left := r.Uncovered()
	return overrideText(*r.Override, r.Denies()-left, left)
}
