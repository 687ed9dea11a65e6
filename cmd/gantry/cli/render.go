package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

func newRenderCmd() *cobra.Command {
	var rf repoFlags
	var output string
	cmd := &cobra.Command{
		Use:   "render [--repo D] [--app A] [-o yaml|json]",
		Short: "Render the repository's apps to Kubernetes objects, sorted (exit 1 on a render error)",
		Long: `Render prints the objects each app renders to, in apply order (CRDs,
Namespaces, then by kind, namespace and name), as the bot would see them.
Render errors name the app, file and line; every app is rendered even when
one fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "yaml" && output != "json" {
				return exitWith(ExitError, fmt.Errorf("-o %q: want yaml or json", output))
			}
			rs, failed, err := renderRepo(cmd, rf)
			if err != nil {
				return exitWith(ExitError, err)
			}
			out := cmd.OutOrStdout()
			var items []any
			for _, r := range rs {
				if r.err != nil {
					continue
				}
				if output == "yaml" && len(r.objects) > 0 {
					fmt.Fprintf(out, "# app: %s (%s, %d objects)\n", r.app.Name, r.app.Path, len(r.objects))
				}
				for _, o := range r.objects {
					if output == "json" {
						items = append(items, o.Object)
						continue
					}
					b, err := yaml.Marshal(o.Object)
					if err != nil {
						return exitWith(ExitError, fmt.Errorf("app %s: encode %s/%s: %w", r.app.Name, o.GetKind(), o.GetName(), err))
					}
					fmt.Fprintf(out, "---\n%s", b)
				}
			}
			if output == "json" {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": nonNil(items)}); err != nil {
					return exitWith(ExitError, err)
				}
			}
			if failed {
				return exitWith(ExitFinding, nil)
			}
			return nil
		},
	}
	rf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	return cmd
}

func nonNil(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}
