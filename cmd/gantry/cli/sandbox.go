package cli

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gantryops/gantry/sandbox"
)

func newSandboxCmd() *cobra.Command {
	var opts sandbox.Options
	var once bool
	var stateFile string
	var stepTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "sandbox [--once] [--state-file F] [--github-only] [--dir D]",
		Short: "Run a local Kubernetes, a GitHub simulator, the bot and a scripted pull request story",
		Long: `Sandbox starts, on this machine only: a local Kubernetes cluster (etcd,
kube-apiserver, controllers, scheduler and kwok nodes; binaries from
'make kube-bin'), a GitHub simulator on loopback (REST, git over HTTP,
webhooks) holding the demo repository demo/gitops and three users
(ada: admin, wes: write, rae: read), and gantry's bot wired to both. It
then plays a story of pull requests and prints what gantry posted.

With --once it exits when the story ends: 0 when every step behaved, 1
naming the step that did not. Without it the sandbox stays up and prints
the URLs, tokens and kubeconfig to play with it by hand, until Ctrl-C
stops everything and removes its files (kept when --dir is given).
--github-only runs just the simulator, for an App server of your own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			opts.Progress = errOut
			// The local cluster's envtest logs through controller-runtime,
			// which complains on stderr unless it has a logger.
			ctrllog.SetLogger(logr.Discard())
			sb, err := sandbox.Start(ctx, opts)
			if err != nil {
				return exitWith(ExitError, err)
			}
			defer func() {
				if err := sb.Close(); err != nil {
					fmt.Fprintf(errOut, "gantry: stop the sandbox: %v\n", err)
				}
			}()
			if sb.SpecMissing != "" {
				fmt.Fprintf(errOut, "note: %s\n", sb.SpecMissing)
			} else {
				fmt.Fprintf(errOut, "the simulator validates every request and response against GitHub's OpenAPI description (%s)\n", sb.Info.SpecDir)
			}
			if stateFile != "" {
				if err := sb.WriteState(stateFile); err != nil {
					return exitWith(ExitError, err)
				}
			}
			var played error
			if !opts.GitHubOnly {
				played = sandbox.Play(ctx, sb, out, sandbox.PlayOptions{StepTimeout: stepTimeout})
				if played == nil {
					fmt.Fprintf(out, "\nthe story passed in %.1fs\n", time.Since(start).Seconds())
				}
			}
			if once {
				if played != nil {
					return exitWith(ExitFinding, played)
				}
				return nil
			}
			if ctx.Err() != nil {
				fmt.Fprintln(errOut, "stopping the sandbox…")
				return nil
			}
			// A story that failed before Ctrl-C makes the exit non-zero;
			// the sandbox stays up meanwhile so that it can be looked at.
			if played != nil {
				fmt.Fprintf(errOut, "\ngantry: %v\n(the sandbox stays up so you can look)\n", played)
			}
			sb.WriteInfo(out)
			<-ctx.Done()
			fmt.Fprintln(errOut, "stopping the sandbox…")
			if played != nil {
				return exitWith(ExitFinding, nil)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&once, "once", false, "play the story once and exit: 0 when every step behaved, 1 naming the step that did not")
	f.StringVar(&stateFile, "state-file", "", "write the URLs, users and tokens, web token and kubeconfig as JSON to this file")
	f.BoolVar(&opts.GitHubOnly, "github-only", false, "run only the GitHub simulator with the demo repository and users")
	f.StringVar(&opts.Dir, "dir", "", "keep everything in this directory, and leave it there on exit (default: a temporary directory, removed)")
	f.StringVar(&opts.WebhookURL, "webhook-url", "", "with --github-only: deliver webhooks to this URL (your own App server)")
	f.DurationVar(&stepTimeout, "step-timeout", 3*time.Minute, "how long each step of the story waits for gantry")
	return cmd
}
