package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/appmanifest"
)

// newAppManifestCmd prints the GitHub App manifest with the permissions
// and events gantry needs, for GitHub's "create an App from a manifest"
// flow.
func newAppManifestCmd() *cobra.Command {
	var o appmanifest.Options
	cmd := &cobra.Command{
		Use:   "app-manifest [--url U] [--webhook-url W] [--name N]",
		Short: "Print the GitHub App manifest with exactly the permissions and events gantry needs",
		Long: `app-manifest prints a GitHub App manifest (JSON) for GitHub's App-creation
flow: POST it as the "manifest" field of a form to
https://github.com/settings/apps/new (or /organizations/ORG/settings/apps/new).
The webhook URL is gantry's /webhooks endpoint as GitHub reaches it; without
--webhook-url it is --url followed by /webhooks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.WebhookURL == "" {
				if !cmd.Flags().Changed("url") {
					return exitWith(ExitError, fmt.Errorf("missing --webhook-url: where GitHub delivers webhooks (https://HOST/webhooks), or --url of gantry's host"))
				}
				o.WebhookURL = strings.TrimSuffix(o.URL, "/") + "/webhooks"
			}
			m, err := appmanifest.New(o)
			if err != nil {
				return exitWith(ExitError, err)
			}
			b, err := m.JSON()
			if err != nil {
				return exitWith(ExitError, err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&o.URL, "url", "https://github.com/gantryops/gantry", "the App's homepage; also gantry's host when --webhook-url is not given")
	cmd.Flags().StringVar(&o.WebhookURL, "webhook-url", "", "gantry's /webhooks endpoint as GitHub reaches it")
	cmd.Flags().StringVar(&o.Name, "name", "gantry", "the App's name (unique across GitHub)")
	cmd.Flags().StringVar(&o.RedirectURL, "redirect-url", "", "where GitHub sends the browser after creating the App (optional)")
	return cmd
}
