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
)

// Action is what applying does to one object.
type Action string

// The actions, in the order the summary counts them.
const (
	Create    Action = "create"
	Update    Action = "update"
	Delete    Action = "delete"
	Unchanged Action = "unchanged"
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
	// Override is set when policy denies were approved by a command.
	Override *Override
	// RenderTime and DiffTime are wall-clock times of the stages.
	RenderTime, DiffTime time.Duration
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
	Policy, Rule               string
	Severity                   string // deny or warn
	Message                    string
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

// Override records who approved policy denies and why.
type Override struct{ By, Reason string }

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
func (a App) Denies() int   { return countSeverity(a.Findings, "deny") }
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
