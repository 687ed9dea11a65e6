package bot

import (
	"fmt"
	"strings"
	"testing"
)

func TestHeaderExcerpt(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"7290459d-c48b-b5ec-d864-b3f8608b8680", "7290459d-c48b-b5ec-d864-b3f8608b8680"},
		{"pull_request", "pull_request"},
		{"push\n{\"msg\":\"forged\"}", `"push\n{\"msg\":\"forged\"}"`},
		{"caf\u00e9", `"caf\u00e9"`},
		{strings.Repeat("a", 70), strings.Repeat("a", 64) + "…"},
	} {
		if got := headerExcerpt(c.in); got != c.want {
			t.Errorf("headerExcerpt(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestJobAttrs(t *testing.T) {
	for _, c := range []struct {
		j    Job
		want string
	}{
		{Job{Kind: JobPlan, Owner: "acme", Repo: "ops", PR: 7, HeadSHA: "0123456789abcdef", DeliveryID: "d1"}, "[kind plan repository acme/ops pr 7 head 0123456 delivery d1]"},
		{Job{Kind: JobApply, Owner: "acme", Repo: "ops", BaseRef: "main", HeadSHA: "fedcba9876543210"}, "[kind apply repository acme/ops branch main head fedcba9]"},
		{Job{Kind: JobInstallation, InstallationID: 3}, "[kind installation installation 3]"},
	} {
		if got := fmt.Sprint(jobAttrs(c.j)); got != c.want {
			t.Errorf("jobAttrs(%+v) = %s, want %s", c.j, got, c.want)
		}
	}
}
