package config

import "testing"

func TestNotificationMatchTakes(t *testing.T) {
	for _, c := range []struct {
		m         NotificationMatch
		repo, app string
		want      bool
	}{
		{NotificationMatch{}, "acme/ops", "web", true},
		{NotificationMatch{Repositories: []string{"acme/*"}}, "Acme/Ops", "web", true},
		{NotificationMatch{Repositories: []string{"ACME/ops"}}, "acme/ops", "web", true},
		{NotificationMatch{Repositories: []string{"acme/*"}}, "other/ops", "web", false},
		{NotificationMatch{Apps: []string{"web-*"}}, "acme/ops", "web-eu", true},
		// App names are compared as written.
		{NotificationMatch{Apps: []string{"web-*"}}, "acme/ops", "Web-eu", false},
		{NotificationMatch{Repositories: []string{"acme/*"}, Apps: []string{"api"}}, "acme/ops", "web", false},
	} {
		if got := c.m.Takes(c.repo, c.app); got != c.want {
			t.Errorf("%+v.Takes(%q, %q) = %v, want %v", c.m, c.repo, c.app, got, c.want)
		}
	}
}
