package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/renderworker"
)

// newRenderWorkerCmd is the worker `gantry serve` starts for each render
// with render.isolation: process. Hidden: people never run it by hand.
func newRenderWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "render-worker",
		Short:  "Render one app from a request on stdin, the answer on stdout (started by gantry serve)",
		Hidden: true,
		// Its flags (limits) are the worker's own: see renderworker.Run.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := renderworker.Run(cmd.Context(), os.Args, args, cmd.InOrStdin(), cmd.OutOrStdout()); err != nil {
				return exitWith(ExitError, err)
			}
			return nil
		},
	}
}
