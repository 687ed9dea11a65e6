package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/fixtures/localcluster"
)

func deploymentDocs(name string, neverReady bool) string {
	extra := ""
	if neverReady {
		extra = ", " + localcluster.NeverReadyLabel + `: "true"`
	}
	return `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `}
spec:
  replicas: 2
  progressDeadlineSeconds: 4
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + extra + `}}
    spec: {containers: [{name: c, image: "registry.example/` + name + `:1"}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ` + name + `-config}
`
}

func TestApplyWaitsForHealthyRollout(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	cs, err := c.Apply(ctx, app, objects(t, ns, deploymentDocs("web", false)), ApplyOptions{Wait: true, Health: WaitOptions{Timeout: 60 * time.Second, Interval: 250 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Health == nil || !cs.Health.Healthy || cs.Health.Ready != 2 {
		t.Fatalf("health %+v, want 2 objects ready", cs.Health)
	}
}

func TestWaitReportsRolloutThatNeverBecomesReady(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	start := time.Now()
	cs, err := c.Apply(ctx, app, objects(t, ns, deploymentDocs("broken", true)), ApplyOptions{Wait: true, Health: WaitOptions{Timeout: 30 * time.Second, Interval: 250 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	h := cs.Health
	if h == nil || h.Healthy || len(h.Unhealthy) != 1 || h.Ready != 1 {
		t.Fatalf("health %+v, want the Deployment unhealthy and the ConfigMap ready", h)
	}
	u := h.Unhealthy[0]
	if u.Object.String() != "Deployment/"+ns+"/broken" {
		t.Fatalf("unhealthy %s", u.Object)
	}
	var why strings.Builder
	writeHealthText(&why, h)
	for _, want := range []string{"Progressing=False ProgressDeadlineExceeded", "Pod/" + ns + "/broken-", "not ready"} {
		if !strings.Contains(why.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, why.String())
		}
	}
	if elapsed := time.Since(start); elapsed > 25*time.Second {
		t.Errorf("a failed rollout took %s to report; kstatus Failed should end the wait early", elapsed)
	}
}
