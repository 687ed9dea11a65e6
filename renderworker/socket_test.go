package renderworker

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// sidecar serves a Listen on a socket in a new directory until the test
// ends and returns its path.
func sidecar(t *testing.T, p *Process) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "worker.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, path, p) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Listen: %v", err)
		}
	})
	return path
}

// TestSidecarRendersAsInProcess: a render through the sidecar's socket
// gives the objects and sources of a render in process, and its errors
// keep their file, line and cause.
func TestSidecarRendersAsInProcess(t *testing.T) {
	ctx := context.Background()
	s := &Socket{Path: sidecar(t, testWorker())}
	deadline := time.Now().Add(10 * time.Second)
	const root = "../fixtures/repos/sample"
	repo, err := config.LoadRepo(root, &config.Server{DefaultCluster: "local", Clusters: []config.Cluster{{Name: "local"}}})
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(root)
	for _, app := range repo.Apps {
		var in render.Renderer
		want, wantSM, wantErr := in.Render(ctx, root, app)
		got, gotSM, err := s.Render(ctx, abs, app)
		for err != nil && strings.Contains(err.Error(), "no such file") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond) // the socket is not there yet
			got, gotSM, err = s.Render(ctx, abs, app)
		}
		if wantErr != nil || err != nil || len(want) == 0 {
			t.Fatalf("%s: in process %v, sidecar %v, %d objects", app.Name, wantErr, err, len(want))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s objects (-in process +sidecar):\n%s", app.Name, diff)
		}
		if diff := cmp.Diff(wantSM, gotSM); diff != "" {
			t.Errorf("%s sources (-in process +sidecar):\n%s", app.Name, diff)
		}
	}
	bad := writeRepo(t, map[string]string{"app/kustomization.yaml": "resources:\n  - https://example.com/cm.yaml\n"})
	if _, _, err := s.Render(ctx, bad, config.App{Name: "remote", Path: "app", Namespace: "default"}); !errors.Is(err, render.ErrRemote) {
		t.Errorf("a remote kustomization through the sidecar: %v, want ErrRemote", err)
	}
}

// TestSidecarReportsARunawayRender: the sidecar's worker hits its CPU
// limit; the server's side gets the same error a worker of its own gives.
func TestSidecarReportsARunawayRender(t *testing.T) {
	p := testWorker()
	p.CPU = 2 * time.Second
	s := &Socket{Path: sidecar(t, p)}
	root := writeRepo(t, map[string]string{"chart/Chart.yaml": chartYAML,
		"chart/templates/cm.yaml": "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\n"})
	var err error
	for range 100 {
		_, _, err = s.Render(context.Background(), root, config.App{Name: "runaway", Path: "chart", Namespace: "default"})
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "CPU limit of 2s") {
		t.Errorf("render: %v, want ErrLimit naming the CPU limit", err)
	}
}

func TestSocketWithoutASidecarFailsTheRender(t *testing.T) {
	s := &Socket{Path: filepath.Join(t.TempDir(), "none.sock")}
	_, _, err := s.Render(context.Background(), t.TempDir(), config.App{Name: "web", Path: "app"})
	if len(render.AsErrors(err)) != 1 || !strings.Contains(err.Error(), "render worker sidecar at") {
		t.Errorf("render: %v, want one render error naming the sidecar", err)
	}
}
