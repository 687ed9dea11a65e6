package renderworker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// Listen is the render worker as a sidecar: it serves renders on the
// unix socket at path until ctx ends, each request rendered by p in a
// worker process of its own (no network, empty environment, limits), and
// answers as a worker does. The sidecar holds no credentials: the server
// reaches it through a socket in a volume the two share.
func Listen(ctx context.Context, path string, p *Process) error {
	_ = os.Remove(path) // a socket left by an earlier sidecar
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("render worker: listen on %s: %w", path, err)
	}
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("render worker: accept on %s: %w", path, err)
		}
		go serveConn(ctx, c, p)
	}
}

// serveConn renders one request read from c and writes its answer.
func serveConn(ctx context.Context, c net.Conn, p *Process) {
	defer c.Close()
	var req Request
	if err := json.NewDecoder(io.LimitReader(c, 1<<20)).Decode(&req); err != nil {
		return
	}
	w := *p
	w.Limits = req.Limits
	objs, sm, err := w.Render(ctx, req.RepoRoot, req.App)
	_ = writeAnswer(c, objs, sm, err)
}

// Socket renders apps through a sidecar's socket (see Listen).
type Socket struct {
	// Path is the sidecar's unix socket.
	Path string
	// Limits bound each render; the sidecar kills its worker at Timeout.
	Limits render.Limits
}

// Render renders app of the checkout at repoRoot (a path the sidecar
// sees too) in the sidecar, as render.Renderer.Render does in process.
func (s *Socket) Render(ctx context.Context, repoRoot string, app config.App) ([]*unstructured.Unstructured, render.SourceMap, error) {
	p := Process{Limits: s.Limits}
	lim := p.limits()
	// A little past the sidecar's own deadline, which it reports itself.
	ctx, cancel := context.WithTimeout(ctx, lim.Timeout+5*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", s.Path)
	if err != nil {
		return nil, nil, &render.Error{App: app.Name, Msg: fmt.Sprintf("render worker sidecar at %s: %v", s.Path, err), Err: err}
	}
	defer c.Close()
	go func() { <-ctx.Done(); c.Close() }()
	if err := json.NewEncoder(c).Encode(Request{RepoRoot: repoRoot, App: app, Limits: lim}); err != nil {
		return nil, nil, &render.Error{App: app.Name, Msg: fmt.Sprintf("render worker sidecar at %s: send request: %v", s.Path, err), Err: err}
	}
	objs, sm, err := readAnswer(app.Name, c, 2*lim.MaxAppBytes+1<<20)
	if errors.Is(err, errTruncated) || err != nil && render.AsErrors(err) == nil {
		if ctx.Err() != nil {
			return nil, nil, &render.Error{App: app.Name, Msg: fmt.Sprintf("render worker sidecar gave no answer within %s", lim.Timeout), Err: fmt.Errorf("%w: %w", render.ErrLimit, ctx.Err())}
		}
		return nil, nil, &render.Error{App: app.Name, Msg: fmt.Sprintf("render worker sidecar at %s ended without an answer", s.Path), Err: err}
	}
	return objs, sm, err
}
