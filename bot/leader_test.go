package bot

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gantryops/gantry/fixtures/githubsim"
)

func (l *live) isReady() bool {
	resp, err := http.Get(l.url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// TestLeaderElectionOneLeaderTakesOverAndLosesNothing: of two replicas
// only the leader is ready and takes webhooks; when it stops, the other
// leads within the Lease and its resync plans what arrived while no one
// saw it.
func TestLeaderElectionOneLeaderTakesOverAndLosesNothing(t *testing.T) {
	e := newE2E(t, baseFiles)
	const ha = "state: {leaderElection: {enabled: true, leaseDuration: 3s}}\n"
	a := serve(t, e, ha)
	waitFor(t, "a leader", a.isReady)
	b := serve(t, e, ha)
	time.Sleep(time.Second)
	if b.isReady() {
		t.Fatal("two replicas are ready: the follower must report not ready")
	}
	resp, err := http.Post(b.url+"/webhooks", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a follower answered a webhook %d %s", resp.StatusCode, body)
	}
	// The Service: deliveries reach whichever replica is ready.
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, l := range []*live{a, b} {
			if l.isReady() {
				http.Redirect(w, r, l.url+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
		}
		http.Error(w, "no ready replica", http.StatusServiceUnavailable)
	}))
	defer svc.Close()
	e.sim.SetWebhook(svc.URL+"/webhooks", hookSecret)
	_, head1, err := e.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "one", Base: "main", Title: "one",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leader's plan", func() bool { return a.completed(head1) })
	// A pull request opened while its delivery is lost, then the leader stops.
	e.sim.SetWebhook("", "")
	_, head2, err := e.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "two", Base: "main", Title: "two",
		Files: map[string]string{"apps/api/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  level: debug\n"}})
	if err != nil {
		t.Fatal(err)
	}
	a.stop()
	waitFor(t, "the follower to lead", b.isReady)
	waitFor(t, "the new leader's resync to plan the lost pull request", func() bool { return b.completed(head2) })
}
