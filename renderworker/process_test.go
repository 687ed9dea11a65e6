package renderworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// TestMain makes the test binary the worker when the tests start it as
// one (`render-worker`), or a probe of the worker's sandbox: probe-net
// ADDR dials ADDR, probe-env prints its environment.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "render-worker":
			if err := Run(context.Background(), os.Args, os.Args[2:], os.Stdin, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			os.Exit(0)
		case "probe-net":
			c, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
			if err != nil {
				fmt.Print("dial failed: ", err)
				os.Exit(0)
			}
			c.Close()
			fmt.Print("connected")
			os.Exit(0)
		case "probe-env":
			_ = json.NewEncoder(os.Stdout).Encode(os.Environ())
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// testWorker is a Process running this test binary as the worker.
func testWorker(args ...string) *Process {
	if len(args) == 0 {
		args = []string{"render-worker"}
	}
	return &Process{Executable: os.Args[0], Args: args, MemoryBytes: 1 << 30, CPU: 30 * time.Second}
}

// probe runs a probe in a worker sandbox and returns what it printed.
func probe(t *testing.T, p *Process) string {
	t.Helper()
	w, err := p.start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.kill()
	w.stdin.Close()
	out, err := io.ReadAll(w.stdout)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestWorkerHasNoNetwork(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	// The control: the same probe outside the namespace reaches it, so
	// the probe itself works.
	open := testWorker("probe-net", addr)
	open.NoNetworkNamespace = true
	if got := probe(t, open); got != "connected" {
		t.Fatalf("without the network namespace the probe got %q, want connected", got)
	}
	if got := probe(t, testWorker("probe-net", addr)); !strings.HasPrefix(got, "dial failed") {
		t.Errorf("inside the worker's network namespace the probe got %q, want the dial to fail", got)
	}
}

func TestWorkerEnvironmentHasNoCredentials(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "ghs_secret")
	t.Setenv("KUBECONFIG", "/root/.kube/config")
	t.Setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
	var env []string
	if err := json.Unmarshal([]byte(probe(t, testWorker("probe-env"))), &env); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"GOMEMLIMIT=768MiB"}, env); diff != "" {
		t.Errorf("the worker's environment (-want +got):\n%s", diff)
	}
}

// TestWorkerOutputEqualsInProcess renders every app of the sample
// repositories in the worker and in process: the same objects, in the
// same order, with the same sources and the same errors.
func TestWorkerOutputEqualsInProcess(t *testing.T) {
	ctx := context.Background()
	for _, root := range []string{"../fixtures/repos/sample", "../fixtures/repos/sandbox/repo"} {
		repo, err := config.LoadRepo(root, &config.Server{DefaultCluster: "local", Clusters: []config.Cluster{{Name: "local"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(repo.Apps) == 0 {
			t.Fatalf("%s: no apps", root)
		}
		for _, app := range repo.Apps {
			t.Run(filepath.Base(filepath.Dir(root))+"/"+app.Name, func(t *testing.T) {
				var in render.Renderer
				wantObjs, wantSM, wantErr := in.Render(ctx, root, app)
				gotObjs, gotSM, gotErr := testWorker().Render(ctx, root, app)
				if fmt.Sprint(wantErr) != fmt.Sprint(gotErr) {
					t.Fatalf("errors differ: in process %v, worker %v", wantErr, gotErr)
				}
				if len(wantObjs) == 0 {
					t.Fatal("the app renders nothing: nothing compared")
				}
				if diff := cmp.Diff(wantObjs, gotObjs); diff != "" {
					t.Errorf("objects (-in process +worker):\n%s", diff)
				}
				if diff := cmp.Diff(wantSM, gotSM); diff != "" {
					t.Errorf("source map (-in process +worker):\n%s", diff)
				}
			})
		}
	}
}

// writeRepo writes files under a new checkout and returns its root.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestWorkerRenderErrorsKeepFileLineAndCause(t *testing.T) {
	root := writeRepo(t, map[string]string{"app/bad.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: [unclosed\n"})
	app := config.App{Name: "bad", Path: "app", Namespace: "default"}
	_, _, want := render.Render(context.Background(), root, app)
	_, _, got := testWorker().Render(context.Background(), root, app)
	if want == nil || fmt.Sprint(want) != fmt.Sprint(got) {
		t.Fatalf("worker error %v, want the in-process %v", got, want)
	}
	errs := render.AsErrors(got)
	if len(errs) != 1 || errs[0].File != "app/bad.yaml" || errs[0].Line == 0 || !errors.Is(got, render.ErrInvalid) {
		t.Errorf("worker error %+v: want one *render.Error on app/bad.yaml with a line, wrapping ErrInvalid", errs)
	}
}

// TestWorkerRefusesARemoteKustomization: a kustomization that would
// fetch a resource over the network is refused, and nothing is asked of
// the server it names.
func TestWorkerRefusesARemoteKustomization(t *testing.T) {
	asked := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked++ }))
	defer srv.Close()
	root := writeRepo(t, map[string]string{"app/kustomization.yaml": "resources:\n  - " + srv.URL + "/cm.yaml\n"})
	_, _, err := testWorker().Render(context.Background(), root, config.App{Name: "remote", Path: "app", Namespace: "default"})
	if !errors.Is(err, render.ErrRemote) || asked != 0 {
		t.Errorf("render: %v after %d requests, want ErrRemote and none", err, asked)
	}
}

const chartYAML = "apiVersion: v2\nname: runaway\nversion: 0.1.0\n"

func TestRunawayRenderHitsTheMemoryLimit(t *testing.T) {
	// Each pass doubles the string: 2^30 bytes, past 512 MiB.
	root := writeRepo(t, map[string]string{"chart/Chart.yaml": chartYAML,
		"chart/templates/cm.yaml": "{{- $s := \"xxxxxxxxxxxxxxxx\" }}{{- range until 26 }}{{- $s = printf \"%s%s\" $s $s }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  n: {{ len $s | quote }}\n"})
	p := testWorker()
	p.MemoryBytes = 512 << 20
	start := time.Now()
	_, _, err := p.Render(context.Background(), root, config.App{Name: "runaway", Path: "chart", Namespace: "default"})
	t.Logf("memory-limited render ended after %s: %v (measured, not asserted)", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "memory limit of 512 MiB") {
		t.Errorf("render: %v, want ErrLimit naming the memory limit", err)
	}
}

func TestRunawayRenderHitsTheCPULimit(t *testing.T) {
	root := writeRepo(t, map[string]string{"chart/Chart.yaml": chartYAML,
		"chart/templates/cm.yaml": "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\n"})
	p := testWorker()
	p.CPU = 2 * time.Second
	start := time.Now()
	_, _, err := p.Render(context.Background(), root, config.App{Name: "runaway", Path: "chart", Namespace: "default"})
	t.Logf("CPU-limited render ended after %s: %v (measured, not asserted)", time.Since(start).Round(time.Millisecond), err)
	if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "CPU limit of 2s") {
		t.Errorf("render: %v, want ErrLimit naming the CPU limit", err)
	}
}

// TestRunawayRenderIsKilledAtItsDeadline: unlike in process, where a
// render past its deadline is abandoned and keeps a CPU, the worker is
// killed: nothing of it runs on.
func TestRunawayRenderIsKilledAtItsDeadline(t *testing.T) {
	root := writeRepo(t, map[string]string{"chart/Chart.yaml": chartYAML,
		"chart/templates/cm.yaml": "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\n"})
	p := testWorker()
	p.Limits.Timeout = 2 * time.Second
	before := render.Abandoned()
	_, _, err := p.Render(context.Background(), root, config.App{Name: "runaway", Path: "chart", Namespace: "default"})
	if !errors.Is(err, render.ErrLimit) || !strings.Contains(err.Error(), "time limit of 2s") {
		t.Errorf("render: %v, want ErrLimit naming the time limit", err)
	}
	if render.Abandoned() != before {
		t.Error("a render was abandoned in this process: it ran here, not in the worker")
	}
	if left := workersRunning(t); len(left) > 0 {
		t.Errorf("workers still running after the deadline: %v", left)
	}
}

// workersRunning lists this test binary's children still alive.
func workersRunning(t *testing.T) []string {
	t.Helper()
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := fmt.Sprint(os.Getpid())
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == me && f[0] != "Z" {
			out = append(out, p)
		}
	}
	return slices.Clip(out)
}
