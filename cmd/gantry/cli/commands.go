package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/sopsdecrypt"
)

// repoFlags are the flags every repository-reading subcommand shares.
type repoFlags struct {
	repo string
	apps []string
	// ageKeyFile decrypts the repository's SOPS-encrypted Secrets.
	ageKeyFile string
}

func (f *repoFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.repo, "repo", ".", "the GitOps repository's root directory")
	cmd.Flags().StringSliceVar(&f.apps, "app", nil, "only these apps (repeatable; default: every app)")
	cmd.Flags().StringVar(&f.ageKeyFile, "age-key-file", "", "age identities that decrypt SOPS-encrypted Secrets (default: $SOPS_AGE_KEY_FILE)")
}

// sopsKeys reads the age key file --age-key-file or $SOPS_AGE_KEY_FILE
// names; nil when neither does.
func (f *repoFlags) sopsKeys() (*sopsdecrypt.Keys, error) {
	file := f.ageKeyFile
	if file == "" {
		file = os.Getenv("SOPS_AGE_KEY_FILE")
	}
	if file == "" {
		return nil, nil
	}
	return sopsdecrypt.LoadKeyFile(file)
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
