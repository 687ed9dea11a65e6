// Package appmanifest is the GitHub App manifest gantry is registered
// with (GitHub's App-creation-from-manifest flow): exactly the permissions
// and webhook events the bot uses, kept in one place so that the bot's
// tests can prove each one is needed and none is missing.
package appmanifest

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
)

// Permissions are the App's permissions, as GitHub's default_permissions
// names them, with why gantry needs each.
var Permissions = map[string]string{
	// Checkouts (git fetch) and reading files; pushing revert and drift
	// branches (git push, the Git data API), merging by /gantry apply.
	"contents": "write",
	// Reading pull requests, their files and reviews; opening revert and
	// drift pull requests, editing and closing them.
	"pull_requests": "write",
	// The gantry/diff, gantry/policy and gantry/apply check runs.
	"checks": "write",
	// Comments (the plan, command answers), reactions and labels on pull
	// requests, which GitHub serves as issues.
	"issues": "write",
	// Commit statuses other CI posts, for /gantry apply's checks
	// requirement.
	"statuses": "read",
	// Team membership, for permissions and policy owners given as teams.
	"members": "read",
	// Repository metadata and collaborators' roles; every App has it.
	"metadata": "read",
}

// Events are the webhook events the App subscribes to. Installation events
// are delivered to every App without subscribing.
var Events = []string{
	"check_run",     // "Re-run" on a gantry check
	"check_suite",   // "Re-run all checks"
	"issue_comment", // /gantry commands
	"pull_request",  // plans; closed and merged pull requests release locks
	"push",          // applies on merge, base branch moves
}

// Manifest is GitHub's App manifest.
type Manifest struct {
	Name               string            `json:"name"`
	URL                string            `json:"url"`
	HookAttributes     HookAttributes    `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url,omitempty"`
	Description        string            `json:"description,omitempty"`
	Public             bool              `json:"public"`
	DefaultPermissions map[string]string `json:"default_permissions"`
	DefaultEvents      []string          `json:"default_events"`
}

// HookAttributes is where GitHub delivers the App's webhooks.
type HookAttributes struct {
	URL    string `json:"url"`
	Active bool   `json:"active"`
}

// Options are what differs between installations of gantry.
type Options struct {
	// Name of the App; GitHub App names are unique across GitHub.
	Name string
	// URL is the App's homepage.
	URL string
	// WebhookURL is gantry's /webhooks endpoint as GitHub reaches it.
	WebhookURL string
	// RedirectURL, optional, is where GitHub sends the browser after the
	// App is created.
	RedirectURL string
}

// New builds the manifest, checking that every URL is an http(s) URL.
func New(o Options) (Manifest, error) {
	if o.Name == "" {
		return Manifest{}, fmt.Errorf("app manifest: missing name")
	}
	for _, u := range []struct{ flag, v string }{{"url", o.URL}, {"webhook URL", o.WebhookURL}, {"redirect URL", o.RedirectURL}} {
		if u.v == "" && u.flag == "redirect URL" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
			return Manifest{}, fmt.Errorf("app manifest: %s %q is not an http(s) URL", u.flag, u.v)
		}
	}
	perms := make(map[string]string, len(Permissions))
	for k, v := range Permissions {
		perms[k] = v
	}
	events := append([]string(nil), Events...)
	sort.Strings(events)
	return Manifest{
		Name: o.Name, URL: o.URL, HookAttributes: HookAttributes{URL: o.WebhookURL, Active: true},
		RedirectURL: o.RedirectURL, Public: false,
		Description:        "Plans pull requests on Kubernetes GitOps repositories and applies them on merge.",
		DefaultPermissions: perms, DefaultEvents: events,
	}, nil
}

// JSON is m indented, as GitHub's manifest form field takes it.
func (m Manifest) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("app manifest: %w", err)
	}
	return append(b, '\n'), nil
}
