package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestPromoteValidation proves every wrong promote is reported at its
// file, line and field, and a right one loads with its defaults.
func TestPromoteValidation(t *testing.T) {
	apps := func(extra string) string {
		return "version: 1\napps:\n  - name: web-staging\n    path: s\n" + extra + "  - name: web-prod\n    path: p\n"
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown target with suggestion", apps("    promote: {to: web-prd}\n"),
			[]string{`.gantry.yaml:5:19: apps[0].promote.to: "web-prd" is not an app of this repository (did you mean "web-prod"?)`}},
		{"missing target", apps("    promote: {soak: 1m}\n"),
			[]string{`.gantry.yaml:5:14: apps[0].promote.to: missing: the app that receives this app's changes`}},
		{"itself", apps("    promote: {to: web-staging}\n"),
			[]string{`.gantry.yaml:5:19: apps[0].promote.to: "web-staging" is this app itself: promote to another app`}},
		{"unknown condition", apps("    promote: {to: web-prod, after: synced}\n"),
			[]string{`.gantry.yaml:5:36: apps[0].promote.after: "synced" is not one of healthy`}},
		{"negative soak", apps("    promote: {to: web-prod, soak: -1m}\n"),
			[]string{`.gantry.yaml:5:35: apps[0].promote.soak: duration "-1m" is negative`}},
		{"soak not a duration", apps("    promote: {to: web-prod, soak: soon}\n"),
			[]string{`.gantry.yaml:5:35: apps[0].promote.soak: want a duration such as "90s" or "5m", got "soon"`}},
		{"cycle of two", "version: 1\napps:\n  - name: a\n    path: a\n    promote: {to: b}\n  - name: b\n    path: b\n    promote: {to: a}\n",
			[]string{`.gantry.yaml:5:19: apps[0].promote.to: the promotion chain leads back to "a": a → b → a`}},
		{"cycle of three, reported once", "version: 1\napps:\n  - {name: c, path: c, promote: {to: a}}\n  - {name: a, path: a, promote: {to: b}}\n  - {name: b, path: b, promote: {to: c}}\n",
			[]string{`.gantry.yaml:4:38: apps[1].promote.to: the promotion chain leads back to "a": a → b → c → a`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseRepo(RepoFileName, []byte(tt.yaml), nil)
			if diff := cmp.Diff(tt.want, errorLines(err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPromoteDefaults proves an app promoting with only `to` gets the
// documented condition and soak, and an explicit soak of 0 stays 0 (it is
// not mistaken for "unset").
func TestPromoteDefaults(t *testing.T) {
	r, err := ParseRepo(RepoFileName, []byte("version: 1\napps:\n  - {name: s, path: s, promote: {to: p}}\n  - {name: p, path: p, promote: {to: q, soak: 0s}}\n  - {name: q, path: q}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []any{r.Apps[0].Promote.To, r.Apps[0].Promote.After, r.Apps[0].Promote.SoakD(), r.Apps[1].Promote.SoakD(), r.Apps[2].Promote}
	want := []any{"p", PromoteAfterHealthy, 10 * time.Minute, time.Duration(0), (*Promote)(nil)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
