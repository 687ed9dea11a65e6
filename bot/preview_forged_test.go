package bot

import (
	"strings"
	"testing"

	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/preview"
)

// TestPreviewCommentCopiedFromAnotherPullRequestIsNotAdopted: gantry's
// preview comment is found by its sealed marker, bound to its pull
// request. A writer who copies gantry's preview comment of one pull
// request, marker and all, into another gets nothing of it: gantry posts
// its own comment there and leaves the copy as it was.
func TestPreviewCommentCopiedFromAnotherPullRequestIsNotAdopted(t *testing.T) {
	l := startServer(t, previewFiles, previewServer)
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	open := func(branch, color string) (int, string) {
		pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: branch,
			Files: map[string]string{"apps/web/cm.yaml": strings.ReplaceAll(previewFiles["apps/web/cm.yaml"], "NS", l.ns) + "  extra: " + color + "\n"}})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "plan of "+branch, func() bool { return l.completed(head) })
		cleanupNamespace(t, preview.Namespace("acme/ops", pr, "web"))
		return pr, head
	}
	first, _ := open("first", "one")
	l.answer(t, "maria", first, "/gantry preview web", "")
	waitFor(t, "the first preview comment", func() bool { return strings.Contains(l.previewComment(first), "✅ healthy") })
	copied := l.previewComment(first)

	second, _ := open("second", "two")
	l.comment(t, "alice", second, copied)
	l.answer(t, "maria", second, "/gantry preview web", "")
	waitFor(t, "the second preview comment", func() bool { return strings.Contains(l.previewComment(second), "✅ healthy") })
	var mine, hers int
	for _, c := range l.sim.Comments("acme", "ops", second) {
		switch {
		case c.User == "gantry[bot]" && strings.HasPrefix(c.Body, "<!-- gantry:preview "):
			mine++
			if !strings.Contains(c.Body, preview.Namespace("acme/ops", second, "web")) {
				t.Errorf("gantry's preview comment on #%d does not name its own namespace:\n%s", second, c.Body)
			}
		case c.User == "alice":
			hers++
			if c.Body != copied {
				t.Errorf("alice's copied comment was changed:\n%s", c.Body)
			}
		}
	}
	if mine != 1 || hers != 1 {
		t.Errorf("#%d holds %d preview comments of gantry's and %d of alice's, want 1 and 1", second, mine, hers)
	}
	if errs := l.sim.Errors(); len(errs) > 0 {
		t.Errorf("simulator: %v", errs)
	}
}
