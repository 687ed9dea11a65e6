package render

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/config"
)

// runawayChart is a chart whose template loops for hours: Helm's engine
// cannot be interrupted, so the render must be abandoned. (These tests are
// in the last file so that the abandoned loops spin after the others.)
func runawayChart(t *testing.T) string {
	return writeFiles(t, map[string]string{
		"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n" +
			"{{- range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ range until 1000 }}{{ end }}{{ end }}{{ end }}{{ end }}\n",
	})
}

func TestRunawayHelmRenderIsAbandonedAtItsDeadline(t *testing.T) {
	root := runawayChart(t)
	before := Abandoned()
	r := Renderer{Limits: Limits{Timeout: 50 * time.Millisecond}}
	_, _, err := r.Render(t.Context(), root, config.App{Name: "runaway", Path: "c"})
	if !errors.Is(err, ErrLimit) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("render = %v, want ErrLimit and DeadlineExceeded", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "app runaway") || !strings.Contains(msg, "time limit of 50ms") {
		t.Errorf("error %q does not name the app and the limit", msg)
	}
	if got := Abandoned(); got != before+1 {
		t.Errorf("Abandoned() = %d, want %d", got, before+1)
	}
}

// TestRunawayHelmBlocksNoOtherApp renders a Kustomize app while a runaway
// Helm render of another app is still in its template engine.
func TestRunawayHelmBlocksNoOtherApp(t *testing.T) {
	root := runawayChart(t)
	started, finished := make(chan struct{}), make(chan struct{})
	helm := Renderer{
		Limits: Limits{Timeout: time.Hour},
		hooks:  &renderHooks{templating: func() { close(started) }, templated: func() { close(finished) }},
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	before := Abandoned()
	result := make(chan error, 1)
	go func() {
		_, _, err := helm.Render(ctx, root, config.App{Name: "runaway", Path: "c"})
		result <- err
	}()
	<-started
	objs, _ := mustRender(t, testRepo, loadApp(t, testRepo, "web-prod"))
	if len(objs) == 0 {
		t.Error("the kustomize app rendered nothing")
	}
	select {
	case <-finished:
		t.Fatal("the runaway template finished: the test proves nothing")
	default:
	}
	cancel()
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled runaway render = %v, want context.Canceled", err)
	}
	if got := Abandoned(); got != before+1 {
		t.Errorf("Abandoned() = %d, want %d", got, before+1)
	}
}
