package renderworker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// Process renders each app in a worker process of its own: Executable
// run with Args, an environment of GOMEMLIMIT alone, a new network
// namespace (nothing but a loopback that is down), its memory and CPU
// time capped (RLIMIT_DATA, RLIMIT_CPU, set before it reads anything to
// render), and killed at the render's deadline. A
// render past a limit fails with a *render.Error wrapping
// render.ErrLimit that names the limit.
type Process struct {
	// Executable is the gantry binary (os.Executable()).
	Executable string
	// Args are its arguments. Default: ["render-worker"].
	Args []string
	// Limits bound each render as in process.
	Limits render.Limits
	// MemoryBytes caps the worker's data memory (RLIMIT_DATA: its heap
	// and other writable mappings). Default: 1 GiB.
	MemoryBytes uint64
	// CPU caps the worker's CPU time, whole seconds. Default: 60s.
	CPU time.Duration
	// NoNetworkNamespace leaves the worker in the server's network
	// namespace; only for tests that show what the namespace prevents.
	NoNetworkNamespace bool
}

// Render renders app of the checkout at repoRoot in a new worker, as
// render.Renderer.Render does in process.
func (p *Process) Render(ctx context.Context, repoRoot string, app config.App) ([]*unstructured.Unstructured, render.SourceMap, error) {
	lim := p.limits()
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout)
	defer cancel()
	// The worker starts in "/": the checkout is named absolutely.
	if abs, err := filepath.Abs(repoRoot); err == nil {
		repoRoot = abs
	}
	w, err := p.start(ctx)
	if err != nil {
		return nil, nil, &render.Error{App: app.Name, Msg: err.Error(), Err: err}
	}
	defer w.kill()
	req, err := json.Marshal(Request{RepoRoot: repoRoot, App: app, Limits: lim})
	if err != nil {
		return nil, nil, &render.Error{App: app.Name, Msg: "encode render request: " + err.Error(), Err: err}
	}
	go func() {
		_, _ = w.stdin.Write(req)
		_ = w.stdin.Close()
	}()
	// The answer holds at most the app's bytes, as JSON.
	objs, sm, rerr := readAnswer(app.Name, w.stdout, 2*lim.MaxAppBytes+1<<20)
	if rerr == nil || !errors.Is(rerr, errTruncated) && render.AsErrors(rerr) != nil {
		w.kill()
		return objs, sm, rerr
	}
	// No whole answer: how the worker ended says why.
	state := w.wait()
	return nil, nil, p.failure(ctx, app.Name, lim, state, w.stderr.String(), rerr)
}

// failure explains a worker that gave no whole answer.
func (p *Process) failure(ctx context.Context, app string, lim render.Limits, state *exitState, stderr string, cause error) error {
	limit := func(msg string) error {
		return &render.Error{App: app, Msg: msg, Err: fmt.Errorf("%w: %s", render.ErrLimit, msg)}
	}
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return limit(fmt.Sprintf("render worker stopped at its time limit of %s", lim.Timeout))
	case ctx.Err() != nil:
		return &render.Error{App: app, Msg: "render worker stopped: " + ctx.Err().Error(), Err: ctx.Err()}
	case strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory") || strings.Contains(stderr, "failed to reserve"):
		return limit(fmt.Sprintf("render worker exceeded its memory limit of %d MiB", p.memory()>>20))
	case state != nil && state.signal == syscall.SIGKILL || state != nil && state.signal == syscall.SIGXCPU:
		// Only the kernel kills it unasked: at its CPU limit.
		return limit(fmt.Sprintf("render worker exceeded its CPU limit of %s", p.cpu()))
	}
	msg := "render worker ended without an answer"
	if state != nil {
		msg += fmt.Sprintf(" (%s)", state)
	}
	if first, _, _ := strings.Cut(strings.TrimSpace(stderr), "\n"); first != "" {
		msg += ": " + first
	}
	return &render.Error{App: app, Msg: msg, Err: cause}
}

func (p *Process) limits() render.Limits {
	lim := p.Limits
	d := render.DefaultLimits()
	if lim.Timeout <= 0 {
		lim.Timeout = d.Timeout
	}
	if lim.MaxAppBytes <= 0 {
		lim.MaxAppBytes = d.MaxAppBytes
	}
	return lim
}

func (p *Process) memory() uint64 {
	if p.MemoryBytes == 0 {
		return uint64(config.DefaultWorkerMemoryMiB) << 20
	}
	return p.MemoryBytes
}

func (p *Process) cpu() time.Duration {
	if p.CPU <= 0 {
		return config.DefaultWorkerCPU
	}
	return p.CPU.Round(time.Second)
}

// worker is one started worker process.
type worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.Reader
	stderr *capped
	once   sync.Once
	state  *exitState
}

// exitState is how a worker ended.
type exitState struct {
	code   int
	signal syscall.Signal
}

func (s *exitState) String() string {
	if s.signal != 0 {
		return "killed by " + s.signal.String()
	}
	return fmt.Sprintf("exit status %d", s.code)
}

// wait reaps the worker once and says how it ended.
func (w *worker) wait() *exitState {
	w.once.Do(func() {
		err := w.cmd.Wait()
		w.state = &exitState{}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				w.state.signal = ws.Signal()
			}
			w.state.code = ee.ExitCode()
		}
	})
	return w.state
}

// kill ends the worker if it still runs, and reaps it.
func (w *worker) kill() {
	if w.cmd.Process != nil {
		_ = w.cmd.Process.Kill()
	}
	w.wait()
}

// capped keeps the first 8 KiB written to it: a worker's stderr, for the
// cause of a crash.
type capped struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capped) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := 8<<10 - c.buf.Len(); room > 0 {
		c.buf.Write(b[:min(len(b), room)])
	}
	return len(b), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
