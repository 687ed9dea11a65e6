package report

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestCommentPartsAreBounded: a diff of megabytes is posted as at most
// MaxCommentParts comments, each within GitHub's limit; the last says how
// many objects' diffs it leaves out, and every object is either shown or
// counted in that note.
func TestCommentPartsAreBounded(t *testing.T) {
	const objects = 500
	r := Report{HeadSHA: "feedface00"}
	app := App{Name: "big", Cluster: "prod"}
	for o := range objects {
		app.Objects = append(app.Objects, Object{Kind: "ConfigMap", Namespace: "ns", Name: fmt.Sprintf("cm-%03d", o), Action: Create,
			Diff: "+  v: " + strings.Repeat("x", 10_000) + "\n"}) // 500 × 10 KB: a 5 MB diff
	}
	r.Apps = append(r.Apps, app)
	parts := Comment(r, testMark)
	if len(parts) != MaxCommentParts {
		t.Fatalf("%d parts for a 5 MB diff, want %d", len(parts), MaxCommentParts)
	}
	shown := 0
	for i, p := range parts {
		checkWellFormed(t, i, p)
		shown += strings.Count(p, "· create</summary>")
	}
	m := regexp.MustCompile(`_Not shown: the diffs of (\d+) more objects \(gantry posts at most 20 comments\)\. The full diff is on gantry's run page\._`).FindStringSubmatch(parts[len(parts)-1])
	if m == nil {
		t.Fatalf("the last part does not say what it leaves out:\n…%s", parts[len(parts)-1][len(parts[len(parts)-1])-400:])
	}
	if omitted, _ := strconv.Atoi(m[1]); shown+omitted != objects || omitted == 0 {
		t.Errorf("%d objects shown and %d left out, want %d in all", shown, omitted, objects)
	}
	if !strings.Contains(parts[0], "| big | prod | 500 | 0 | 0 | 0 | ✅ |") {
		t.Error("the summary does not count every object")
	}
	if !strings.Contains(parts[0], fmt.Sprintf("_Continued in %d more comments below._", MaxCommentParts-1)) {
		t.Error("the first part does not say how many continuations follow")
	}
}
