package cli

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/gantryops/gantry/bot"
	"github.com/gantryops/gantry/config"
)

func newServeCmd() *cobra.Command {
	var configFile, githubURL, listen, webListen, cacheDir, advertise string
	var workers int
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "serve --config F",
		Short: "Run the GitHub App server (exit non-zero on a bad configuration)",
		Long: `Serve runs the GitHub App: POST /webhooks for GitHub's deliveries and GET
/healthz, /readyz and /metrics on the webhook listener; the read-only pages
of recent runs and locks on a listener of their own (web.listen, loopback
by default; anywhere else only with web.tokenFile). Before serving it
checks the configuration, the App's private key, the webhook secret, the
server's policies and that GitHub knows the App.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile == "" {
				return exitWith(ExitError, errors.New("serve needs --config FILE"))
			}
			cfg, err := config.LoadServer(configFile)
			if err != nil {
				return exitWith(ExitError, err)
			}
			if githubURL != "" {
				cfg.GitHub.URL = githubURL
			}
			if listen != "" {
				cfg.Listen = listen
			}
			if webListen != "" {
				// Run refuses a listener other machines reach without
				// web.tokenFile, as loading the file would have.
				cfg.Web.Listen = webListen
			}
			log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			srv, err := bot.NewServer(cmd.Context(), cfg, bot.ServerOptions{Log: log, CacheDir: cacheDir, Workers: workers, Advertise: advertise})
			if err != nil {
				return exitWith(ExitError, err)
			}
			if err := srv.Run(cmd.Context(), bot.Listeners{}, grace); err != nil {
				return exitWith(ExitError, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "server configuration file")
	cmd.Flags().StringVar(&githubURL, "github-url", "", "GitHub REST API root, for GitHub Enterprise Server (https://HOST/api/v3/) or the simulator")
	cmd.Flags().StringVar(&listen, "listen", "", "webhook HTTP address (default: the configuration's listen, :8080)")
	cmd.Flags().StringVar(&webListen, "web-listen", "", "pages' HTTP address (default: the configuration's web.listen, 127.0.0.1:8081)")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", os.Getenv("GANTRY_SERVE_CACHE"), "where git caches and work directories live")
	cmd.Flags().StringVar(&advertise, "advertise", os.Getenv("GANTRY_ADVERTISE"), "base URL other replicas forward a shard's deliveries to (state.shards > 1; default: the webhook listener's address)")
	cmd.Flags().IntVar(&workers, "workers", 4, "jobs run at once")
	cmd.Flags().DurationVar(&grace, "shutdown-grace", 30*time.Second, "how long running jobs may finish on shutdown")
	return cmd
}
