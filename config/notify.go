package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// The events a notification can be sent for.
const (
	// NotifyDrift: a watch or the backstop found an app's cluster state
	// differing from Git.
	NotifyDrift = "drift"
	// NotifyApplyFailed: an apply failed or its objects did not become
	// healthy.
	NotifyApplyFailed = "apply-failed"
	// NotifyRevertOpened: gantry opened a revert pull request.
	NotifyRevertOpened = "revert-opened"
)

// NotifyEvents lists every notification event; a notification that names
// none gets them all.
var NotifyEvents = []string{NotifyDrift, NotifyApplyFailed, NotifyRevertOpened}

// Notification sends the events of the apps it matches to one target:
// a Slack-compatible incoming webhook or a signed generic HTTP webhook.
type Notification struct {
	// Match selects the repositories and apps; empty matches all.
	Match NotificationMatch `yaml:"match"`
	// Events sent. Default: all of NotifyEvents.
	Events []string `yaml:"events"`
	// Slack is an incoming webhook; give it or Webhook, not both.
	Slack *SlackTarget `yaml:"slack"`
	// Webhook is a generic HTTP endpoint receiving signed JSON.
	Webhook *WebhookTarget `yaml:"webhook"`
}

// NotificationMatch selects by globs (path.Match); an empty list matches
// everything.
type NotificationMatch struct {
	// Repositories are "owner/name" globs, case-insensitive: "acme/*".
	Repositories []string `yaml:"repositories"`
	// Apps are app-name globs: "web-*".
	Apps []string `yaml:"apps"`
}

// SlackTarget is a Slack (or compatible: Mattermost, Rocket.Chat) incoming
// webhook. Its URL is a credential, so it is read from a file and never
// logged.
type SlackTarget struct {
	// URLFile holds the incoming webhook URL.
	URLFile string `yaml:"urlFile"`
}

// WebhookTarget is an HTTP endpoint that receives each event as JSON,
// signed with HMAC-SHA256 in the X-Gantry-Signature-256 header.
type WebhookTarget struct {
	// URL receives the POSTs.
	URL string `yaml:"url"`
	// SecretFile holds the signing secret (surrounding white space
	// ignored).
	SecretFile string `yaml:"secretFile"`
}

// validateNotifications checks the notifications and completes them:
// a notification without events gets all of them. Relative file paths
// were resolved with the others (resolvePaths).
func validateNotifications(d *decoder, s *Server) {
	for i := range s.Notifications {
		n := &s.Notifications[i]
		f := fmt.Sprintf("notifications[%d]", i)
		for j, e := range n.Events {
			oneOf(d, fmt.Sprintf("%s.events[%d]", f, j), e, NotifyEvents)
		}
		if len(n.Events) == 0 {
			n.Events = append([]string(nil), NotifyEvents...)
		}
		checkRepositoryGlobs(d, f+".match.repositories", n.Match.Repositories)
		checkGlobs(d, f+".match.apps", n.Match.Apps)
		switch {
		case n.Slack == nil && n.Webhook == nil:
			d.errAt(f, "missing a target: give slack: {urlFile: F} or webhook: {url: U, secretFile: F}")
		case n.Slack != nil && n.Webhook != nil:
			d.errAt(f+".webhook", "give either slack or webhook, not both (add another notification for a second target)")
		case n.Slack != nil:
			validateSlackURLFile(d, f+".slack.urlFile", n.Slack.URLFile)
		default:
			if n.Webhook.URL == "" {
				d.errAt(f+".webhook.url", "missing")
			} else if !httpURL(n.Webhook.URL) {
				d.errAt(f+".webhook.url", "%q is not an http(s) URL", n.Webhook.URL)
			}
			if n.Webhook.SecretFile == "" {
				d.errAt(f+".webhook.secretFile", "missing: a file holding the secret the body is signed with")
			} else if secret, ok := readSmallFile(d, f+".webhook.secretFile", n.Webhook.SecretFile); ok && secret == "" {
				d.errAt(f+".webhook.secretFile", "%s is empty", n.Webhook.SecretFile)
			}
		}
	}
}

// validateSlackURLFile checks that the file holds an http(s) URL, without
// ever repeating the URL: it is the channel's credential.
func validateSlackURLFile(d *decoder, field, p string) {
	if p == "" {
		d.errAt(field, "missing: a file holding the incoming webhook URL")
		return
	}
	u, ok := readSmallFile(d, field, p)
	if ok && !httpURL(u) {
		d.errAt(field, "%s does not hold an http(s) URL (its content is not shown: it is a credential)", p)
	}
}

// maxNotifyFile bounds a secret or URL file; real ones are a line.
const maxNotifyFile = 64 << 10

// readSmallFile reads a secret or URL file, trimmed; ok is false (and the
// error recorded) when it cannot be read.
func readSmallFile(d *decoder, field, p string) (string, bool) {
	readable(d, field, p, false)
	if d.bad[field] {
		return "", false
	}
	fi, err := os.Stat(p)
	if err == nil && fi.Size() > maxNotifyFile {
		d.errAt(field, "%s is %d bytes, more than a URL or secret (at most %d)", p, fi.Size(), maxNotifyFile)
		return "", false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		d.errAt(field, "%s: %v", p, unwrapPathError(err))
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// ReadNotifyFile reads a notification's URL or secret file as validation
// did: trimmed of surrounding white space.
func ReadNotifyFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// httpURL reports whether s is an absolute http or https URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
