package bot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/golden"
	"github.com/gantryops/gantry/renderworker"
)

// withWorker makes e's pipeline render pull request heads in worker
// processes (this test binary as `render-worker`).
func withWorker(e *e2e, cpu time.Duration) {
	e.pipe.Worker = &renderworker.Process{Executable: os.Args[0], MemoryBytes: 1 << 30, CPU: cpu}
}

// TestPlanInTheWorkerIsThePlanInProcess: with render.isolation: process
// a plan posts the comment and checks a plan rendered in process posts
// (the golden of TestPlanOneAppChange).
func TestPlanInTheWorkerIsThePlanInProcess(t *testing.T) {
	e := newE2E(t, baseFiles)
	withWorker(e, 30*time.Second)
	pr, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	golden.Check(t, "plan-one-app.md", e.summary(pr))
	if c := e.checks(head)[report.CheckDiff]; c.Conclusion != "success" || c.Title != "1 app changes: 1 create, 0 update, 0 delete" {
		t.Errorf("diff check: %s %q", c.Conclusion, c.Title)
	}
}

// TestPlanReportsARunawayRenderInTheWorker: a chart that loops for ever
// is stopped at the worker's CPU limit; the plan completes, its
// gantry/diff check fails naming the limit and the app, and the other
// app is still planned.
func TestPlanReportsARunawayRenderInTheWorker(t *testing.T) {
	e := newE2E(t, baseFiles)
	withWorker(e, 2*time.Second)
	start := time.Now()
	pr, head := e.openPR(map[string]string{
		"apps/web/cm.yaml":           "",
		"apps/web/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"apps/web/templates/cm.yaml": "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\n",
		"apps/api/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  level: debug\n",
	})
	t.Logf("plan with a runaway chart took %s (CPU limit 2s; measured, not asserted)", time.Since(start).Round(time.Millisecond))
	d := e.checks(head)[report.CheckDiff]
	if d.Status != "completed" || d.Conclusion != "failure" || !strings.Contains(d.Summary+d.Text, "CPU limit of 2s") {
		t.Errorf("diff check: %s %s %q\n%s", d.Status, d.Conclusion, d.Title, d.Summary)
	}
	s := e.summary(pr)
	if !strings.Contains(s, "CPU limit of 2s") || !strings.Contains(s, "api") {
		t.Errorf("the comment does not name the limit or still plan api:\n%s", s)
	}
}

// TestPlanThroughTheSidecarIsThePlanInProcess: with render.isolation:
// sidecar a plan renders through the sidecar's socket and posts what a
// plan rendered in process posts.
func TestPlanThroughTheSidecarIsThePlanInProcess(t *testing.T) {
	e := newE2E(t, baseFiles)
	sock := filepath.Join(t.TempDir(), "worker.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- renderworker.Listen(ctx, sock, &renderworker.Process{Executable: os.Args[0], MemoryBytes: 1 << 30, CPU: 30 * time.Second})
	}()
	defer func() { cancel(); <-done }()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.pipe.Sidecar = &renderworker.Socket{Path: sock}
	pr, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	golden.Check(t, "plan-one-app.md", e.summary(pr))
	if c := e.checks(head)[report.CheckDiff]; c.Conclusion != "success" {
		t.Errorf("diff check: %s %q", c.Conclusion, c.Title)
	}
}

// TestPlanWithoutItsSidecarFailsNamingIt: the plan's renders go to the
// sidecar and nowhere else: with none listening, the diff check fails
// naming the socket rather than rendering in process.
func TestPlanWithoutItsSidecarFailsNamingIt(t *testing.T) {
	e := newE2E(t, baseFiles)
	sock := filepath.Join(t.TempDir(), "none.sock")
	e.pipe.Sidecar = &renderworker.Socket{Path: sock}
	_, head := e.openPR(map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	if c := e.checks(head)[report.CheckDiff]; c.Conclusion != "failure" || !strings.Contains(c.Summary+c.Text, "render worker sidecar at "+sock) {
		t.Errorf("diff check: %s %q\n%s", c.Conclusion, c.Title, c.Summary)
	}
}
