package config

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// The documented defaults. Each is applied by Default methods, so that
// a loaded configuration is explicit: nothing downstream guesses.
const (
	// DefaultNamespace is an app's namespace when it names none.
	DefaultNamespace = "default"
	// DefaultListen is the server's HTTP address.
	DefaultListen = ":8080"
	// DefaultWebListen is the pages' address: loopback only.
	DefaultWebListen = "127.0.0.1:8081"
	// DefaultMetricsListener serves /metrics beside the webhooks.
	DefaultMetricsListener = MetricsOnWebhook
	// DefaultGitHubURL is github.com's REST API root.
	DefaultGitHubURL = "https://api.github.com/"
	// DefaultResyncInterval is how often resync runs.
	DefaultResyncInterval = 5 * time.Minute
	// DefaultDriftDebounce batches a burst of out-of-band edits of one app
	// into one drift check (and one PR update): short, so drift becomes a
	// pull request within seconds of the edit.
	DefaultDriftDebounce = 2 * time.Second
	// DefaultHealthTimeout bounds the wait for health after apply.
	DefaultHealthTimeout = 5 * time.Minute
	// DefaultDriftMode is the drift mode of apps that set none.
	DefaultDriftMode = DriftPR
	// DefaultApplyMode is the apply mode of apps that set none.
	DefaultApplyMode = ApplyOnMerge
	// DefaultPolicyNamespace is the Rego package whose rules count.
	DefaultPolicyNamespace = "main"
)

// DefaultDiscoveryRoots are where plain-manifest apps are discovered.
var DefaultDiscoveryRoots = []string{"apps", "clusters"}

// Duration is a time.Duration written as a Go duration string ("90s",
// "5m") in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("want a duration such as \"90s\" or \"5m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"90s\" or \"5m\", got %q", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// PruneEnabled reports whether the app prunes (default true).
func (a App) PruneEnabled() bool { return a.Prune == nil || *a.Prune }
