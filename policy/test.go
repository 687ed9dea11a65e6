package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestOptions tune RunTests.
type TestOptions struct {
	// Timeout bounds each test. Default 5s.
	Timeout time.Duration
	// Run is a regular expression selecting tests by name, like opa test
	// --run. Default: all.
	Run string
	// Unevaluated, when set, is called with each policy file whose rules
	// never fire in an evaluation (see Engine.Unevaluated): its tests may
	// pass while the policy judges nothing.
	Unevaluated func(Unevaluated)
}

// TestOutcome is how a test ended.
type TestOutcome string

// The outcomes.
const (
	TestPass  TestOutcome = "pass"
	TestFail  TestOutcome = "fail"
	TestSkip  TestOutcome = "skip"
	TestError TestOutcome = "error"
)

// TestResult is one test_ rule's result.
type TestResult struct {
	Set      string        `json:"set"`
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	Outcome  TestOutcome   `json:"outcome"`
	Duration time.Duration `json:"durationNanos"`
	// Message is the error of a test that could not run.
	Message string `json:"message,omitempty"`
	// Output is what the test printed.
	Output string `json:"output,omitempty"`
}

// RunTests runs every set's test_ rules (usually in _test.rego files) like
// `opa test`, with the policies, data and trust restrictions of Load.
// Compile errors are CompileErrors.
func RunTests(ctx context.Context, sources []Source, opts TestOptions) ([]TestResult, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	var out []TestResult
	var errs CompileErrors
	for _, src := range sources {
		rs, err := runSetTests(ctx, src, opts)
		var ce CompileErrors
		if errors.As(err, &ce) {
			errs = append(errs, ce...)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("compile policy tests: %w", errs)
	}
	return out, nil
}

func runSetTests(ctx context.Context, src Source, opts TestOptions) ([]TestResult, error) {
	f, err := readSource(src)
	if err != nil {
		return nil, err
	}
	if opts.Unevaluated != nil {
		for _, u := range unevaluated(src, f.modules) {
			opts.Unevaluated(u)
		}
	}
	modules := maps.Clone(f.modules)
	maps.Copy(modules, f.tests)
	store, err := newStore(f.data)
	if err != nil {
		return nil, fmt.Errorf("load data of policy set %q: %w", src.Name, err)
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("test policy set %q: %w", src.Name, err)
	}
	defer store.Abort(ctx, txn)
	boundBuiltins(modules)
	var custom []*tester.Builtin
	decls := boundedDecls()
	for i, b := range boundedBuiltins() {
		custom = append(custom, &tester.Builtin{Decl: decls[b.name], Func: boundedFunctions()[i]})
	}
	runner := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithUnsafeBuiltins(UnsafeBuiltins(src.Trust)).WithBuiltins(decls).WithEnablePrintStatements(true)).
		AddCustomBuiltins(custom).
		SetStore(store).
		SetModules(modules).
		SetTimeout(opts.Timeout).
		CapturePrintOutput(true).
		Filter(opts.Run)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		var astErrs ast.Errors
		if errors.As(err, &astErrs) {
			return nil, compileErrors(src.Name, astErrs, nil)
		}
		return nil, fmt.Errorf("test policy set %q: %w", src.Name, err)
	}
	var out []TestResult
	for r := range ch {
		out = append(out, testResult(src.Name, r))
	}
	slices.SortFunc(out, func(a, b TestResult) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return out, nil
}

func testResult(set string, r *tester.Result) TestResult {
	tr := TestResult{
		Set:      set,
		Package:  strings.TrimPrefix(r.Package, "data."),
		Name:     r.Name,
		Duration: r.Duration,
		Output:   string(r.Output),
	}
	if r.Location != nil {
		tr.File, tr.Line = r.Location.File, r.Location.Row
	}
	switch {
	case r.Error != nil:
		tr.Outcome, tr.Message = TestError, r.Error.Error()
	case r.Skip:
		tr.Outcome = TestSkip
	case r.Fail:
		tr.Outcome = TestFail
	default:
		tr.Outcome = TestPass
	}
	return tr
}

// TestsPassed reports whether no test failed or errored.
func TestsPassed(rs []TestResult) bool {
	for _, r := range rs {
		if r.Outcome == TestFail || r.Outcome == TestError {
			return false
		}
	}
	return true
}

// WriteTestText prints test results like opa test: failures in full, then
// the counts.
func WriteTestText(w io.Writer, rs []TestResult) error {
	var b strings.Builder
	counts := map[TestOutcome]int{}
	for _, r := range rs {
		counts[r.Outcome]++
		fmt.Fprintf(&b, "%-5s  %s:%d  %s.%s (%s)\n", strings.ToUpper(string(r.Outcome)), r.File, r.Line, r.Package, r.Name, r.Duration.Round(time.Microsecond))
		if r.Message != "" {
			fmt.Fprintf(&b, "       %s\n", r.Message)
		}
		for l := range strings.SplitSeq(strings.TrimRight(r.Output, "\n"), "\n") {
			if l != "" {
				fmt.Fprintf(&b, "       | %s\n", l)
			}
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed, %d errors, %d skipped\n", counts[TestPass], counts[TestFail], counts[TestError], counts[TestSkip])
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write test results: %w", err)
	}
	return nil
}

// WriteTestJSON prints test results as a JSON array.
func WriteTestJSON(w io.Writer, rs []TestResult) error {
	if rs == nil {
		rs = []TestResult{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rs); err != nil {
		return fmt.Errorf("write test results: %w", err)
	}
	return nil
}
