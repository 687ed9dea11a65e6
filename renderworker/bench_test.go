package renderworker

import (
	"context"
	"testing"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/render"
)

// BenchmarkRender renders each app of the sample repository in process
// and in a worker: the difference is what isolation costs a render (the
// worker's start, its namespace, the answer's JSON).
func BenchmarkRender(b *testing.B) {
	const root = "../fixtures/repos/sample"
	repo, err := config.LoadRepo(root, &config.Server{DefaultCluster: "local", Clusters: []config.Cluster{{Name: "local"}}})
	if err != nil {
		b.Fatal(err)
	}
	for _, app := range repo.Apps {
		b.Run(app.Name+"/in-process", func(b *testing.B) {
			var r render.Renderer
			for b.Loop() {
				if _, _, err := r.Render(context.Background(), root, app); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(app.Name+"/worker", func(b *testing.B) {
			p := testWorker()
			for b.Loop() {
				if _, _, err := p.Render(context.Background(), root, app); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
