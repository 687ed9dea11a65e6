package starter

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/policy"
	"github.com/gantryops/gantry/render"
)

// gantry's own chart, rendered with the values its chart test installs,
// passes the pack: no denies, no warnings, nothing excepted. A moving
// image tag set through values is caught, so the render is really judged.
func TestGantryChartPassesThePack(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"chart test values", map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github"}, []string{}},
		{"pages served with a token", map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github", "web.tokenSecret": "gantry-web"}, []string{}},
		{"a moving tag", map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github", "image.tag": "latest"},
			[]string{"deny image-pinned: Deployment gantry"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			yes := true
			app := config.App{Name: "gantry", Path: "charts/gantry", Render: config.RenderHelm, Namespace: "gantry", Prune: &yes,
				Helm: &config.Helm{ReleaseName: "gantry", Set: tt.set}}
			objs, _, err := render.Render(context.Background(), "../..", app)
			if err != nil {
				t.Fatal(err)
			}
			var in policy.Input
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.GetKind()] = true
				in.Objects = append(in.Objects, policy.Object{Obj: o, App: app.Name})
			}
			if !kinds["Deployment"] || !kinds["PodDisruptionBudget"] {
				t.Fatalf("the chart rendered no Deployment or no PodDisruptionBudget: %v", kinds)
			}
			got, r := judge(t, Settings{}, in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				if err := policy.WriteText(os.Stderr, r); err != nil {
					t.Fatal(err)
				}
				t.Errorf("findings on the chart (-want +got):\n%s", diff)
			}
		})
	}
}
