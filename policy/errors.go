package policy

import (
	"fmt"
	"strings"
	"time"
)

// CompileError is a Rego parse or compile error at a place in a policy file,
// precise enough for the bot to annotate the line.
type CompileError struct {
	// Set is the name of the policy set.
	Set string `json:"set"`
	// File is the policy file as named by the set's Prefix.
	File string `json:"file"`
	// Line and Column are 1-based; 0 when unknown.
	Line   int `json:"line"`
	Column int `json:"column"`
	// Code is OPA's error code, e.g. rego_parse_error.
	Code string `json:"code"`
	// Message is OPA's message.
	Message string `json:"message"`
}

// Error returns "file:line:col: code: message".
func (e *CompileError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Code, e.Message)
}

// CompileErrors are all the compile errors of one load. Load wraps them, so
// callers find them with errors.As.
type CompileErrors []*CompileError

// Error lists every error on its own line.
func (es CompileErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Limit says which bound an evaluation exceeded.
type Limit string

// The bounds of an evaluation.
const (
	// LimitNone: the evaluation failed on its own (a builtin error, a
	// conflict between complete rule values, a malformed result).
	LimitNone Limit = ""
	// LimitTime: the evaluation ran past Options.Timeout.
	LimitTime Limit = "time"
	// LimitResults: the evaluation returned more than Options.MaxResults.
	LimitResults Limit = "results"
)

// EvalError is a policy that failed while evaluating one object. It fails
// the check: a policy that cannot decide must not pass silently.
type EvalError struct {
	// Set is the policy set's name.
	Set string `json:"set"`
	// Policy names the policy: a package and its file(s), or a Gatekeeper
	// constraint and its template's file.
	Policy string `json:"policy"`
	// Object is "Kind namespace/name" of the object being evaluated.
	Object string `json:"object"`
	// App, File and Line locate the object's source.
	App  string `json:"app,omitempty"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Limit is the bound exceeded, if any.
	Limit Limit `json:"limit,omitempty"`
	// Timeout is the bound that was exceeded when Limit is LimitTime.
	Timeout time.Duration `json:"-"`
	// Err is the underlying error.
	Err error `json:"-"`
}

// Error names the policy and the object.
func (e *EvalError) Error() string {
	switch e.Limit {
	case LimitTime:
		return fmt.Sprintf("policy %s: evaluation of %s exceeded %s", e.Policy, e.Object, e.Timeout)
	default:
		return fmt.Sprintf("policy %s: evaluate %s: %v", e.Policy, e.Object, e.Err)
	}
}

// Unwrap returns the underlying error.
func (e *EvalError) Unwrap() error { return e.Err }
