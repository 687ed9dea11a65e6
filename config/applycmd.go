package config

import "fmt"

// The requirements `/gantry apply` can check on a pull request.
const (
	// RequireApproved: at least one approving review and no changes
	// requested by the latest review of anyone.
	RequireApproved = "approved"
	// RequireChecks: every check run and commit status on the head is
	// green, gantry's own gantry/apply excluded (it cannot deadlock).
	RequireChecks = "checks"
	// RequireMergeable: GitHub says the pull request merges cleanly.
	RequireMergeable = "mergeable"
	// RequireUpToDate: the head contains the base branch's head.
	RequireUpToDate = "up-to-date"
)

// ApplyRequirements lists the requirements, in the order they are checked.
var ApplyRequirements = []string{RequireApproved, RequireChecks, RequireMergeable, RequireUpToDate}

// ApplyCommand says what `/gantry apply` requires of a pull request before
// it applies the head of apps with apply: on-command, and what follows.
type ApplyCommand struct {
	// Requirements that must all hold. Default: all of
	// ApplyRequirements. [] (explicitly empty) requires nothing.
	Requirements []string `yaml:"requirements"`
	// Merge merges the pull request once every app applied healthy.
	// Default: false (the author merges).
	Merge bool `yaml:"merge"`
	// MergeMethod is merge, squash or rebase. Default: merge.
	MergeMethod string `yaml:"mergeMethod"`
}

// OnFailure says what an app does when its apply fails or is unhealthy.
type OnFailure string

// The failure responses.
const (
	// OnFailureRevertPR opens a revert pull request (the default).
	OnFailureRevertPR OnFailure = "revert-pr"
	// OnFailureRollback also applies the last healthy state at once; the
	// revert pull request then brings Git in line with the cluster.
	OnFailureRollback OnFailure = "rollback"
)

var (
	mergeMethods   = []string{"merge", "squash", "rebase"}
	onFailureModes = []string{string(OnFailureRevertPR), string(OnFailureRollback)}
)

func validateApplyCommand(d *decoder, s *Server) {
	for i, r := range s.ApplyCommand.Requirements {
		oneOf(d, fmt.Sprintf("applyCommand.requirements[%d]", i), r, ApplyRequirements)
	}
	oneOf(d, "applyCommand.mergeMethod", s.ApplyCommand.MergeMethod, mergeMethods)
}

// defaultApplyCommand keeps an explicit empty requirements list apart
// from none given.
func (s *Server) defaultApplyCommand(d *decoder) {
	if s.ApplyCommand.Requirements == nil && d.has("applyCommand.requirements") {
		s.ApplyCommand.Requirements = []string{}
	}
	if s.ApplyCommand.MergeMethod == "" {
		s.ApplyCommand.MergeMethod = "merge"
	}
}

// Required is the requirements that hold: the configured ones, or all of
// ApplyRequirements when none were configured.
func (a ApplyCommand) Required() []string {
	if a.Requirements == nil {
		return ApplyRequirements
	}
	return a.Requirements
}
