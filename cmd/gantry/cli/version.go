package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/config"
)

// Version and Commit are set at link time by the Makefile.
var (
	Version = "dev"
	Commit  = "unknown"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gantry's version, commit and Kubernetes library version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "gantry %s\ncommit %s\nkubernetes %s\ngo %s\n",
				Version, Commit, config.KubeLibraryVersion(), runtime.Version())
			return nil
		},
	}
}
