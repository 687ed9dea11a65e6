package appmanifest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The printed manifest has GitHub's field names and exactly the lists.
func TestManifestJSONHasGitHubsFields(t *testing.T) {
	m, err := New(Options{Name: "acme-gantry", URL: "https://gantry.acme.dev", WebhookURL: "https://gantry.acme.dev/webhooks"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name": "acme-gantry", "url": "https://gantry.acme.dev", "public": false,
		"description":     m.Description,
		"hook_attributes": map[string]any{"url": "https://gantry.acme.dev/webhooks", "active": true},
		"default_permissions": map[string]any{"contents": "write", "pull_requests": "write", "checks": "write", "issues": "write",
			"statuses": "read", "members": "read", "metadata": "read"},
		"default_events": []any{"check_run", "check_suite", "issue_comment", "pull_request", "push"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("manifest (-want +got):\n%s", d)
	}
	// The manifest is a copy: changing it leaves the package's lists alone.
	m.DefaultPermissions["administration"] = "write"
	if _, ok := Permissions["administration"]; ok {
		t.Error("the manifest shares its map with Permissions")
	}
}

func TestManifestRefusesURLsThatAreNot(t *testing.T) {
	for _, o := range []Options{
		{Name: "g", URL: "gantry.acme.dev", WebhookURL: "https://h/webhooks"},
		{Name: "g", URL: "https://h", WebhookURL: "ftp://h/webhooks"},
		{Name: "g", URL: "https://h", WebhookURL: "https://h/webhooks", RedirectURL: "/done"},
		{URL: "https://h", WebhookURL: "https://h/webhooks"},
	} {
		if _, err := New(o); err == nil || !strings.HasPrefix(err.Error(), "app manifest: ") {
			t.Errorf("%+v: %v, want an error", o, err)
		}
	}
}
