package notify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

// The notifications section of the server configuration: every mistake
// named by field, line and column, and a Slack URL never repeated.
func TestConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"key.pem": "x", "secret": "x", "hook-secret": "s\n", "empty": "\n",
		"slack-url": "https://hooks.slack.com/services/T/B/SECRETPART\n", "not-url": "hooks.slack.com/services/T/B/SECRETPART"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const base = "github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\nclusters: [{name: prod, inCluster: true}]\nnotifications:\n"
	tests := []struct {
		name, yaml string
		want       []string
	}{{
		name: "unknown event",
		yaml: "  - {events: [drift, apply-faild], slack: {urlFile: slack-url}}\n",
		want: []string{`:4:22: notifications[0].events[1]: "apply-faild" is not one of drift, apply-failed, revert-opened (did you mean "apply-failed"?)`},
	}, {
		name: "no target",
		yaml: "  - {events: [drift]}\n",
		want: []string{":4:5: notifications[0]: missing a target: give slack: {urlFile: F} or webhook: {url: U, secretFile: F}"},
	}, {
		name: "two targets",
		yaml: "  - slack: {urlFile: slack-url}\n    webhook: {url: 'https://h.example/', secretFile: hook-secret}\n",
		want: []string{":5:14: notifications[0].webhook: give either slack or webhook, not both (add another notification for a second target)"},
	}, {
		name: "webhook url and secret",
		yaml: "  - webhook: {url: 'ftp://h.example/x', secretFile: empty}\n  - webhook: {secretFile: nothere}\n",
		want: []string{
			`:4:20: notifications[0].webhook.url: "ftp://h.example/x" is not an http(s) URL`,
			":4:53: notifications[0].webhook.secretFile: " + filepath.Join(dir, "empty") + " is empty",
			":5:14: notifications[1].webhook.url: missing",
			":5:27: notifications[1].webhook.secretFile: " + filepath.Join(dir, "nothere") + ": no such file or directory",
		},
	}, {
		name: "slack file not a URL, shown without its content",
		yaml: "  - slack: {urlFile: not-url}\n",
		want: []string{":4:22: notifications[0].slack.urlFile: " + filepath.Join(dir, "not-url") + " does not hold an http(s) URL (its content is not shown: it is a credential)"},
	}, {
		name: "globs",
		yaml: "  - match: {repositories: [acme, 'acme/[x'], apps: ['web-[']}\n    slack: {urlFile: slack-url}\n",
		want: []string{
			`:4:28: notifications[0].match.repositories[0]: "acme" must be an owner/name glob (acme/ops, acme/*, */*)`,
			`:4:34: notifications[0].match.repositories[1]: "acme/[x" must be an owner/name glob (acme/ops, acme/*, */*)`,
			`:4:53: notifications[0].match.apps[0]: "web-[" is not a valid glob`,
		},
	}, {
		name: "unknown field",
		yaml: "  - slack: {urlfile: slack-url}\n",
		want: []string{`:4:13: notifications[0].slack: unknown field "urlfile" (did you mean "urlFile"?)`},
	}}
	file := filepath.Join(dir, "server.yaml")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.ParseServer(file, []byte(base+tt.yaml), dir)
			if err == nil {
				t.Fatal("no error")
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, file+w)
			}
			if d := cmp.Diff(want, strings.Split(err.Error(), "\n")); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
			if strings.Contains(err.Error(), "SECRETPART") {
				t.Error("an error repeats the Slack URL")
			}
		})
	}
}

func TestConfigDefaultsEventsAndResolvesFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"key.pem": "x", "secret": "x", "slack-url": "https://hooks.slack.com/services/T/B/C\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := config.ParseServer(filepath.Join(dir, "server.yaml"), []byte("github: {appID: 1, privateKeyFile: key.pem, webhookSecretFile: secret}\n"+
		"clusters: [{name: prod, inCluster: true}]\nnotifications:\n  - {match: {apps: [web-*]}, slack: {urlFile: slack-url}}\n  - {events: [drift], slack: {urlFile: slack-url}}\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.Notification{
		{Match: config.NotificationMatch{Apps: []string{"web-*"}}, Events: config.NotifyEvents, Slack: &config.SlackTarget{URLFile: filepath.Join(dir, "slack-url")}},
		{Events: []string{"drift"}, Slack: &config.SlackTarget{URLFile: filepath.Join(dir, "slack-url")}},
	}
	if d := cmp.Diff(want, s.Notifications); d != "" {
		t.Errorf("notifications (-want +got):\n%s", d)
	}
	if _, err := New(s.Notifications, nil); err != nil {
		t.Errorf("New on a validated configuration: %v", err)
	}
}
