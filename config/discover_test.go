package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDiscover(t *testing.T) {
	root := repoTree(t, map[string]string{
		"apps/web/base/kustomization.yaml":           "resources: [deploy.yaml]\n",
		"apps/web/base/deploy.yaml":                  "",
		"apps/web/overlays/prod/kustomization.yaml":  "resources: [../../base, https://example.com/x.yaml]\ncomponents: [../../components/tls]\n",
		"apps/web/components/tls/kustomization.yaml": "kind: Component\n",
		"apps/web/overlays/dev/kustomization.yaml":   "resources: [../../base]\n",
		"charts/api/Chart.yaml":                      "name: api\n",
		"charts/api/charts/redis/Chart.yaml":         "name: redis\n",
		"charts/lib/Chart.yaml":                      "name: lib\ntype: library\n",
		"apps/plain/cm.yaml":                         "",
		"apps/plain/nested/more.yml":                 "",
		"apps/empty/README.md":                       "",
		"clusters/prod/ns.json":                      "",
		".github/workflows/ci.yaml":                  "",
		"docs/example.yaml":                          "",
	})
	repo, err := Discover(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	type app struct {
		Name, Path string
		Render     RenderKind
	}
	var got []app
	for _, a := range repo.Apps {
		got = append(got, app{a.Name, a.Path, a.Render})
	}
	want := []app{
		{"plain", "apps/plain", RenderYAML},
		{"web-overlays-dev", "apps/web/overlays/dev", RenderKustomize},
		{"web-overlays-prod", "apps/web/overlays/prod", RenderKustomize},
		{"charts-api", "charts/api", RenderHelm},
		{"prod", "clusters/prod", RenderYAML},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("discovered apps (-want +got):\n%s", diff)
	}
	if !repo.Discovered || repo.Apps[3].Helm == nil || repo.Apps[3].Helm.ReleaseName != "charts-api" {
		t.Errorf("discovered helm app without release name: %+v", repo.Apps[3].Helm)
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		got        string
		candidates []string
		want       string
	}{
		{"namesapce", []string{"name", "namespace", "path"}, ` (did you mean "namespace"?)`},
		{"Path", []string{"name", "path"}, ` (did you mean "path"?)`},
		{"zzzzzz", []string{"name", "path"}, ""},
		{"x", nil, ""},
	}
	for _, tt := range tests {
		if got := didYouMean(tt.got, tt.candidates); got != tt.want {
			t.Errorf("didYouMean(%q) = %q, want %q", tt.got, got, tt.want)
		}
	}
}
