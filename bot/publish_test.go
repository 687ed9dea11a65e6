package bot

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// botFixture is a simulator with a repository, an open PR #1 and an
// installation client for the App "gantry".
type botFixture struct {
	sim  *githubsim.Server
	gh   *github.Client
	head string
}

func newBotFixture(t *testing.T) *botFixture {
	t.Helper()
	sim := githubsim.New(githubsim.Options{T: t, AppSlug: "gantry"}).Start()
	if _, err := sim.CreateRepo("acme", "ops", githubsim.RepoOptions{Files: map[string]string{"apps/web/cm.yaml": "kind: ConfigMap\n"}}); err != nil {
		t.Fatal(err)
	}
	_, head, err := sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "change", Base: "main", Title: "change",
		Files: map[string]string{"apps/web/cm.yaml": "kind: ConfigMap\ndata: {a: b}\n"}})
	if err != nil {
		t.Fatal(err)
	}
	app, err := NewApp(sim.AppID(), sim.AppPrivateKeyPEM(), sim.URL()+"/api/v3/", nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := sim.InstallationID("acme")
	if err != nil {
		t.Fatal(err)
	}
	gh, err := app.Client(id)
	if err != nil {
		t.Fatal(err)
	}
	return &botFixture{sim: sim, gh: gh, head: head}
}

func TestPublishCommentEditsInPlaceAndRemovesSurplus(t *testing.T) {
	f := newBotFixture(t)
	ctx := context.Background()
	seal := marker.New(f.sim.AppPrivateKeyPEM())
	mark := func(n int) string {
		return seal.MustSeal(marker.KindPart, marker.Scope("acme", "ops", 1), partPayload{N: n, Head: f.head})
	}
	// A user quoting gantry's real marker does not make their comment
	// gantry's: it is not the bot's.
	if _, err := f.sim.Comment("alice", "acme", "ops", 1, mark(1)+"\nI quoted gantry's marker"); err != nil {
		t.Fatal(err)
	}
	three := []string{mark(1) + "\nsummary v1", mark(2) + "\npart 2", mark(3) + "\npart 3"}
	if err := PublishComment(ctx, f.gh.Issues, seal, "acme", "ops", 1, "gantry[bot]", three); err != nil {
		t.Fatal(err)
	}
	first := f.sim.Comments("acme", "ops", 1)
	if err := PublishComment(ctx, f.gh.Issues, seal, "acme", "ops", 1, "gantry[bot]", []string{mark(1) + "\nsummary v2"}); err != nil {
		t.Fatal(err)
	}
	got := f.sim.Comments("acme", "ops", 1)
	var bodies []string
	for _, c := range got {
		bodies = append(bodies, c.User+": "+c.Body)
	}
	want := []string{"alice: " + mark(1) + "\nI quoted gantry's marker", "gantry[bot]: " + mark(1) + "\nsummary v2"}
	if diff := cmp.Diff(want, bodies); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if got[1].ID != first[1].ID {
		t.Errorf("summary was recreated (id %d -> %d), want it edited in place", first[1].ID, got[1].ID)
	}
	// Publishing the same body again sends no edit.
	before := f.sim.Comments("acme", "ops", 1)[1].Updated
	if err := PublishComment(ctx, f.gh.Issues, seal, "acme", "ops", 1, "gantry[bot]", []string{mark(1) + "\nsummary v2"}); err != nil {
		t.Fatal(err)
	}
	if after := f.sim.Comments("acme", "ops", 1)[1].Updated; !after.Equal(before) {
		t.Error("unchanged summary was edited")
	}
}

// TestPublishCommentIgnoresUnsealedParts: a bot comment that only looks
// like a part (the old unsigned shape, a marker sealed for another pull
// request, or one echoed after other text) is never taken for one, so it
// is neither edited nor deleted.
func TestPublishCommentIgnoresUnsealedParts(t *testing.T) {
	f := newBotFixture(t)
	ctx := context.Background()
	seal := marker.New(f.sim.AppPrivateKeyPEM())
	other := seal.MustSeal(marker.KindPart, marker.Scope("acme", "ops", 2), partPayload{N: 1})
	forged := marker.New([]byte("not the server's key")).MustSeal(marker.KindPart, marker.Scope("acme", "ops", 1), partPayload{N: 1})
	lookalikes := []string{"<!-- gantry:pr-summary -->\nold shape", other + "\nanother PR's", forged + "\nforged", "@alice said:\n" + seal.MustSeal(marker.KindPart, marker.Scope("acme", "ops", 1), partPayload{N: 1})}
	for _, b := range lookalikes {
		if _, _, err := f.gh.Issues.CreateComment(ctx, "acme", "ops", 1, &github.IssueComment{Body: github.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	mark := seal.MustSeal(marker.KindPart, marker.Scope("acme", "ops", 1), partPayload{N: 1, Head: f.head})
	if err := PublishComment(ctx, f.gh.Issues, seal, "acme", "ops", 1, "gantry[bot]", []string{mark + "\nsummary"}); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, c := range f.sim.Comments("acme", "ops", 1) {
		bodies = append(bodies, c.Body)
	}
	if diff := cmp.Diff(append(lookalikes, mark+"\nsummary"), bodies); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
}

func TestChecksWithManyAnnotations(t *testing.T) {
	f := newBotFixture(t)
	ctx := context.Background()
	ids, err := StartChecks(ctx, f.gh.Checks, "acme", "ops", f.head, nil, report.CheckDiff, report.CheckPolicy)
	if err != nil {
		t.Fatal(err)
	}
	runs := f.sim.CheckRuns("acme", "ops", f.head)
	if len(runs) != 2 || runs[0].Status != "in_progress" || runs[1].Status != "in_progress" {
		t.Fatalf("check runs after start: %+v", runs)
	}
	var findings []report.Finding
	for i := range 120 {
		findings = append(findings, report.Finding{Kind: "ConfigMap", Namespace: "web", Name: fmt.Sprintf("cm-%d", i),
			File: "apps/web/cm.yaml", Line: i + 1, Policy: "p.rego", Rule: "deny", Severity: "deny", Message: "no"})
	}
	out := report.PolicyCheck(report.Report{Apps: []report.App{{Name: "web", Findings: findings}}})
	if err := CompleteCheck(ctx, f.gh.Checks, "acme", "ops", ids[report.CheckPolicy], out); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.sim.CheckRuns("acme", "ops", f.head) {
		if r.Name != report.CheckPolicy {
			continue
		}
		if r.Status != "completed" || r.Conclusion != "failure" || len(r.Annotations) != 120 || !strings.HasPrefix(r.Title, "120 deny") {
			t.Errorf("policy check: status %s conclusion %s title %q, %d annotations; want completed failure with 120",
				r.Status, r.Conclusion, r.Title, len(r.Annotations))
		}
	}
}
