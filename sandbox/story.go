package sandbox

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Story is the scripted story: the demo apps applied, a plan, a policy
// deny an owner approves, a healthy merge, an out-of-band edit turned
// into a drift pull request and closed, and a bad rollout turned into a
// revert pull request.
func Story() []Step {
	return []Step{
		{Name: "0. ada pushes the demo apps to main; gantry applies them", run: stepInitialApply},
		{Name: "1. wes opens a pull request changing an image and the replica count", run: stepPlan},
		{Name: "2. a pull request breaks a platform policy; its owner ada approves it", run: stepPolicy},
		{Name: "3. ada merges the first pull request: applied and healthy", run: stepMerge},
		{Name: "4. someone scales frontend by hand: a drift pull request, closed to restore Git's state", run: stepDrift},
		{Name: "5. a bad rollout (pods never ready) becomes a revert pull request", run: stepBadRollout},
	}
}

func stepInitialApply(ctx context.Context, p *player) error {
	p.printf("ada pushed %s to main: web (Kustomize), config (plain YAML), api (Helm)", short(p.sb.Initial))
	if err := p.checks(ctx, p.sb.Initial, map[string]string{checkApply: "success"}, nil); err != nil {
		return err
	}
	_, err := p.deployment(ctx, "web", "frontend")
	return err
}

// webDeployment is the web app's base Deployment with image and, when
// neverReady, pods that run but never pass readiness in the local
// cluster (its kwok stages).
func webDeployment(image string, neverReady bool) string {
	labels := "{app: frontend}"
	if neverReady {
		labels = "\n        app: frontend\n        gantry.test/never-ready: \"true\""
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  labels: {app: frontend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: frontend}
  template:
    metadata:
      labels: %s
    spec:
      containers:
        - name: frontend
          image: %s
          envFrom:
            - configMapRef: {name: web-flags}
          resources:
            limits: {cpu: 500m, memory: 256Mi}
`, labels, image)
}

const (
	goodImage = "registry.example/acme/frontend:1.42.0"
	badImage  = "registry.example/acme/frontend:1.43.0-rc.1"
)

func stepPlan(ctx context.Context, p *player) error {
	n, head, err := p.openPR("wes", "web-1.42", "web: frontend 1.42.0 on 4 replicas", map[string]string{
		"apps/web/base/deployment.yaml":        webDeployment(goodImage, false),
		"apps/web/overlays/prod/replicas.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: frontend\nspec:\n  replicas: 4\n",
	})
	if err != nil {
		return err
	}
	p.planPR = n
	if err := p.checks(ctx, head, map[string]string{checkDiff: "success", checkPolicy: "success"}, map[string]string{checkDiff: "1 app changes"}); err != nil {
		return err
	}
	return p.botSays(ctx, n, "frontend:1.42.0")
}

func stepPolicy(ctx context.Context, p *player) error {
	n, head, err := p.openPR("wes", "api-load-test", "api: 12 replicas for the load test", map[string]string{
		"charts/api/values-prod.yaml": "image: registry.example/acme/api-prod\nreplicas: 12\n",
	})
	if err != nil {
		return err
	}
	if err := p.checks(ctx, head, map[string]string{checkDiff: "success", checkPolicy: "failure"}, nil); err != nil {
		return err
	}
	if err := p.botSays(ctx, n, "more than 10 needs a platform owner"); err != nil {
		return err
	}
	// wes may write, but only maintainers and above may approve, and
	// only the policy's owners may override its denies.
	if err := p.comment(ctx, "wes", n, "/gantry approve-policies the load test needs it"); err != nil {
		return err
	}
	if err := p.botSays(ctx, n, "not allowed"); err != nil {
		return err
	}
	if err := p.comment(ctx, "ada", n, "/gantry approve-policies load test this week, back to 2 on Friday"); err != nil {
		return err
	}
	if err := p.checks(ctx, head, map[string]string{checkPolicy: "success"}, map[string]string{checkPolicy: "overridden by @ada"}); err != nil {
		return err
	}
	if err := p.botSays(ctx, n, "overridden by @ada"); err != nil {
		return err
	}
	p.printf("#%d stays open: ada may merge it, or close it", n)
	return nil
}

func stepMerge(ctx context.Context, p *player) error {
	if p.planPR == 0 {
		return p.fail("step 1's pull request", "none (step 1 did not run)")
	}
	sha, err := p.merge(ctx, "ada", p.planPR)
	if err != nil {
		return err
	}
	if err := p.checks(ctx, sha, map[string]string{checkApply: "success"}, map[string]string{checkApply: "applied and healthy"}); err != nil {
		return err
	}
	if err := p.botSays(ctx, p.planPR, "applied at"); err != nil {
		return err
	}
	image, err := p.deployment(ctx, "web", "frontend")
	if err != nil {
		return err
	}
	if image != goodImage {
		return p.fail("Deployment web/frontend to run "+goodImage, image)
	}
	return nil
}

func stepDrift(ctx context.Context, p *player) error {
	deployments := p.sb.Cluster.Client.AppsV1().Deployments("web")
	d, err := deployments.Get(ctx, "frontend", metav1.GetOptions{})
	if err != nil {
		return p.fail("Deployment web/frontend in the cluster", err.Error())
	}
	want := *d.Spec.Replicas
	hand := want + 2
	d.Spec.Replicas = &hand
	// The field manager names who made the edit; the drift pull
	// request shows it.
	if _, err := deployments.Update(ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		return p.fail("to scale Deployment web/frontend by hand", err.Error())
	}
	p.printf("someone ran the equivalent of kubectl scale: Deployment web/frontend %d → %d replicas", want, hand)
	p.printf("gantry compares the cluster with Git at every resync (every %s in the sandbox)", resyncInterval)
	drift, err := p.openPRFrom(ctx, "gantry/drift/web")
	if err != nil {
		return err
	}
	p.showPR(drift, 30)
	if !strings.Contains(drift.GetBody(), "spec.replicas") {
		return p.fail("the drift pull request to name spec.replicas", "a body without it")
	}
	if _, _, err := p.client("ada").PullRequests.Edit(ctx, Owner, Name, drift.GetNumber(), &github.PullRequest{State: github.String("closed")}); err != nil {
		return p.fail(fmt.Sprintf("ada to close #%d", drift.GetNumber()), err.Error())
	}
	p.printf("ada closed #%d without merging: Git's state wins", drift.GetNumber())
	if err := p.botSays(ctx, drift.GetNumber(), "Closed without merging"); err != nil {
		return err
	}
	var seen int32
	return p.waitFor(ctx, fmt.Sprintf("Deployment web/frontend back on %d replicas", want), func() (bool, string, bool) {
		d, err := deployments.Get(ctx, "frontend", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), false
		}
		seen = *d.Spec.Replicas
		if seen == want {
			p.printf("cluster: Deployment web/frontend back on %d replicas", seen)
			return true, "", false
		}
		return false, fmt.Sprintf("%d replicas", seen), false
	})
}

func stepBadRollout(ctx context.Context, p *player) error {
	n, head, err := p.openPR("wes", "web-1.43-rc", "web: frontend 1.43.0-rc.1", map[string]string{
		"apps/web/base/deployment.yaml": webDeployment(badImage, true),
	})
	if err != nil {
		return err
	}
	if err := p.checks(ctx, head, map[string]string{checkDiff: "success", checkPolicy: "success"}, nil); err != nil {
		return err
	}
	if err := p.botSays(ctx, n, "never-ready"); err != nil {
		return err
	}
	sha, err := p.merge(ctx, "ada", n)
	if err != nil {
		return err
	}
	p.printf("the new pods run but never become ready; the app's healthTimeout is 20s")
	if err := p.checks(ctx, sha, map[string]string{checkApply: "failure"}, nil); err != nil {
		return err
	}
	revert, err := p.openPRFrom(ctx, "gantry/revert/"+short(sha))
	if err != nil {
		return err
	}
	labels := p.showPR(revert, 40)
	if !slices.Contains(labels, "gantry:revert") {
		return p.fail("the revert pull request labelled gantry:revert", strings.Join(labels, ", "))
	}
	if err := p.botSays(ctx, n, "revert pull request"); err != nil {
		return err
	}
	revertSHA, err := p.merge(ctx, "ada", revert.GetNumber())
	if err != nil {
		return err
	}
	if err := p.checks(ctx, revertSHA, map[string]string{checkApply: "success"}, map[string]string{checkApply: "applied and healthy"}); err != nil {
		return err
	}
	image, err := p.deployment(ctx, "web", "frontend")
	if err != nil {
		return err
	}
	if image != goodImage {
		return p.fail("Deployment web/frontend back on "+goodImage, image)
	}
	return nil
}
