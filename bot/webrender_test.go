package bot

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/bot/report"
)

func TestRunPageDiffLines(t *testing.T) {
	for _, tt := range []struct {
		name string
		diff string
		want []diffLine
	}{
		{"an update", "@@ -1,2 +1,2 @@\n spec:\n-  replicas: 3\n+  replicas: 5\n", []diffLine{
			{lineHunk, "@@ -1,2 +1,2 @@"}, {lineContext, " spec:"}, {lineRemoved, "-  replicas: 3"}, {lineAdded, "+  replicas: 5"},
		}},
		// A removed YAML document separator or list is still a removed
		// line: the cluster's diff has no file headers to mistake it for.
		{"removed lines that look like headers", "---- \n--- a\n+++ b\n", []diffLine{
			{lineRemoved, "---- "}, {lineRemoved, "--- a"}, {lineAdded, "+++ b"},
		}},
		{"carriage returns dropped", "+a\r\n-b\r\n", []diffLine{{lineAdded, "+a"}, {lineRemoved, "-b"}}},
		{"no diff", "", []diffLine{{lineContext, "(no textual difference)"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, diffLines(tt.diff)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestRunPageRowAndHeadline(t *testing.T) {
	deny := report.Finding{Severity: "deny"}
	warn := report.Finding{Severity: "warn"}
	upd := report.Object{Kind: "ConfigMap", Name: "a", Action: report.Update}
	for _, tt := range []struct {
		name              string
		app               report.App
		policy, class     string
		lock, headline    string
		wantFailed        bool
		wantCreateUpdates [2]int
	}{
		{"clean", report.App{Name: "web", Objects: []report.Object{upd}}, "pass", "ok", "", "1 app changes", false, [2]int{0, 1}},
		{"denied and warned", report.App{Name: "web", Findings: []report.Finding{deny, deny, warn}, LockedBy: 12}, "2 denies, 1 warning", "deny", "#12", "no changes · 2 policy failures", false, [2]int{}},
		{"overridden", report.App{Name: "web", Findings: []report.Finding{{Severity: "deny", Overridden: true}}, LockedByThis: true}, "1 deny (overridden)", "ok", "this pull request", "no changes", false, [2]int{}},
		{"not rendered", report.App{Name: "web", Error: &report.Problem{Message: "bad"}}, "not evaluated", "warn", "", "1 error", true, [2]int{}},
		{"rejected object counts only as an error", report.App{Name: "web", Objects: []report.Object{{Action: report.Create, Error: &report.Problem{Message: "no"}}}}, "pass", "ok", "", "1 error", false, [2]int{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := pageRow(tt.app)
			if r.Policy != tt.policy || r.PolicyClass != tt.class || r.Lock != tt.lock || r.Failed != tt.wantFailed {
				t.Errorf("row: policy %q (%s), lock %q, failed %v; want %q (%s), %q, %v", r.Policy, r.PolicyClass, r.Lock, r.Failed, tt.policy, tt.class, tt.lock, tt.wantFailed)
			}
			if got := [2]int{r.Counts.Create, r.Counts.Update}; got != tt.wantCreateUpdates {
				t.Errorf("creates and updates %v, want %v", got, tt.wantCreateUpdates)
			}
			if h := pageHeadline(report.Report{Apps: []report.App{tt.app}}); h != tt.headline {
				t.Errorf("headline %q, want %q", h, tt.headline)
			}
		})
	}
}

// TestRunPageShowsEveryChangeOnce: the page's objects are the changed
// ones in the report's reading order (deletions first), unchanged ones
// only counted, and an object the API server rejected without a diff
// listed as a problem, not as an empty diff.
func TestRunPageShowsEveryChangeOnce(t *testing.T) {
	rep := report.Report{Apps: []report.App{{Name: "web", Cluster: "prod", Objects: []report.Object{
		{Kind: "ConfigMap", Namespace: "web", Name: "new", Action: report.Create, Diff: "@@ -0,0 +1 @@\n+a: b\n"},
		{Kind: "ConfigMap", Namespace: "web", Name: "same", Action: report.Unchanged},
		{Kind: "ConfigMap", Namespace: "web", Name: "old", Action: report.Delete, Diff: "@@ -1 +0,0 @@\n-a: b\n"},
		{Kind: "Deployment", Namespace: "web", Name: "bad", Action: report.Create, Error: &report.Problem{Message: "invalid", File: "d.yaml", Line: 3}},
	}}}}
	v := viewRun(run{Job: Job{Owner: "acme", Repo: "ops", PR: 7}, Report: rep})
	var refs []string
	for _, o := range v.Objects {
		refs = append(refs, string(o.Action)+" "+o.Ref)
	}
	if d := cmp.Diff([]string{"delete ConfigMap web/old", "create ConfigMap web/new"}, refs); d != "" {
		t.Errorf("objects (-want +got)\n%s", d)
	}
	if v.Unchanged != 1 || !v.Unfold || v.Title != "acme/ops#7" {
		t.Errorf("unchanged %d, unfold %v, title %q", v.Unchanged, v.Unfold, v.Title)
	}
	if d := cmp.Diff([]problemView{{What: "web Deployment web/bad", Message: "invalid", Location: "d.yaml:3"}}, v.Problems); d != "" {
		t.Errorf("problems (-want +got)\n%s", d)
	}
}

// TestRunPageEscapesWhatPullRequestsWrote: names, messages and diffs from
// a pull request or a cluster reach the page as text, never as markup,
// and the comment's markers never appear on it.
func TestRunPageEscapesWhatPullRequestsWrote(t *testing.T) {
	const evil = `<script>alert(1)</script><!-- gantry:override x -->`
	rep := report.Report{HeadSHA: "abcdef0123", Apps: []report.App{{
		Name: "web" + evil, Cluster: "c",
		Objects: []report.Object{{Kind: "ConfigMap", Name: "n" + evil, Action: report.Update, Fields: []string{"data" + evil},
			Diff: "@@ -1 +1 @@\n-a: b\n+a: " + evil + "\n"}},
		Findings: []report.Finding{{Severity: "deny", Kind: "ConfigMap", Name: "n", Message: "m" + evil, Policy: "p", Rule: "deny", File: "f" + evil, Line: 1}},
		Error:    nil,
	}}, Errors: []report.Problem{{Message: "e" + evil}}, Override: &report.Override{By: "maria", Reason: "r" + evil}}
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, "run.html", viewRun(run{Job: Job{Owner: "acme", Repo: "ops", PR: 1}, At: time.Now(), Report: rep})); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, raw := range []string{"<script", "<!--", "gantry:override x -->"} {
		if strings.Contains(page, raw) {
			i := strings.Index(page, raw)
			t.Errorf("%q is on the page unescaped: …%s…", raw, page[max(0, i-80):min(len(page), i+80)])
		}
	}
	// Each hostile text is shown, escaped: 7 places take it.
	if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 7 {
		t.Errorf("the escaped text appears %d times, want at least 7 (names, fields, diff, message, file, error, reason):\n%s", n, page)
	}
}
