package policy

import (
	"cmp"
	"errors"
	"slices"
)

// Severity says what a finding does to the gantry/policy check.
type Severity string

// The severities.
const (
	// SeverityDeny fails the check: conftest deny/violation rules,
	// Gatekeeper constraints with enforcementAction deny.
	SeverityDeny Severity = "deny"
	// SeverityWarn is reported and keeps the check green: conftest warn
	// rules, Gatekeeper enforcementAction warn.
	SeverityWarn Severity = "warn"
	// SeverityDryRun is a Gatekeeper enforcementAction dryrun violation:
	// reported like a warning, so a team can try a constraint out.
	SeverityDryRun Severity = "dryrun"
	// SeverityExcepted is a rule's result let through by an exception
	// with a reason (rules named excepted, excepted_*): shown, with its
	// reason, so a reviewer sees what was waived; it keeps the check green.
	SeverityExcepted Severity = "excepted"
)

// Finding is one message of one policy about one object.
type Finding struct {
	// App is the app the object belongs to.
	App string `json:"app,omitempty"`
	// APIVersion, Kind, Namespace and Name identify the object.
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// File and Line are where the object comes from (the render source map).
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Set is the policy set's name.
	Set string `json:"set"`
	// Policy is the policy file(s) defining the rule, comma separated when
	// a package spreads one rule over several files.
	Policy string `json:"policy"`
	// Rule is the conftest rule (deny, warn_images, …) qualified by its
	// package unless it is main, or "Kind/name" of a Gatekeeper constraint.
	Rule string `json:"rule"`
	// Severity is deny, warn, dryrun or excepted.
	Severity Severity `json:"severity"`
	// Message is the policy's message.
	Message string `json:"message"`
	// Metadata holds the other fields of an object-shaped result
	// (conftest's metadata, Gatekeeper's details).
	Metadata map[string]any `json:"metadata,omitempty"`

	// order keeps findings in the caller's object order.
	order int
}

// Result is the outcome of evaluating a set of objects.
type Result struct {
	// Findings are sorted by object (in input order), set, policy, rule and
	// message.
	Findings []Finding `json:"findings"`
	// Errors are the evaluations that failed; each fails the check.
	Errors []*EvalError `json:"errors,omitempty"`
	// Exceptions counts the rule results skipped by conftest exception
	// rules.
	Exceptions int `json:"exceptions,omitempty"`
}

// Denies counts the findings with SeverityDeny.
func (r Result) Denies() int { return r.count(SeverityDeny) }

// Warnings counts the findings with SeverityWarn or SeverityDryRun.
func (r Result) Warnings() int { return r.count(SeverityWarn) + r.count(SeverityDryRun) }

// Excepted counts the findings with SeverityExcepted.
func (r Result) Excepted() int { return r.count(SeverityExcepted) }

func (r Result) count(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// Err joins the evaluation errors, nil when there are none.
func (r Result) Err() error {
	errs := make([]error, len(r.Errors))
	for i, e := range r.Errors {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// sortFindings orders findings deterministically.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.order, b.order),
			cmp.Compare(a.Set, b.Set),
			cmp.Compare(a.Policy, b.Policy),
			cmp.Compare(a.Rule, b.Rule),
			cmp.Compare(a.Message, b.Message),
		)
	})
}
