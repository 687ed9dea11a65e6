package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestUnevaluatedPackagesAreReported(t *testing.T) {
	const images = "package k8s.images\n\ndeny contains \"pin images\" if input.kind == \"Pod\"\n"
	tests := []struct {
		name       string
		namespaces []string
		files      map[string]string
		want       []string // "file:line package rules"
	}{
		{
			name:  "a package outside the default namespaces",
			files: map[string]string{"images.rego": images, "main.rego": "package main\n\ndeny contains \"x\" if false\n"},
			want:  []string{"p/images.rego:1 k8s.images deny"},
		},
		{
			name:       "listed in the namespaces",
			namespaces: []string{"main", "k8s.images"},
			files:      map[string]string{"images.rego": images},
		},
		{
			name:       "every namespace",
			namespaces: []string{"*"},
			files:      map[string]string{"images.rego": images},
		},
		{
			name:  "a helper library without conftest rules",
			files: map[string]string{"lib.rego": "package lib.k8s\n\nis_pod if input.kind == \"Pod\"\n"},
		},
		{
			name:  "gantry's own packages are always evaluated",
			files: map[string]string{"g.rego": "package gantry.prod\n\ndeny contains \"x\" if false\n"},
		},
		{
			name: "read by main, so evaluated through it",
			files: map[string]string{
				"images.rego": images,
				"main.rego":   "package main\n\ndeny contains msg if some msg in data.k8s.images.deny\n",
			},
		},
		{
			name:  "warn and exception rules count, helpers are not listed",
			files: map[string]string{"w.rego": "# a comment\npackage team.a\n\nwarn_tag contains \"t\" if false\n\nexception contains [\"tag\"] if false\n\nhelper if true\n"},
			want:  []string{"p/w.rego:2 team.a exception, warn_tag"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := load(t, Source{Name: "repo:p", Prefix: "p", Trust: Repository, Namespaces: tt.namespaces}, tt.files)
			var got []string
			for _, u := range e.Unevaluated() {
				got = append(got, fmt.Sprintf("%s:%d %s %s", u.File, u.Line, u.Package, strings.Join(u.Rules, ", ")))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Unevaluated (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnevaluatedSaysWhatIsEvaluatedAndTheFix(t *testing.T) {
	u := Unevaluated{File: "policy/images.rego", Line: 1, Package: "k8s.images", Rules: []string{"deny"}, Namespaces: []string{"main"}, Trust: Repository}
	want := "policy/images.rego:1: package k8s.images is never evaluated, so its rules (deny) never fire: " +
		"only the packages main and gantry.* are; list it in policies.namespaces in .gantry.yaml, or rename the package"
	if diff := cmp.Diff(want, u.String()); diff != "" {
		t.Errorf("String() (-want +got):\n%s", diff)
	}
}
