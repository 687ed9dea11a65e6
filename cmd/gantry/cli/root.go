// Package cli holds gantry's subcommands: flag parsing and wiring of the
// stages (render, policy, cluster, bot). Behaviour lives in those
// packages; this package only connects them to flags, files and exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Exit codes shared by the subcommands.
const (
	ExitOK      = 0 // success, or nothing to report
	ExitFinding = 1 // changes, denies or drift found; or a render error
	ExitError   = 2 // the command could not do its job
	// ExitNotBuilt is returned by a subcommand whose capability is not
	// built yet, so that no script mistakes it for success.
	ExitNotBuilt = 3
)

// exitError carries a subcommand's exit code through cobra.
type exitError struct {
	code int
	err  error // nil when the command printed its own report
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitWith makes a command end with code, printing err when it is not nil.
func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

// Run executes gantry with args and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "gantry: %v\n", ee.err)
		}
		return ee.code
	}
	// Flag and argument errors: cobra has not printed them.
	fmt.Fprintf(stderr, "gantry: %v\nRun 'gantry --help' for usage.\n", err)
	return ExitError
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "gantry",
		Short: "Operations by pull request on Kubernetes",
		Long: `gantry renders the manifests of a GitOps repository, shows what a change
will do to the live cluster, judges it with Rego policies, applies it on
merge, and turns drift into pull requests. The subcommands run each stage by
hand; 'gantry serve' runs the GitHub App.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		newServeCmd(),
		newSandboxCmd(),
		newRenderCmd(),
		newPolicyCmd(),
		newDiffCmd(),
		newApplyCmd(),
		newDriftCmd(),
		newAppManifestCmd(),
		newVersionCmd(),
		newRenderWorkerCmd(),
	)
	documentExitCodes(root)
	return root
}

// notBuilt is the behaviour of a subcommand whose capability has not been
// built yet: it says so and exits non-zero, never a silent no-op.
func notBuilt(what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		return exitWith(ExitNotBuilt, fmt.Errorf("%s: not built yet in this version of gantry", what))
	}
}
