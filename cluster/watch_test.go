package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/gantryops/gantry/config"
)

// calls counts OnChange calls per app.
type calls struct {
	mu   sync.Mutex
	n    map[string]int
	seen chan struct{}
}

func newCalls() *calls { return &calls{n: map[string]int{}, seen: make(chan struct{}, 1)} }

func (c *calls) onChange(repo, app string) {
	c.mu.Lock()
	c.n[repo+"/"+app]++
	c.mu.Unlock()
	select {
	case c.seen <- struct{}{}:
	default:
	}
}

func (c *calls) count(app config.App) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[testRepo+"/"+app.Name]
}

// waitFor waits, generously, until app has had a call.
func (c *calls) waitFor(t *testing.T, app config.App) {
	t.Helper()
	c.waitAbove(t, app, 0)
}

// waitAbove waits, generously, until app has had more than n calls.
func (c *calls) waitAbove(t *testing.T, app config.App, n int) {
	t.Helper()
	deadline := time.After(time.Minute)
	for c.count(app) <= n {
		select {
		case <-c.seen:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no OnChange for %s within a minute", app.Name)
		}
	}
}

// watch starts a watcher for the test with a short debounce.
func watch(t *testing.T, debounce time.Duration) *calls {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := newCalls()
	if _, err := newClient(t).Watch(ctx, WatchOptions{Debounce: debounce, OnChange: c.onChange}); err != nil {
		t.Fatal(err)
	}
	return c
}

var sentinelEdits atomic.Int64

// settle makes a change to a sentinel app (its ConfigMap edited by
// another manager) and waits for its call, then for two more debounce
// windows: every event of the objects changed before has then been
// delivered (one informer per kind delivers in order) and any window they
// opened has closed.
func settle(t *testing.T, c *calls, sentinel config.App, ns string, debounce time.Duration) {
	t.Helper()
	before := c.count(sentinel)
	patch := []byte(fmt.Sprintf(`{"data":{"mode":"sentinel-%d"}}`, sentinelEdits.Add(1)))
	if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Patch(context.Background(), "settings", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "ops"}); err != nil {
		t.Fatal(err)
	}
	c.waitAbove(t, sentinel, before)
	time.Sleep(2 * debounce)
}

// Gantry's own applies (a change, a take-back after kubectl scale),
// controllers' status writes, an HPA's replicas and a webhook's injections
// make no call; a sentinel edit afterwards does.
func TestWatchIgnoresGantrysOwnAppliesAndOtherManagersFields(t *testing.T) {
	const debounce = 200 * time.Millisecond
	ns, sentinelNS := cluster.Namespace(t), cluster.Namespace(t)
	app, sentinel := newApp(ns), newApp(sentinelNS)
	applied(t, sentinel, driftApp(t, sentinelNS, "1", "registry.example/web:1.0"))
	applied(t, app, driftApp(t, ns, "", "registry.example/web:1.0"))
	c := watch(t, debounce)

	applied(t, app, driftApp(t, ns, "", "registry.example/web:2.0"))
	scale(t, ns, "kube-controller-manager", 3) // an HPA; Git sets no replicas
	editDeployment(t, ns, "sidecar-injector", func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{"injected": "yes"}
	})
	settle(t, c, sentinel, sentinelNS, debounce)
	if n := c.count(app); n != 0 {
		t.Errorf("%d calls for gantry's applies and other managers' fields, want none", n)
	}

	// Git sets replicas now; kubectl scale takes them, apply takes them back.
	withReplicas := driftApp(t, ns, "2", "registry.example/web:2.0")
	applied(t, app, withReplicas)
	settle(t, c, sentinel, sentinelNS, debounce)
	if n := c.count(app); n != 0 {
		t.Fatalf("%d calls after an apply, want none", n)
	}
	scale(t, ns, "kubectl", 5)
	c.waitFor(t, app)
	time.Sleep(2 * debounce)
	before := c.count(app)
	applied(t, app, withReplicas)
	settle(t, c, sentinel, sentinelNS, debounce)
	if n := c.count(app); n != before {
		t.Errorf("the apply that took replicas back made %d calls, want none", n-before)
	}
}

// Flapping edits by another manager inside one window make one call;
// a deletion makes one more.
func TestWatchReportsEditsOncePerWindowAndDeletions(t *testing.T) {
	const debounce = 3 * time.Second
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	applied(t, app, driftApp(t, ns, "2", "registry.example/web:1.0"))
	c := watch(t, debounce)

	for _, image := range []string{"a", "b", "c", "d", "e"} {
		editDeployment(t, ns, "kubectl-edit", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:" + image
		})
	}
	c.waitFor(t, app)
	time.Sleep(2 * debounce)
	if n := c.count(app); n != 1 {
		t.Fatalf("%d calls for five edits in one window, want 1", n)
	}
	if err := cluster.Client.CoreV1().ConfigMaps(ns).Delete(ctx, "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.waitAbove(t, app, 1)
	time.Sleep(2 * debounce)
	if n := c.count(app); n != 2 {
		t.Errorf("%d calls after the deletion, want 2", n)
	}
}

// An app applied after the watch began, with a kind no inventory had, is
// watched after Refresh (and by itself, through the inventories' watch).
func TestWatchFollowsNewInventoriesAndKinds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns := cluster.Namespace(t)
	c := newCalls()
	w, err := newClient(t).Watch(ctx, WatchOptions{Debounce: 100 * time.Millisecond, OnChange: c.onChange})
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(ns)
	applied(t, app, objects(t, ns, `apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, labels: {team: a}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
`))
	if err := w.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"spec":{"maxUnavailable":3}}`)
	if _, err := cluster.Client.PolicyV1().PodDisruptionBudgets(ns).Patch(ctx, "web", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "ops"}); err != nil {
		t.Fatal(err)
	}
	c.waitFor(t, app)
}

// A watcher that may not list what it watches fails, saying what, rather
// than blocking its caller.
func TestWatchFailsWhenItMayNotList(t *testing.T) {
	cfg := rest.CopyConfig(cluster.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "nobody"}
	c, err := NewClient(cfg, DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Watch(context.Background(), WatchOptions{OnChange: func(string, string) {}, SyncTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "watch inventories in gantry-system") {
		t.Errorf("got %v, want the inventories named", err)
	}
	if _, err := c.Watch(context.Background(), WatchOptions{}); !errors.Is(err, ErrNoOnChange) {
		t.Errorf("without OnChange: %v, want ErrNoOnChange", err)
	}
}
