package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/schema"
)

func (f *clusterFlags) client() (*cluster.Client, error) {
	cfg, err := cluster.RESTConfig(f.kubeconfig, f.context)
	if err != nil {
		return nil, err
	}
	return cluster.NewClient(cfg, cluster.DefaultClientOptions())
}

func newDiffCmd() *cobra.Command {
	var rf repoFlags
	var cf clusterFlags
	var output, kubeVersion string
	var offline bool
	cmd := &cobra.Command{
		Use:   "diff [--repo D] [--app A] [--kubeconfig F] [--offline [--kube-version V]] [-o text|markdown|json]",
		Short: "Show what applying the repository would change in the live cluster (exit 0 none, 1 changes, 2 error)",
		Long: `Diff renders each app and compares it with the live cluster through a
server-side apply dry-run (field manager gantry): exactly what apply would
do. Objects in the app's inventory that are no longer rendered show as
deletions. Secret values are never shown, nor compared: a Secret whose values
alone change shows as unchanged. Objects another app or repository owns (by
their gantry.dev/app and gantry.dev/repository marks) show as conflicts,
without their content. --repository names the identity the cluster's
records are kept under (default "local", a repository of its own).

--offline contacts no cluster: each object is validated against the
Kubernetes OpenAPI schema shipped in gantry (the version nearest
--kube-version) and custom objects against the CustomResourceDefinitions the
apps render, with the field paths the API server would print. It lists the
objects no schema covers and what only the API server checks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := cluster.ParseFormat(output)
			if err != nil {
				return exitWith(ExitError, err)
			}
			rs, renderFailed, err := renderRepo(cmd, rf)
			if err != nil {
				return exitWith(ExitError, err)
			}
			if offline {
				failed, err := diffOffline(cmd.Context(), cmd.OutOrStdout(), rs, kubeVersion, format == cluster.FormatJSON)
				switch {
				case err != nil || renderFailed:
					return exitWith(ExitError, err)
				case failed:
					return exitWith(ExitFinding, nil)
				}
				return nil
			}
			c, err := cf.client()
			if err != nil {
				return exitWith(ExitError, err)
			}
			var sets []*cluster.DiffSet
			code := ExitOK
			for _, r := range rs {
				if r.err != nil {
					continue
				}
				set, err := c.Diff(cmd.Context(), r.app, r.objects, cluster.DefaultDiffOptions(cf.repository))
				if err != nil {
					return exitWith(ExitError, fmt.Errorf("diff app %s: %w", r.app.Name, err))
				}
				set.SetSources(r.sourceOf)
				sets = append(sets, set)
				switch {
				case set.HasErrors() || set.Error != "":
					code = ExitError
				case set.HasChanges() && code == ExitOK:
					code = ExitFinding
				}
			}
			if err := cluster.WriteDiff(cmd.OutOrStdout(), format, sets); err != nil {
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
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, markdown or json")
	cmd.Flags().BoolVar(&offline, "offline", false, "validate against the shipped Kubernetes schemas instead of diffing against a cluster")
	cmd.Flags().StringVar(&kubeVersion, "kube-version", "", "with --offline: the target Kubernetes version (default: the newest shipped, "+strings.Join(schema.Shipped(), ", ")+")")
	return cmd
}

func newApplyCmd() *cobra.Command {
	var rf repoFlags
	var cf clusterFlags
	var output string
	var prune, wait bool
	cmd := &cobra.Command{
		Use:   "apply [--repo D] [--app A] [--kubeconfig F] [--prune] [--wait]",
		Short: "Apply the repository's apps with server-side apply (exit 0 applied, 1 failed or unhealthy, 2 error)",
		Long: `Apply renders each app and applies it with server-side apply (field
manager gantry) in stages: CRDs, then Namespaces, waited for, then the
rest. The app's inventory in the cluster records what it owns. With
--prune, objects that left the desired state are deleted (for apps whose
.gantry.yaml allows prune, and never after an empty render unless the app
says allowEmpty). With --wait, apply waits for the objects to be healthy, as long as the
app's healthTimeout says, printing progress to stderr.
Every object is labelled with the app and --repository (default "local");
an object another app or repository owns fails and is left as it is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := cluster.ParseFormat(output)
			if err != nil {
				return exitWith(ExitError, err)
			}
			rs, renderFailed, err := renderRepo(cmd, rf)
			switch {
			case err != nil:
				return exitWith(ExitError, err)
			case renderFailed:
				return exitWith(ExitError, errors.New("nothing applied: fix the render errors first"))
			}
			c, err := cf.client()
			if err != nil {
				return exitWith(ExitError, err)
			}
			opts := cluster.DefaultApplyOptions(cf.repository)
			opts.Prune, opts.Wait = prune, wait
			var sets []*cluster.ChangeSet
			code := ExitOK
			var firstErr error
			for _, r := range rs {
				opts := opts
				opts.Health.Progress = func(p cluster.WaitProgress) {
					_ = cluster.WriteWaitProgress(cmd.ErrOrStderr(), r.app.Name, p)
				}
				set, _, err := c.ApplyAndRecord(cmd.Context(), r.app, r.objects, opts, cluster.Origin{Cluster: cf.context, Trigger: cluster.TriggerCLI, By: os.Getenv("USER")})
				if set != nil {
					set.SetSources(r.sourceOf)
					sets = append(sets, set)
					if set.Health != nil && !set.Health.Healthy {
						code = max(code, ExitFinding)
					}
				}
				switch {
				case errors.Is(err, cluster.ErrApplyFailed):
					code = max(code, ExitFinding)
				case err != nil:
					code = ExitError
					if firstErr == nil {
						firstErr = fmt.Errorf("apply app %s: %w", r.app.Name, err)
					}
				}
			}
			if err := cluster.WriteApply(cmd.OutOrStdout(), format, sets); err != nil {
				return exitWith(ExitError, err)
			}
			if code != ExitOK {
				return exitWith(code, firstErr)
			}
			return nil
		},
	}
	rf.register(cmd)
	cf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text, markdown or json")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete objects that left the desired state")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the applied objects to become healthy, up to the app's healthTimeout")
	return cmd
}
