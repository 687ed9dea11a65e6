package cli

import (
	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/cluster"
)

// repoFlags are the flags every repository-reading subcommand shares.
type repoFlags struct {
	repo string
	apps []string
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.repo, "repo", ".", "the GitOps repository's root directory")
	cmd.Flags().StringSliceVar(&f.apps, "app", nil, "only these apps (repeatable; default: every app)")
}

// clusterFlags select a cluster for the subcommands that talk to one.
// The repository identity is the one the cluster records inventories,
// locks and object ownership under; the bot uses the GitHub repository's
// owner/name, so a local run without --repository (identity
// cluster.LocalRepository) never touches what the bot applied, and the
// other way round.
type clusterFlags struct {
	kubeconfig string
	context    string
	repository string
}

func (f *clusterFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "context", "", "kubeconfig context (default: its current context)")
	cmd.Flags().StringVar(&f.repository, "repository", cluster.LocalRepository,
		"identity (owner/name) whose inventories and objects to use; the bot uses the GitHub repository's, the default \""+cluster.LocalRepository+"\" is a repository of its own")
}
