package hatest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

// TestLeaderKilledMidDriftLosesNothing: an out-of-band edit becomes a
// drift pull request; the leader is SIGKILLed after opening it and
// inside the PATCH that writes its sealed body. Once the follower leads,
// its resync compares the app again and completes that same pull request
// (sealed body, label) rather than failing to open a second one from the
// branch: exactly one open drift pull request, holding the live value.
func TestLeaderKilledMidDriftLosesNothing(t *testing.T) {
	ctx := context.Background()
	clock := soak.Start()
	e, first := twoReplicas(t, map[string]string{".gantry.yaml": webApp, "apps/web/cm.yaml": configMap("web-config", "color", "blue")})
	pr, head := e.openPR("v2", map[string]string{"apps/web/cm.yaml": configMap("web-config", "color", "green")})
	waitFor(t, "the plan", func() bool { return e.planned(head) })
	e.mergeApplied(pr)

	hits, remove := e.sim.InjectCountedFault(githubsim.Slow(time.Hour).On("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}").Times(1))
	defer remove()
	cm, err := kube.Client.CoreV1().ConfigMaps(e.ns).Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "red"
	if _, err := kube.Client.CoreV1().ConfigMaps(e.ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drift pull request's body PATCH", func() bool { return hits() == 1 })
	first.kill(t)
	remove()
	if second := e.leader(); second == first {
		t.Fatal("the killed replica is ready")
	}
	var drift []map[string]any
	waitFor(t, "the drift pull request completed", func() bool {
		drift = e.openFrom("gantry/drift/web")
		return len(drift) == 1 && strings.Contains(fmt.Sprint(drift[0]["labels"]), "gantry:drift")
	})
	if body := fmt.Sprint(drift[0]["body"]); !strings.Contains(body, "<!-- gantry:drift") || !strings.Contains(body, "kubectl-edit") {
		t.Errorf("the drift pull request's body is not gantry's sealed one:\n%s", body)
	}
	// Nothing else opened from the branch, before or after.
	time.Sleep(2 * time.Second)
	if n := len(e.openFrom("gantry/drift/web")); n != 1 {
		t.Errorf("%d open drift pull requests, want 1", n)
	}
	e.report(t, clock, soak.Row{Scenario: "gantry killed mid-drift", Load: "2 replicas; one out-of-band edit",
		Faults:  "SIGKILL of the leader after opening the drift pull request, inside the PATCH of its sealed body",
		Outcome: "the follower's resync completed the same pull request (sealed, labelled): one drift pull request", Lost: "none"})
}

// openFrom are the open pull requests whose head is branch, as the REST
// API shows them.
func (e *env) openFrom(branch string) []map[string]any {
	var out []map[string]any
	for n := 1; ; n++ {
		pr, err := e.sim.PR(owner, repo, n)
		if err != nil {
			return out
		}
		h, _ := pr["head"].(map[string]any)
		if pr["state"] == "open" && h != nil && h["ref"] == branch {
			out = append(out, pr)
		}
	}
}
