package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

func TestAffected(t *testing.T) {
	repo := config.Repo{Apps: []config.App{
		{Name: "web-prod", Path: "apps/web/overlays/prod", Patches: []string{"drift/web-prod/"}},
		{Name: "web-staging", Path: "apps/web/overlays/staging"},
		{Name: "shop", Path: "charts/shop", WhenModified: []string{"images/shop/**", "VERSION"}},
		{Name: "plain", Path: "apps/plain"},
	}}
	deps := map[string][]string{
		"web-prod":    {"apps/web/base", "apps/web/components/monitoring"},
		"web-staging": {"apps/web/base"},
		"shop":        {"values/shop-prod.yaml"},
	}
	base := repo
	base.Apps = append([]config.App{}, repo.Apps...)
	base.Apps[2] = config.App{Name: "shop", Path: "charts/shop", WhenModified: []string{"images/shop/**", "VERSION"}, Namespace: "old"}

	tests := []struct {
		name    string
		changed []string
		base    *config.Repo
		want    []string
	}{
		{"nothing", nil, &base, nil},
		{"own path", []string{"apps/web/overlays/prod/replicas.yaml"}, &base, []string{"web-prod"}},
		{"path prefix is not a sibling", []string{"apps/plain-old/x.yaml"}, &base, nil},
		{"shared base", []string{"apps/web/base/deployment.yaml"}, &base, []string{"web-prod", "web-staging"}},
		{"component", []string{"apps/web/components/monitoring/sm.yaml"}, &base, []string{"web-prod"}},
		{"patches", []string{"drift/web-prod/deploy.yaml"}, &base, []string{"web-prod"}},
		{"chart template", []string{"charts/shop/templates/deployment.yaml"}, &base, []string{"shop"}},
		{"vendored subchart", []string{"charts/shop/charts/redis/values.yaml"}, &base, []string{"shop"}},
		{"values outside the chart", []string{"values/shop-prod.yaml"}, &base, []string{"shop"}},
		{"whenModified glob", []string{"images/shop/v2/Dockerfile"}, &base, []string{"shop"}},
		{"whenModified file", []string{"VERSION"}, &base, []string{"shop"}},
		{"model changed for one app", []string{".gantry.yaml"}, &base, []string{"shop"}},
		{"model changed, no base", []string{".gantry.yaml"}, nil, []string{"web-prod", "web-staging", "shop", "plain"}},
		{"unrelated", []string{"README.md", "docs/x.md"}, &base, nil},
		{"several, in repo order", []string{"apps/plain/a.yaml", "apps/web/overlays/staging/k.yaml"}, &base, []string{"web-staging", "plain"}},
		{"leading ./ is ignored", []string{"./apps/plain/a.yaml"}, &base, []string{"plain"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Affected(repo, tt.base, deps, tt.changed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Affected(%v) (-want +got):\n%s", tt.changed, diff)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	tests := []struct {
		app  string
		want []string
	}{
		{"web-prod", []string{
			"apps/kustomize/base",
			"apps/kustomize/components/monitoring",
			"apps/kustomize/base/deployment.yaml",
			"apps/kustomize/base/service.yaml",
			"apps/kustomize/components/monitoring/servicemonitor.yaml",
		}},
		{"shop", nil},
		{"plain", nil},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			got, err := Dependencies(t.Context(), testRepo, loadApp(t, testRepo, tt.app))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Dependencies (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAffectedApps(t *testing.T) {
	repo := loadRepo(t, testRepo)
	got := AffectedApps(t.Context(), testRepo, repo, &repo, []string{"apps/kustomize/base/service.yaml", "apps/helm/shop/values-prod.yaml"})
	if diff := cmp.Diff([]string{"web-prod", "shop"}, got); diff != "" {
		t.Errorf("AffectedApps (-want +got):\n%s", diff)
	}
}
