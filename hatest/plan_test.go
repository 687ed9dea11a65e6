package hatest

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

const threeApps = `version: 1
apps:
  - name: web
    path: apps/web
    namespace: NS
  - name: api
    path: apps/api
    namespace: NS
  - name: db
    path: apps/db
    namespace: NS
`

func configMap(name, key, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  " + key + ": " + value + "\n"
}

var planFiles = map[string]string{
	".gantry.yaml":     threeApps,
	"apps/web/cm.yaml": configMap("web-config", "color", "blue"),
	"apps/api/cm.yaml": configMap("api-config", "level", "info"),
	"apps/db/cm.yaml":  configMap("db-config", "size", "small"),
}

const (
	commentsRoute = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
	checkRunRoute = "/repos/{owner}/{repo}/check-runs/{check_run_id}"
)

// TestLeaderKilledMidPlanLosesNothing: the leader is SIGKILLed while two
// plans are inside GitHub calls: one before its comment exists, one after
// its comment and before its checks complete. A pull request is opened
// and another closed while no replica is ready. Once the follower leads,
// every open head has exactly one completed gantry/diff and gantry/policy
// run (the dead replica's own runs, taken over), one whole gantry comment
// each, the same a plan that never died posts, and the closed pull
// request's lock is released.
func TestLeaderKilledMidPlanLosesNothing(t *testing.T) {
	clock := soak.Start()
	e, first := twoReplicas(t, planFiles)

	// #1, planned whole by the first leader: it holds db's lock.
	pr1, head1 := e.openPR("db", map[string]string{"apps/db/cm.yaml": configMap("db-config", "size", "large")})
	waitFor(t, "the first plan", func() bool { return e.planned(head1) })
	if got := e.lockHolder("db"); got != pr1 {
		t.Fatalf("db's lock is held by #%d, want #%d", got, pr1)
	}

	// #2 stalls on posting its comment: its checks are in progress and
	// nothing is commented.
	commentHits, removeComment := e.sim.InjectCountedFault(githubsim.Slow(time.Hour).On("POST", commentsRoute).Times(1))
	defer removeComment()
	pr2, head2 := e.openPR("web", map[string]string{"apps/web/cm.yaml": configMap("web-config", "color", "green")})
	waitFor(t, "#2's plan inside its comment POST", func() bool { return commentHits() == 1 })

	// #3 stalls on completing its first check: its comment is posted, its
	// checks are in progress.
	checkHits, removeCheck := e.sim.InjectCountedFault(githubsim.Slow(time.Hour).On("PATCH", checkRunRoute).Times(1))
	defer removeCheck()
	pr3, head3 := e.openPR("api", map[string]string{"apps/api/cm.yaml": configMap("api-config", "level", "debug")})
	waitFor(t, "#3's plan inside its check PATCH", func() bool { return checkHits() == 1 })

	left := map[string]map[string]int64{} // head -> check -> run id left in progress
	for _, head := range []string{head2, head3} {
		left[head] = map[string]int64{}
		for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
			rs := e.runs(head, name)
			if len(rs) != 1 || rs[0].Status != "in_progress" {
				t.Fatalf("before the kill, %s on %.7s: %+v, want one run in progress", name, head, rs)
			}
			left[head][name] = rs[0].ID
		}
	}
	if n := len(e.botComments(pr2)); n != 0 {
		t.Fatalf("#2 has %d gantry comments before the kill, want none (its POST is stalled)", n)
	}
	cs := e.botComments(pr3)
	if len(cs) != 1 {
		t.Fatalf("#3 has %d gantry comments before the kill, want its plan's one", len(cs))
	}
	comment3 := cs[0].ID

	first.kill(t)
	killed := time.Now()
	// No replica is ready until the Lease expires: deliveries are lost.
	e.lose()
	pr4, head4 := e.openPR("lost", map[string]string{"apps/web/cm.yaml": configMap("web-config", "color", "yellow")})
	if err := e.sim.ClosePR("alice", owner, repo, pr1); err != nil {
		t.Fatal(err)
	}
	e.deliver()

	second := e.leader()
	if second == first {
		t.Fatal("the killed replica is ready")
	}
	led := time.Since(killed)
	for _, head := range []string{head2, head3, head4} {
		waitFor(t, "the plan of "+head[:7], func() bool { return e.planned(head) })
	}
	// Measured, not asserted: machines are noisy.
	t.Logf("killed → follower ready %s, → the three plans completed %s (Lease 3s)", led.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
	waitFor(t, "the closed #1's lock released", func() bool { return e.lockHolder("db") == 0 })

	for _, head := range []string{head2, head3, head4} {
		for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
			rs := e.runs(head, name)
			if len(rs) != 1 {
				t.Errorf("%s on %.7s: %d runs, want one per check per head: %+v", name, head, len(rs), rs)
				continue
			}
			if rs[0].Status != "completed" || rs[0].Conclusion != "success" {
				t.Errorf("%s on %.7s: %s %s %q, want completed success", name, head, rs[0].Status, rs[0].Conclusion, rs[0].Title)
			}
			if id, ok := left[head][name]; ok && rs[0].ID != id {
				t.Errorf("%s on %.7s: run %d, want the run %d the dead replica left, taken over", name, head, rs[0].ID, id)
			}
		}
	}
	seal := marker.New(e.sim.AppPrivateKeyPEM())
	for pr, head := range map[int]string{pr2: head2, pr3: head3, pr4: head4} {
		cs := e.botComments(pr)
		if len(cs) != 1 {
			t.Errorf("#%d has %d gantry comments, want one", pr, len(cs))
			continue
		}
		var part struct {
			N    int    `json:"n"`
			Head string `json:"head"`
		}
		if !seal.Open(marker.KindPart, marker.Scope(owner, repo, pr), cs[0].Body, &part) || part.N != 1 || part.Head != head {
			t.Errorf("#%d's comment is not gantry's sealed part 1 of head %.7s (%+v):\n%s", pr, head, part, cs[0].Body)
		}
	}
	if cs := e.botComments(pr3); len(cs) == 1 && cs[0].ID != comment3 {
		t.Errorf("#3's comment is %d, want %d (the dead replica's, edited in place)", cs[0].ID, comment3)
	}
	// The comment a plan that never died posts for this change.
	want, err := os.ReadFile("../bot/testdata/plan-one-app.md")
	if err != nil {
		t.Fatal(err)
	}
	if cs := e.botComments(pr2); len(cs) == 1 {
		if got := e.scrub(cs[0].Body); got != strings.TrimSuffix(string(want), "\n") && got != string(want) {
			t.Errorf("#2's comment differs from a plan that never died (bot/testdata/plan-one-app.md):\n%s", got)
		}
	}
	if cs := e.botComments(pr4); len(cs) == 1 && !strings.Contains(cs[0].Body, "`web` is locked by #2") {
		t.Errorf("#4 (opened while no replica was ready) does not say #2 holds web's lock:\n%s", cs[0].Body)
	}
	for app, pr := range map[string]int{"web": pr2, "api": pr3} {
		if got := e.lockHolder(app); got != pr {
			t.Errorf("%s's lock is held by #%d, want #%d", app, got, pr)
		}
	}
	e.report(t, clock, soak.Row{Scenario: "gantry killed mid-plan", Load: "2 replicas; 4 pull requests, 1 opened and 1 closed while no replica was ready",
		Faults:  "SIGKILL of the leader inside two plans (before its comment; before its checks complete)",
		Outcome: "the follower led, completed the same check runs with one whole comment each, planned the pull request opened in the gap and released the closed one's lock", Lost: "none"})
}

// scrub replaces what differs between runs (namespace, SHAs, times,
// seals) as bot's golden files do.
func (e *env) scrub(s string) string {
	s = strings.ReplaceAll(s, e.ns, "NS")
	s = regexp.MustCompile(`<!-- gantry:part \S+ \S+ -->`).ReplaceAllString(s, "<!-- gantry:part (sealed) -->")
	s = regexp.MustCompile(`head [0-9a-f]{7}`).ReplaceAllString(s, "head SHA")
	s = regexp.MustCompile(`(rendered|diffed in) [0-9.]+ s`).ReplaceAllString(s, "$1 T")
	return s
}

// bigDiff is a file of ConfigMaps whose plan needs several comments.
func bigDiff() string {
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-%02d\ndata:\n", i)
		for k := range 40 {
			fmt.Fprintf(&b, "  key-%02d: %s\n", k, strings.Repeat("v", 40))
		}
	}
	return b.String()
}

// TestLeaderKilledBetweenCommentPartsLeavesOneWholeComment: the leader
// is SIGKILLed after posting the first part of a plan too long for one
// comment and inside the POST of the second. The follower's plan keeps
// the posted part (edited in place) and adds the rest: parts 1..n, each
// once, sealed for the head, the first announcing the others.
func TestLeaderKilledBetweenCommentPartsLeavesOneWholeComment(t *testing.T) {
	clock := soak.Start()
	e, first := twoReplicas(t, planFiles)
	// The first POST passes; the second stalls.
	_, removePass := e.sim.InjectCountedFault(githubsim.Fault{}.On("POST", commentsRoute).Times(1))
	defer removePass()
	hits, removeStall := e.sim.InjectCountedFault(githubsim.Slow(time.Hour).On("POST", commentsRoute).Times(1))
	defer removeStall()
	pr, head := e.openPR("big", map[string]string{"apps/web/big.yaml": bigDiff()})
	waitFor(t, "the plan inside its second comment POST", func() bool { return hits() == 1 })
	before := e.botComments(pr)
	if len(before) != 1 {
		t.Fatalf("%d gantry comments before the kill, want the first part alone", len(before))
	}
	first.kill(t)
	e.leader()
	waitFor(t, "the plan", func() bool { return e.planned(head) })

	seal := marker.New(e.sim.AppPrivateKeyPEM())
	cs := e.botComments(pr)
	if len(cs) < 2 {
		t.Fatalf("%d gantry comments, want a summary and its continuations", len(cs))
	}
	for i, c := range cs {
		var part struct {
			N    int    `json:"n"`
			Head string `json:"head"`
		}
		if !seal.Open(marker.KindPart, marker.Scope(owner, repo, pr), c.Body, &part) || part.N != i+1 || part.Head != head {
			t.Errorf("comment %d (id %d) is not sealed part %d of %.7s: %+v", i+1, c.ID, i+1, head, part)
		}
		if len(c.Body) > report.MaxCommentSize {
			t.Errorf("comment %d is %d characters", i+1, len(c.Body))
		}
	}
	if cs[0].ID != before[0].ID {
		t.Errorf("the summary is comment %d, want %d (the dead replica's first part, kept)", cs[0].ID, before[0].ID)
	}
	if want := fmt.Sprintf("_Continued in %d more comment", len(cs)-1); !strings.Contains(cs[0].Body, want) {
		t.Errorf("the summary does not announce its %d continuations", len(cs)-1)
	}
	for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
		if rs := e.runs(head, name); len(rs) != 1 || rs[0].Status != "completed" {
			t.Errorf("%s: %+v, want one completed run", name, rs)
		}
	}
	e.report(t, clock, soak.Row{Scenario: "gantry killed between comment parts", Load: "2 replicas; a plan of 60 ConfigMaps, several comments",
		Faults: "SIGKILL of the leader inside the POST of the second part", Outcome: "the follower kept the first part and added the rest: each part once, sealed for the head", Lost: "none"})
}
