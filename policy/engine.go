package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
)

// Engine holds compiled policy sets with their queries prepared. It is
// built once per policy load and is safe for concurrent use.
type Engine struct {
	opts Options
	sets []*compiledSet
}

// compiledSet is one Source, compiled apart from the others so that no set
// can override another's rules or exceptions.
type compiledSet struct {
	src         Source
	packages    []*pkgQuery
	templates   map[string]*template
	constraints []*constraint
	unevaluated []Unevaluated
}

// Load reads, compiles and prepares the policy sets with DefaultOptions.
func Load(ctx context.Context, sources []Source) (*Engine, error) {
	return LoadWithOptions(ctx, sources, DefaultOptions())
}

// LoadWithOptions reads, compiles and prepares the policy sets. Rego errors
// are returned as CompileErrors (find them with errors.As) naming the file,
// line and column.
func LoadWithOptions(ctx context.Context, sources []Source, opts Options) (*Engine, error) {
	e := &Engine{opts: opts.withDefaults()}
	var errs CompileErrors
	for _, src := range sources {
		s, err := loadSet(ctx, src)
		var ce CompileErrors
		if errors.As(err, &ce) {
			errs = append(errs, ce...)
			continue
		}
		if err != nil {
			return nil, err
		}
		e.sets = append(e.sets, s)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("compile policies: %w", errs)
	}
	return e, nil
}

func loadSet(ctx context.Context, src Source) (*compiledSet, error) {
	f, err := readSource(src)
	if err != nil {
		return nil, err
	}
	c, err := compileModules(src, f.modules, nil)
	if err != nil {
		return nil, err
	}
	store, err := newStore(f.data)
	if err != nil {
		return nil, fmt.Errorf("load data of policy set %q: %w", src.Name, err)
	}
	s := &compiledSet{src: src, unevaluated: unevaluated(src, f.modules)}
	if s.packages, err = packageQueries(ctx, src, c, store); err != nil {
		return nil, fmt.Errorf("load policy set %q: %w", src.Name, err)
	}
	if s.templates, s.constraints, err = compileGatekeeper(ctx, src, f); err != nil {
		return nil, err
	}
	return s, nil
}

// Unevaluated returns the policy files whose conftest rules never fire
// because their package is not among their set's namespaces, in set and
// file order. They do not fail a load; callers show them as warnings.
func (e *Engine) Unevaluated() []Unevaluated {
	var out []Unevaluated
	for _, s := range e.sets {
		out = append(out, s.unevaluated...)
	}
	return out
}

// compileModules compiles a set's modules with its trust's restrictions.
func compileModules(src Source, modules map[string]*ast.Module, where map[string]regoPlace) (*ast.Compiler, error) {
	boundBuiltins(modules)
	c := ast.NewCompiler().WithUnsafeBuiltins(UnsafeBuiltins(src.Trust)).WithBuiltins(boundedDecls())
	if c.Compile(modules); c.Failed() {
		return nil, fmt.Errorf("compile policy set %q: %w", src.Name, compileErrors(src.Name, c.Errors, where))
	}
	return c, nil
}

func newStore(data map[string]any) (storage.Store, error) {
	var doc any = data
	if err := util.RoundTrip(&doc); err != nil {
		return nil, err
	}
	m, _ := doc.(map[string]any)
	return inmem.NewFromObject(m), nil
}

// Evaluate judges every object with every policy set. Repository sets see
// Secrets with their values masked, and every message and error is
// scrubbed of Secret values (see SecretMask). Evaluation errors do not
// stop the others: they are in Result.Errors and joined in the returned
// error; the error is also non-nil when ctx ends.
func (e *Engine) Evaluate(ctx context.Context, in Input) (Result, error) {
	in = sealDecrypted(in)
	masked, hasSecrets := maskedInput(in)
	views := [2]*view{{in: in}, {in: masked}}
	if !hasSecrets {
		views[1] = views[0]
	}
	for _, v := range views {
		if v.prepared != nil {
			continue
		}
		v.prepared = make([]preparedObject, len(v.in.Objects))
		for i, o := range v.in.Objects {
			p, err := prepareObject(o)
			if err != nil {
				return Result{}, fmt.Errorf("evaluate policies: object %d (%s:%d): %w", i, o.File, o.Line, err)
			}
			v.prepared[i] = p
		}
		if e.hasConstraints() {
			var err error
			if v.world, err = buildWorld(v.in, e.needsInventory()); err != nil {
				return Result{}, fmt.Errorf("evaluate policies: %w", err)
			}
		}
	}
	pr := prValue(in.PR)

	type outcome struct {
		findings   []Finding
		errs       []*EvalError
		exceptions int
	}
	outs := make([]outcome, len(in.Objects))
	e.parallel(len(in.Objects), func(i int) {
		if ctx.Err() != nil {
			return
		}
		o := &outs[i]
		obj := in.Objects[i]
		for _, s := range e.sets {
			v := views[0]
			if s.src.Trust == Repository {
				v = views[1]
			}
			fs, errs, n := e.evalSet(ctx, s, v.in.Objects[i], v.prepared[i], pr, v.world)
			o.findings = append(o.findings, fs...)
			o.errs = append(o.errs, errs...)
			o.exceptions += n
		}
		for j := range o.findings {
			f := &o.findings[j]
			f.order = i
			f.App, f.File, f.Line = obj.App, obj.File, obj.Line
			if obj.Obj != nil {
				f.APIVersion, f.Kind, f.Namespace, f.Name = obj.Obj.GetAPIVersion(), obj.Obj.GetKind(), obj.Obj.GetNamespace(), obj.Obj.GetName()
			}
		}
	})
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("evaluate policies: %w", err)
	}
	var r Result
	for _, o := range outs {
		r.Findings = append(r.Findings, o.findings...)
		r.Errors = append(r.Errors, o.errs...)
		r.Exceptions += o.exceptions
	}
	if hasSecrets {
		sc := scrubber{values: secretValues(in)}
		for i := range r.Findings {
			sc.finding(&r.Findings[i])
		}
		for _, e := range r.Errors {
			sc.evalError(e)
		}
	}
	sortFindings(r.Findings)
	return r, r.Err()
}

// view is the input as one kind of policy set sees it: whole for trusted
// sets, with Secrets masked for repository sets.
type view struct {
	in       Input
	prepared []preparedObject
	world    *world
}

// preparedObject holds an object's values converted once for every query.
type preparedObject struct {
	obj, live ast.Value
}

func prepareObject(o Object) (preparedObject, error) {
	if o.Obj == nil || o.Obj.Object == nil {
		return preparedObject{}, errors.New("object without content")
	}
	return preparedObject{obj: lazyValue(o.Obj), live: lazyValue(o.Live)}, nil
}

// evalSet runs one set's packages and constraints on one object.
func (e *Engine) evalSet(ctx context.Context, s *compiledSet, o Object, p preparedObject, pr ast.Value, w *world) ([]Finding, []*EvalError, int) {
	var findings []Finding
	var errs []*EvalError
	exceptions := 0
	var nativeInput ast.Value
	for _, q := range s.packages {
		input := p.obj
		if q.native {
			if nativeInput == nil {
				nativeInput = gantryInput(o, p.obj, p.live, pr)
			}
			input = nativeInput
		} else if o.action() == ActionDelete {
			// conftest judges files; an object leaving them is not judged.
			continue
		}
		fs, n, err := e.bounded(ctx, func(ctx context.Context) ([]Finding, int, error) {
			return q.evalPackage(ctx, input, w, e.opts)
		})
		if err != nil {
			errs = append(errs, e.evalError(s, q.label(), o, err))
			continue
		}
		for i := range fs {
			fs[i].Set = s.src.Name
		}
		findings = append(findings, fs...)
		exceptions += n
	}
	for _, c := range s.constraints {
		if !c.applies(o, w) {
			continue
		}
		fs, _, err := e.bounded(ctx, func(ctx context.Context) ([]Finding, int, error) {
			fs, err := c.eval(ctx, o, p, w, e.opts)
			return fs, 0, err
		})
		if err != nil {
			errs = append(errs, e.evalError(s, c.label(), o, err))
			continue
		}
		for i := range fs {
			fs[i].Set = s.src.Name
		}
		findings = append(findings, fs...)
	}
	return findings, errs, exceptions
}

// bounded runs one evaluation under the time bound and tells a timeout
// apart from the caller's cancellation.
func (e *Engine) bounded(ctx context.Context, f func(context.Context) ([]Finding, int, error)) ([]Finding, int, error) {
	tctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	fs, n, err := f(tctx)
	if err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return nil, 0, &timeoutError{err: err}
	}
	return fs, n, err
}

// timeoutError is an evaluation cut off by Options.Timeout.
type timeoutError struct{ err error }

// Error wraps OPA's cancellation message.
func (e *timeoutError) Error() string { return "timeout: " + e.err.Error() }

// Unwrap returns OPA's error.
func (e *timeoutError) Unwrap() error { return e.err }

func (e *Engine) evalError(s *compiledSet, policy string, o Object, err error) *EvalError {
	ee := &EvalError{
		Set:    s.src.Name,
		Policy: policy,
		Object: describe(o.Obj),
		App:    o.App,
		File:   o.File,
		Line:   o.Line,
		Err:    err,
	}
	var te *timeoutError
	var le *limitError
	switch {
	case errors.As(err, &te):
		ee.Limit, ee.Timeout = LimitTime, e.opts.Timeout
	case errors.As(err, &le):
		ee.Limit = LimitResults
	}
	return ee
}

// hasConstraints reports whether any evaluation needs the world: a
// Gatekeeper constraint, or a package that reads the inventory.
func (e *Engine) hasConstraints() bool {
	for _, s := range e.sets {
		if len(s.constraints) > 0 {
			return true
		}
	}
	return e.needsInventory()
}

// needsInventory reports whether a template or a package reads
// data.inventory.
func (e *Engine) needsInventory() bool {
	for _, s := range e.sets {
		for _, t := range s.templates {
			if t.usesInventory {
				return true
			}
		}
		for _, q := range s.packages {
			if q.usesInventory {
				return true
			}
		}
	}
	return false
}

// parallel calls f for 0..n-1 on at most Options.Parallelism goroutines.
func (e *Engine) parallel(n int, f func(int)) {
	workers := min(e.opts.Parallelism, n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
