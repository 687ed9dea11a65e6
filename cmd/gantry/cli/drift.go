package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/cluster"
)

func newDriftCmd() *cobra.Command {
	var rf repoFlags
	var cf clusterFlags
	var output string
	cmd := &cobra.Command{
		Use:   "drift [--repo D] [--app A] [--kubeconfig F] [--repository R] [-o text|json]",
		Short: "Check the live cluster for drift from the repository once (exit 0 none, 1 drift, 2 error)",
		Long: `Drift renders each app and compares the objects it manages (those in its
inventory) with the live cluster: a field the render sets whose live value
differs, or an object deleted out of band. Fields the render does not set
(an autoscaler's replicas, a webhook's injections, defaults, status) and the
app's ignore rules never count; an object annotated gantry.dev/drift=ignore
is not compared. Each drifted field names the field manager that holds it
now (kubectl-edit, kubectl with subresource scale, an operator) and when it
wrote. Secret values are never shown. Render the commit last applied (check
it out first): drift is measured against it. --repository names the
identity the inventories are kept under (default "local").`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := cluster.ParseFormat(output)
			if err != nil || format == cluster.FormatMarkdown {
				return exitWith(ExitError, fmt.Errorf("unknown output format %q (want text or json)", output))
			}
			rs, renderFailed, err := renderRepo(cmd, rf)
			if err != nil {
				return exitWith(ExitError, err)
			}
			c, err := cf.client()
			if err != nil {
				return exitWith(ExitError, err)
			}
			var sets []*cluster.DriftSet
			code := ExitOK
			for _, r := range rs {
				if r.err != nil {
					continue
				}
				set, err := c.Drift(cmd.Context(), r.app, r.objects, cluster.DriftOptions{Repository: cf.repository})
				if err != nil {
					return exitWith(ExitError, fmt.Errorf("drift of app %s: %w", r.app.Name, err))
				}
				sets = append(sets, set)
				switch {
				case set.HasErrors():
					code = ExitError
				case set.Drifted() && code == ExitOK:
					code = ExitFinding
				}
			}
			if err := cluster.WriteDrift(cmd.OutOrStdout(), format, sets); err != nil {
				return exitWith(ExitError, err)
			}
			if renderFailed {
				code = ExitError
			}
			if code != ExitOK {
				return exitWith(code, nil)
			}
			return nil
		},
	}
	rf.register(cmd)
	cf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
