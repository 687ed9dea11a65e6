package policy

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText prints a Result for people: each finding with the object, its
// source line and the policy, then the errors, then a summary line.
func WriteText(w io.Writer, r Result) error {
	var b strings.Builder
	for _, f := range r.Findings {
		obj := f.Kind + " " + f.Name
		if f.Namespace != "" {
			obj = f.Kind + " " + f.Namespace + "/" + f.Name
		}
		where := []string{}
		if f.App != "" {
			where = append(where, f.App)
		}
		where = append(where, obj)
		if f.File != "" {
			loc := f.File
			if f.Line > 0 {
				loc = fmt.Sprintf("%s:%d", f.File, f.Line)
			}
			where = append(where, loc)
		}
		fmt.Fprintf(&b, "%-6s  %s\n        %s (policy %s, rule %s)\n", f.Severity, strings.Join(where, " · "), f.Message, f.Policy, f.Rule)
	}
	for _, e := range r.Errors {
		loc := ""
		if e.File != "" {
			loc = fmt.Sprintf(" (%s:%d)", e.File, e.Line)
		}
		fmt.Fprintf(&b, "error   %s%s\n", e.Error(), loc)
	}
	fmt.Fprintf(&b, "%s, %s, %s", plural(r.Denies(), "deny", "denies"), plural(r.Warnings(), "warning", "warnings"), plural(len(r.Errors), "error", "errors"))
	if r.Exceptions > 0 {
		fmt.Fprintf(&b, ", %s", plural(r.Exceptions, "exception", "exceptions"))
	}
	if n := r.Excepted(); n > 0 {
		fmt.Fprintf(&b, ", %d excepted", n)
	}
	b.WriteString("\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write findings: %w", err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// jsonReport is WriteJSON's document.
type jsonReport struct {
	Findings []Finding   `json:"findings"`
	Errors   []jsonError `json:"errors"`
	Summary  jsonSummary `json:"summary"`
}

type jsonError struct {
	*EvalError
	Message string `json:"message"`
}

type jsonSummary struct {
	Denies     int `json:"denies"`
	Warnings   int `json:"warnings"`
	Errors     int `json:"errors"`
	Exceptions int `json:"exceptions"`
	Excepted   int `json:"excepted"`
}

// WriteJSON prints a Result as one JSON document with findings, errors and
// a summary, for scripts.
func WriteJSON(w io.Writer, r Result) error {
	doc := jsonReport{
		Findings: r.Findings,
		Errors:   []jsonError{},
		Summary:  jsonSummary{Denies: r.Denies(), Warnings: r.Warnings(), Errors: len(r.Errors), Exceptions: r.Exceptions, Excepted: r.Excepted()},
	}
	if doc.Findings == nil {
		doc.Findings = []Finding{}
	}
	for _, e := range r.Errors {
		doc.Errors = append(doc.Errors, jsonError{EvalError: e, Message: e.Error()})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write findings: %w", err)
	}
	return nil
}
