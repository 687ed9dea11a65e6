// Package renderworker runs renders of untrusted repository content in a
// separate process: `gantry render-worker`, started by the server for each
// render with an empty environment, a network namespace of its own and
// memory and CPU limits. The server writes one Request on the worker's
// stdin; the worker streams back one line of JSON per rendered object
// (with its source) and a last line with the render's errors.
//
// The worker is the render package run elsewhere: what a render accepts,
// refuses and reports is the same in both; only where it runs differs.
package renderworker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// Request is what the server asks of one worker: render App of the
// checkout at RepoRoot within Limits.
type Request struct {
	RepoRoot string        `json:"repoRoot"`
	App      config.App    `json:"app"`
	Limits   render.Limits `json:"limits"`
}

// line is one line of the worker's answer: an object and its source, or
// the last line (Done), with the render's errors.
type line struct {
	Object json.RawMessage `json:"object,omitempty"`
	Source *render.Source  `json:"source,omitempty"`
	Done   bool            `json:"done,omitempty"`
	Errors []wireError     `json:"errors,omitempty"`
}

// wireError is a *render.Error on the wire; Cause names its sentinel, so
// that errors.Is holds on the server's side as it does in process.
type wireError struct {
	App   string `json:"app"`
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	Msg   string `json:"msg"`
	Cause string `json:"cause,omitempty"`
}

// causes names the render package's sentinel errors on the wire.
var causes = map[string]error{
	"outside": render.ErrOutsideRepo, "remote": render.ErrRemote, "plugin": render.ErrPlugin,
	"limit": render.ErrLimit, "invalid": render.ErrInvalid,
}

func toWire(err error) []wireError {
	var out []wireError
	for _, e := range render.AsErrors(err) {
		w := wireError{App: e.App, File: e.File, Line: e.Line, Msg: e.Msg}
		for name, c := range causes {
			if errors.Is(e, c) {
				w.Cause = name
			}
		}
		out = append(out, w)
	}
	if err != nil && out == nil {
		out = append(out, wireError{Msg: err.Error()})
	}
	return out
}

func fromWire(app string, ws []wireError) error {
	var errs []error
	for _, w := range ws {
		if w.App == "" {
			w.App = app
		}
		errs = append(errs, &render.Error{App: w.App, File: w.File, Line: w.Line, Msg: w.Msg, Err: causes[w.Cause]})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// Run is `gantry render-worker FLAGS`: with --listen it is the sidecar
// (see Listen); else, with --memory-bytes or --cpu-seconds it caps
// itself and starts again under the caps (marked --limited), then serves
// one request from in to out. argv is the whole
// command line, for the restart.
func Run(ctx context.Context, argv, flags []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("render-worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	memory := fs.Uint64("memory-bytes", 0, "data memory cap (RLIMIT_DATA)")
	cpu := fs.Uint64("cpu-seconds", 0, "CPU time cap (RLIMIT_CPU)")
	limited := fs.Bool("limited", false, "the caps are set")
	listen := fs.String("listen", "", "serve renders on this unix socket, each in a worker of its own")
	if err := fs.Parse(flags); err != nil {
		return fmt.Errorf("render worker: %w", err)
	}
	if *listen != "" {
		p := &Process{Executable: "/proc/self/exe", MemoryBytes: *memory, CPU: time.Duration(*cpu) * time.Second}
		return Listen(ctx, *listen, p)
	}
	if !*limited && (*memory > 0 || *cpu > 0) {
		return enterLimits(*memory, *cpu, append(slices.Clip(argv), "--limited"))
	}
	return Serve(ctx, in, out)
}

// Serve is the worker: it reads one Request from in, renders in this
// process and writes the answer to out. Its error is about the exchange
// (a request that does not decode, an answer that cannot be written);
// the render's own errors travel in the answer.
func Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	var req Request
	if err := json.NewDecoder(io.LimitReader(in, 1<<20)).Decode(&req); err != nil {
		return fmt.Errorf("render worker: read request: %w", err)
	}
	r := render.Renderer{Limits: req.Limits}
	objs, sm, err := r.Render(ctx, req.RepoRoot, req.App)
	return writeAnswer(out, objs, sm, err)
}

// writeAnswer writes a render's answer: one line per object, then the
// last line with its errors.
func writeAnswer(out io.Writer, objs []*unstructured.Unstructured, sm render.SourceMap, rerr error) error {
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	for _, o := range objs {
		raw, err := o.MarshalJSON()
		if err != nil {
			return fmt.Errorf("render worker: encode %s: %w", render.KeyOf(o), err)
		}
		l := line{Object: raw}
		if s, ok := sm.Of(o); ok {
			l.Source = &s
		}
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("render worker: write object: %w", err)
		}
	}
	if err := enc.Encode(line{Done: true, Errors: toWire(rerr)}); err != nil {
		return fmt.Errorf("render worker: write result: %w", err)
	}
	return w.Flush()
}

// errTruncated is an answer that ended before its last line: the worker
// died (a limit, a crash) mid-answer.
var errTruncated = errors.New("render worker answer ended early")

// readAnswer reads a worker's answer for app, at most max bytes of it.
func readAnswer(app string, r io.Reader, max int64) ([]*unstructured.Unstructured, render.SourceMap, error) {
	dec := json.NewDecoder(io.LimitReader(r, max))
	var objs []*unstructured.Unstructured
	sm := render.SourceMap{}
	for {
		var l line
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, nil, errTruncated
			}
			return nil, nil, fmt.Errorf("render worker answer: %w", err)
		}
		if l.Done {
			if len(l.Errors) > 0 {
				return objs, sm, fromWire(app, l.Errors)
			}
			return objs, sm, nil
		}
		if l.Object == nil {
			return nil, nil, errors.New("render worker answer: a line with neither object nor result")
		}
		u := &unstructured.Unstructured{}
		// As the API machinery reads JSON: whole numbers as int64.
		if err := u.UnmarshalJSON(l.Object); err != nil {
			return nil, nil, fmt.Errorf("render worker answer: object: %w", err)
		}
		objs = append(objs, u)
		if l.Source != nil {
			sm[render.KeyOf(u)] = *l.Source
		}
	}
}
