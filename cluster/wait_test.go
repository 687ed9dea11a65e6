package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gantryops/gantry/config"
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
	cs, err := c.Apply(ctx, app, objects(t, ns, deploymentDocs("web", false)), ApplyOptions{Repository: testRepo, Wait: true, Health: WaitOptions{Timeout: 60 * time.Second, Interval: 250 * time.Millisecond}})
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
	cs, err := c.Apply(ctx, app, objects(t, ns, deploymentDocs("broken", true)), ApplyOptions{Repository: testRepo, Wait: true, Health: WaitOptions{Timeout: 30 * time.Second, Interval: 250 * time.Millisecond}})
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
	for _, want := range []string{"Progressing=False ProgressDeadlineExceeded", "Pod/" + ns + "/broken-", "not ready", "event Normal Deployment/broken ScalingReplicaSet"} {
		if !strings.Contains(why.String(), want) {
			t.Errorf("explanation lacks %q:\n%s", want, why.String())
		}
	}
	if elapsed := time.Since(start); elapsed > 25*time.Second {
		t.Errorf("a failed rollout took %s to report; kstatus Failed should end the wait early", elapsed)
	}
}

func TestWhyReportsTheObjectsOwnEvents(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c := newClient(t)
	cm, err := cluster.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "target"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role, err := cluster.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ns + "-target"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.Client.RbacV1().ClusterRoles().Delete(context.Background(), role.Name, metav1.DeleteOptions{})
	})
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	count := 0
	event := func(evNS string, about corev1.ObjectReference, minute int, reason string) {
		t.Helper()
		count++
		ts := metav1.NewTime(base.Add(time.Duration(minute) * time.Minute))
		e := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", ns, count), Namespace: evNS},
			InvolvedObject: about, Reason: reason, Message: "about " + about.Name, Type: corev1.EventTypeNormal,
			FirstTimestamp: ts, LastTimestamp: ts, Source: corev1.EventSource{Component: "test"},
		}
		if _, err := cluster.Client.CoreV1().Events(evNS).Create(ctx, e, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cluster.Client.CoreV1().Events(evNS).Delete(context.Background(), e.Name, metav1.DeleteOptions{})
		})
	}
	cmRef := corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "target", UID: cm.UID}
	for i := range 5 {
		event(ns, cmRef, i, fmt.Sprintf("Mine%d", i))
	}
	event(ns, corev1.ObjectReference{APIVersion: "v1", Kind: "Secret", Namespace: ns, Name: "target", UID: "other"}, 10, "SameNameOtherKind")
	event(ns, corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "target", UID: "earlier"}, 11, "EarlierObject")
	event(ns, corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "other"}, 12, "OtherName")
	roleRef := corev1.ObjectReference{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole", Name: role.Name, UID: role.UID}
	event(metav1.NamespaceDefault, roleRef, 1, "RoleOld")
	event(metav1.NamespaceDefault, roleRef, 2, "RoleNew")

	tests := []struct {
		name string
		obj  any
		kind string
		want []string
	}{
		{"namespaced, the most recent three", cm, "ConfigMap", []string{
			"Normal ConfigMap/target Mine4: about target", "Normal ConfigMap/target Mine3: about target", "Normal ConfigMap/target Mine2: about target",
		}},
		{"cluster-scoped, in the default namespace", role, "ClusterRole", []string{
			"Normal ClusterRole/" + role.Name + " RoleNew: about " + role.Name, "Normal ClusterRole/" + role.Name + " RoleOld: about " + role.Name,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tt.obj)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetKind(tt.kind)
			_, events := c.why(ctx, u, 3)
			if d := cmp.Diff(tt.want, events); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

// TestApplyWaitsAsLongAsTheAppsHealthTimeout proves that the app's
// healthTimeout bounds the wait of an apply with the default options (it
// was ignored for a fixed five minutes), that the outcome names that
// timeout, and that progress is reported while waiting. The Deployment's
// pods never become ready and its progress deadline is far off, so only
// the timeout ends the wait; the context's bound merely keeps a broken
// implementation from hanging the test.
func TestApplyWaitsAsLongAsTheAppsHealthTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	app.HealthTimeout = config.Duration(3 * time.Second)
	docs := strings.Replace(deploymentDocs("stuck", true), "progressDeadlineSeconds: 4", "progressDeadlineSeconds: 600", 1)
	opts := DefaultApplyOptions(testRepo)
	opts.Health.Interval = 250 * time.Millisecond
	var progress []WaitProgress
	opts.Health.Progress = func(p WaitProgress) { progress = append(progress, p) }
	cs, err := c.Apply(ctx, app, objects(t, ns, docs), opts)
	if err != nil {
		t.Fatal(err)
	}
	h := cs.Health
	if h == nil || h.Healthy || !h.TimedOut || h.Timeout != 3*time.Second {
		t.Fatalf("health %+v, want unhealthy, timed out at the app's 3s", h)
	}
	var text strings.Builder
	writeHealthText(&text, h)
	if !strings.Contains(text.String(), "still not ready at the health timeout (3s)") {
		t.Errorf("outcome does not name the timeout:\n%s", text.String())
	}
	if len(progress) == 0 {
		t.Fatal("no progress reported while waiting")
	}
	p := progress[len(progress)-1]
	if p.Total != 2 || p.Ready != 1 || len(p.Pending) != 1 || p.Pending[0].Object.String() != "Deployment/"+ns+"/stuck" ||
		p.Pending[0].Status != "InProgress" || p.Pending[0].Message == "" || p.Timeout != 3*time.Second {
		t.Errorf("last progress %+v, want the ConfigMap ready and the Deployment in progress with why", p)
	}
	var line bytes.Buffer
	if err := WriteWaitProgress(&line, app.Name, p); err != nil {
		t.Fatal(err)
	}
	if want := "1 of 2 objects ready"; !strings.Contains(line.String(), want) || !strings.Contains(line.String(), "Deployment/"+ns+"/stuck InProgress: ") {
		t.Errorf("progress line %q lacks %q or the pending Deployment", line.String(), want)
	}
}
