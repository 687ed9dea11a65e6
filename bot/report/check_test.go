package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiffCheck(t *testing.T) {
	ok := DiffCheck(sampleReport())
	if ok.Conclusion != Success || ok.Title != "2 apps change: 1 create, 2 update, 1 delete" {
		t.Errorf("conclusion %s title %q", ok.Conclusion, ok.Title)
	}
	if !strings.Contains(ok.Summary, "| web-prod | prod | 0 | 2 | 1 | 1 |") {
		t.Errorf("summary lacks the table:\n%s", ok.Summary)
	}
	broken := Report{Apps: []App{{Name: "web", Cluster: "prod", Error: &Problem{Message: "yaml: line 3: bad", File: "apps/web/d.yaml", Line: 3}}}}
	got := DiffCheck(broken)
	want := []Annotation{{Path: "apps/web/d.yaml", Line: 3, Level: "failure", Title: "web: render or diff failed", Message: "yaml: line 3: bad"}}
	if got.Conclusion != Failure || !strings.HasPrefix(got.Title, "diff failed") {
		t.Errorf("render error: conclusion %s title %q, want a failure", got.Conclusion, got.Title)
	}
	if diff := cmp.Diff(want, got.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if c := DiffCheck(Report{Apps: []App{{Name: "a", Objects: []Object{{Kind: "X", Name: "y", Action: Unchanged}}}}}); c.Title != "no changes" || c.Conclusion != Success {
		t.Errorf("no-change report: %q %s", c.Title, c.Conclusion)
	}
}

func TestPolicyCheck(t *testing.T) {
	r := sampleReport()
	got := PolicyCheck(r)
	if got.Conclusion != Failure || got.Title != "1 deny, 1 warning" {
		t.Errorf("conclusion %s title %q", got.Conclusion, got.Title)
	}
	levels := map[string]string{}
	for _, a := range got.Annotations {
		levels[fmt.Sprintf("%s:%d", a.Path, a.Line)] = a.Level
	}
	if diff := cmp.Diff(map[string]string{"apps/web/prod/deploy.yaml:12": "failure", "apps/api/cm.yaml:1": "warning"}, levels); diff != "" {
		t.Errorf("annotation levels (-want +got):\n%s", diff)
	}
	// An override that covers no deny changes nothing but says so.
	r.Override = &Override{By: "alice", Reason: "hotfix for INC-412", Apps: []string{"api"}}
	if none := PolicyCheck(r); none.Conclusion != Failure || !strings.Contains(none.Title, "1 not covered by @alice's override") {
		t.Errorf("override covering nothing: %s %q", none.Conclusion, none.Title)
	}
	// Covering every deny turns the check green; the deny is no longer a
	// failure annotation.
	for i := range r.Apps {
		for j := range r.Apps[i].Findings {
			r.Apps[i].Findings[j].Overridden = r.Apps[i].Findings[j].Severity == "deny"
		}
	}
	over := PolicyCheck(r)
	if over.Conclusion != Success || !strings.Contains(over.Title, "overridden by @alice: hotfix for INC-412") {
		t.Errorf("override: %s %q", over.Conclusion, over.Title)
	}
	for _, a := range over.Annotations {
		if a.Level == "failure" {
			t.Errorf("an overridden deny is still a failure annotation: %+v", a)
		}
	}
	perr := PolicyCheck(Report{PolicyErrors: []Problem{{Message: "rego_parse_error: unexpected }", File: "policy/x.rego", Line: 4}}})
	if perr.Conclusion != Failure || perr.Title != "policies could not be evaluated: 1 error" || len(perr.Annotations) != 1 || perr.Annotations[0].Path != "policy/x.rego" {
		t.Errorf("policy error: %+v", perr)
	}
	ex := PolicyCheck(Report{Apps: []App{{Name: "a", Findings: []Finding{{Severity: "excepted", Message: "[probes] waived: batch worker", File: "apps/a/deploy.yaml", Line: 3}}}}})
	if ex.Conclusion != Success || ex.Title != "no policy findings · 1 excepted" || len(ex.Annotations) != 1 || ex.Annotations[0].Level != "notice" {
		t.Errorf("excepted: %s %q %+v", ex.Conclusion, ex.Title, ex.Annotations)
	}
	note := Report{PolicyNotes: []Problem{{Message: "policy/images.rego:1: package k8s.images is never evaluated", File: "policy/images.rego", Line: 1}}}
	if n := PolicyCheck(note); n.Conclusion != Success || len(n.Annotations) != 1 || n.Annotations[0].Level != "warning" || !strings.Contains(n.Summary, "**Policy note:** policy/images.rego:1: package k8s.images") {
		t.Errorf("policy note: %+v", n)
	}
	if c := Comment(note, func(int) string { return "" }); !strings.Contains(c[0], "**Policy note:** policy/images.rego:1") {
		t.Errorf("the comment lacks the policy note:\n%s", c[0])
	}
	if w := PolicyCheck(Report{Apps: []App{{Name: "a", Findings: []Finding{{Severity: "warn", Message: "m"}}}}}); w.Conclusion != Success || w.Title != "1 warning" {
		t.Errorf("warnings only: %s %q", w.Conclusion, w.Title)
	}
}

func TestBatchesAndClip(t *testing.T) {
	as := make([]Annotation, 120)
	var sizes []int
	for _, b := range Batches(as) {
		sizes = append(sizes, len(b))
	}
	if diff := cmp.Diff([]int{50, 50, 20}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
	if Batches(nil) != nil {
		t.Error("no annotations make no batch")
	}
	long := strings.Repeat("line of text\n", 10000)
	if c := clip(long); len(c) > MaxCheckText || !strings.HasSuffix(c, "run page)_") {
		t.Errorf("clip: %d bytes, suffix %q", len(c), c[len(c)-20:])
	}
}
