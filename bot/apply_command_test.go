package bot

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

// answer comments body as login on pr and waits for gantry's answer to
// it, which it returns.
func (l *live) answer(t *testing.T, login string, pr int, body, want string) string {
	t.Helper()
	before := len(l.sim.Comments("acme", "ops", pr))
	if _, err := l.sim.Comment(login, "acme", "ops", pr, body); err != nil {
		t.Fatal(err)
	}
	var got string
	waitFor(t, "the answer to "+body, func() bool {
		for _, c := range l.sim.Comments("acme", "ops", pr)[before:] {
			if c.User == "gantry[bot]" && strings.Contains(c.Body, want) {
				got = c.Body
				return true
			}
		}
		return false
	})
	return got
}

func TestApplyOnCommandChecksEachRequirementThenAppliesAndMerges(t *testing.T) {
	l := startServer(t, applyFiles, "applyCommand: {merge: true}\n")
	for login, role := range map[string]string{"alice": "write", "maria": "maintain"} {
		if err := l.sim.SetPermission("acme", "ops", login, role); err != nil {
			t.Fatal(err)
		}
	}
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "api-two", Base: "main", Title: "api two",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "two")}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	// Not approved: said by name, nothing applied.
	got := l.answer(t, "maria", pr, "/gantry apply", "not applied")
	if !strings.Contains(got, "- **approved**: no approving review") || strings.Contains(got, "**mergeable**") || strings.Contains(got, "**checks**") || strings.Contains(got, "**up-to-date**") {
		t.Errorf("answer without approval:\n%s", got)
	}
	// Approved, but a required status fails.
	if err := l.sim.Approve("bob", "acme", "ops", pr); err != nil {
		t.Fatal(err)
	}
	// A CI system posts its status with a user's token.
	gh, err := github.NewClient(nil).WithAuthToken(l.sim.UserToken("maria")).WithEnterpriseURLs(l.sim.URL()+"/api/v3/", l.sim.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Repositories.CreateStatus(context.Background(), "acme", "ops", head, &github.RepoStatus{State: github.String("failure"), Context: github.String("ci/unit")}); err != nil {
		t.Fatal(err)
	}
	got = l.answer(t, "maria", pr, "/gantry apply", "not applied")
	if !strings.Contains(got, "- **checks**: commit statuses are failure") || strings.Contains(got, "**approved**") {
		t.Errorf("answer with a failing status:\n%s", got)
	}
	if _, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "api-config", metav1.GetOptions{}); err == nil {
		t.Fatal("api-config exists although no apply ran")
	}
	// Every requirement holds: applied, checked, commented, merged.
	if _, _, err := gh.Repositories.CreateStatus(context.Background(), "acme", "ops", head, &github.RepoStatus{State: github.String("success"), Context: github.String("ci/unit")}); err != nil {
		t.Fatal(err)
	}
	got = l.answer(t, "maria", pr, "/gantry apply", "gantry: applied at")
	if !strings.Contains(got, "| `api` | `local` | ✅ applied | 1 |") || !strings.Contains(got, "Merged as") {
		t.Errorf("apply answer:\n%s", got)
	}
	cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), "api-config", metav1.GetOptions{})
	if err != nil || cm.Data["value"] != "two" {
		t.Fatalf("api-config after apply: %v %v", cm.Data, err)
	}
	if c := l.checks(head)[report.CheckApply]; c.Conclusion != "success" {
		t.Errorf("gantry/apply on the head: %s %q", c.Conclusion, c.Title)
	}
	last, _ := l.records(t, "api").Last()
	if last.Trigger != cluster.TriggerCommand || last.PR != pr || last.Commit != head || last.By != "maria" {
		t.Errorf("record %+v", last)
	}
	snap, err := l.sim.PR("acme", "ops", pr)
	if err != nil || snap["merged"] != true {
		t.Fatalf("pull request not merged: %v %v", snap["merged"], err)
	}
	// The merge's push applies nothing: api applies on command only.
	merge, _ := snap["merge_commit_sha"].(string)
	if err := l.sim.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	if _, ok := l.checks(merge)[report.CheckApply]; ok {
		t.Error("the merge of an on-command app was applied again")
	}

	// A second pull request that conflicts with the base and is behind it.
	pr2, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "api-three", Base: "main", Title: "api three",
		Files: map[string]string{"apps/api/cm.yaml": configMap("api-config", "three")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.sim.Approve("bob", "acme", "ops", pr2); err != nil {
		t.Fatal(err)
	}
	if _, err := l.sim.Push("maria", "acme", "ops", "main", map[string]string{"apps/api/cm.yaml": configMap("api-config", "four")}, nil, "hotfix"); err != nil {
		t.Fatal(err)
	}
	got = l.answer(t, "maria", pr2, "/gantry apply", "not applied")
	if !strings.Contains(got, "- **mergeable**: GitHub says it does not merge cleanly") || !strings.Contains(got, "- **up-to-date**: 1 commit behind main") {
		t.Errorf("answer on a conflicting pull request:\n%s", got)
	}
	// The app that applies on merge is not applied by a command.
	pr3, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "web-x", Base: "main", Title: "web",
		Files: map[string]string{"apps/web/cm.yaml": configMap("web-config", "x")}})
	if err != nil {
		t.Fatal(err)
	}
	got = l.answer(t, "maria", pr3, "/gantry apply", "applies on merge")
	if !strings.Contains(got, "`web` applies on merge, not on command") {
		t.Errorf("answer for an on-merge app:\n%s", got)
	}
}

func TestRevertCommandOpensTheRevertOfAMergedPullRequest(t *testing.T) {
	l := startServer(t, applyFiles, "")
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	pr, merge := l.mergePR(t, "cm-two", map[string]string{"apps/web/cm.yaml": configMap("web-config", "two"), "apps/web/extra.yaml": configMap("web-extra", "x")})
	if c := l.applied(t, merge); c.Conclusion != "success" {
		t.Fatalf("apply: %s %q", c.Conclusion, c.Title)
	}
	got := l.answer(t, "maria", pr, "/gantry revert", "opened")
	if !strings.Contains(got, "to revert `web`") {
		t.Errorf("answer:\n%s", got)
	}
	gh := l.gh(t)
	branch := "gantry/revert/" + shortSHA(merge)
	prs, _, err := gh.PullRequests.List(context.Background(), "acme", "ops", &github.PullRequestListOptions{State: "open", Head: "acme:" + branch})
	if err != nil || len(prs) != 1 {
		t.Fatalf("revert pull requests %v, %v", prs, err)
	}
	// The revert restores the ConfigMap and removes the file the merge added.
	fc, _, _, err := gh.Repositories.GetContents(context.Background(), "acme", "ops", "apps/web/cm.yaml", &github.RepositoryContentGetOptions{Ref: branch})
	if err != nil {
		t.Fatal(err)
	}
	if content, _ := fc.GetContent(); content != configMap("web-config", "one") {
		t.Errorf("cm.yaml on the revert branch:\n%s", content)
	}
	if _, _, resp, err := gh.Repositories.GetContents(context.Background(), "acme", "ops", "apps/web/extra.yaml", &github.RepositoryContentGetOptions{Ref: branch}); err == nil || resp.StatusCode != 404 {
		t.Errorf("extra.yaml is still on the revert branch (%v)", err)
	}
	// A pull request that was never merged has nothing to revert.
	open, _, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "other", Base: "main", Title: "other",
		Files: map[string]string{"apps/web/cm.yaml": configMap("web-config", "three")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := l.answer(t, "maria", open, "/gantry revert", "not merged"); !strings.Contains(got, "nothing to revert") {
		t.Errorf("answer on an open pull request:\n%s", got)
	}
}
