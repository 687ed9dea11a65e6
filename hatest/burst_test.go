package hatest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/soak"
)

// TestLeaderKilledDuringABurstLosesNothing: pull requests are opened at
// once across three apps; the leader is SIGKILLed while the burst is
// being planned (some done, some running, some waiting in its queue), and
// more are opened while no replica is ready. Once the follower leads,
// every head has exactly one completed gantry/diff and gantry/policy run
// and each pull request one gantry comment: none lost with the dead
// replica's queue, none planned twice.
func TestLeaderKilledDuringABurstLosesNothing(t *testing.T) {
	clock := soak.Start()
	e, first := twoReplicas(t, planFiles)
	n, gap := soak.Scale(15, 60), soak.Scale(3, 10)
	apps := []string{"web", "api", "db"}
	heads := map[int]string{}
	open := func(i int) {
		app := apps[i%len(apps)]
		pr, head := e.openPR(fmt.Sprintf("burst-%d", i), map[string]string{"apps/" + app + "/cm.yaml": configMap(app+"-config", "burst", fmt.Sprintf("%q", fmt.Sprint(i)))})
		heads[pr] = head
	}
	for i := range n {
		open(i)
	}
	planned := func() int {
		done := 0
		for _, h := range heads {
			if e.planned(h) {
				done++
			}
		}
		return done
	}
	waitFor(t, "the burst's first plans", func() bool { return planned() >= 2 })
	first.kill(t)
	atKill := planned()
	e.lose()
	for i := n; i < n+gap; i++ {
		open(i)
	}
	e.deliver()
	if second := e.leader(); second == first {
		t.Fatal("the killed replica is ready")
	}
	waitWithin(t, soak.Scale(2*time.Minute, 10*time.Minute), "every head planned", func() bool { return planned() == len(heads) })
	for pr, head := range heads {
		for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
			if rs := e.runs(head, name); len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
				t.Errorf("#%d: %s on %.7s: %+v, want one completed run, green", pr, name, head, rs)
			}
		}
		if cs := e.botComments(pr); len(cs) != 1 {
			t.Errorf("#%d has %d gantry comments, want 1", pr, len(cs))
		}
	}
	e.report(t, clock, soak.Row{Scenario: "leader lost during a burst",
		Load:    fmt.Sprintf("2 replicas; %d pull requests opened at once across 3 apps, %d more while no replica was ready", n, gap),
		Faults:  fmt.Sprintf("SIGKILL of the leader mid-burst (%d of %d planned)", atKill, n),
		Outcome: "the follower led and planned every head once: one completed run per check, one comment per pull request", Lost: "none"})
}
