package render

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sourcesOf returns "key -> file:line" for each object, in order.
func sourcesOf(t *testing.T, app string) []string {
	t.Helper()
	objs, sm := mustRender(t, testRepo, loadApp(t, testRepo, app))
	out := make([]string, len(objs))
	for i, o := range objs {
		s, ok := sm.Of(o)
		if !ok {
			t.Fatalf("%s has no source", KeyOf(o))
		}
		out[i] = fmt.Sprintf("%s -> %s:%d", KeyOf(o), s.File, s.Line)
		if s.HelmHook != "" {
			out[i] += " hook=" + s.HelmHook
		}
	}
	return out
}

func TestRenderOrderAndSources(t *testing.T) {
	tests := []struct {
		app  string
		want []string
	}{
		{
			app: "plain",
			want: []string{
				"apiextensions.k8s.io/v1 CustomResourceDefinition widgets.acme.io -> apps/plain/sub/crd.yaml:1",
				"v1 Namespace plain -> apps/plain/sub/ns.json:1",
				"v1 ConfigMap other/limits -> apps/plain/list.yaml:10",
				"v1 ConfigMap plain/flags -> apps/plain/list.yaml:4",
				"apps/v1 Deployment plain/frontend -> apps/plain/app.yaml:2",
				"v1 Service plain/frontend -> apps/plain/app.yaml:22",
				// cluster-scoped through the CRD in the same app
				"acme.io/v1 Widget big -> apps/plain/sub/crd.yaml:21",
			},
		},
		{
			app: "web-prod",
			want: []string{
				"v1 ConfigMap web/prod-web-config-dfk4bdbtkk -> apps/kustomize/base/kustomization.yaml:11",
				"apps/v1 Deployment web/prod-web -> apps/kustomize/base/deployment.yaml:1",
				"policy/v1 PodDisruptionBudget web/prod-web -> apps/kustomize/overlays/prod/pdb.yaml:1",
				"v1 Secret web/prod-web-secrets-h95bch62d6 -> apps/kustomize/overlays/prod/kustomization.yaml:20",
				"v1 Service web/prod-web -> apps/kustomize/base/service.yaml:1",
				"v1 ServiceAccount web/prod-web -> apps/kustomize/base/service.yaml:10",
				"monitoring.coreos.com/v1 ServiceMonitor web/prod-web -> apps/kustomize/components/monitoring/servicemonitor.yaml:1",
			},
		},
		{
			app: "shop",
			want: []string{
				"apiextensions.k8s.io/v1 CustomResourceDefinition carts.shop.acme.io -> apps/helm/shop/crds/carts.yaml:1",
				"v1 ConfigMap shop/shop-shop-env -> apps/helm/shop/templates/config.yaml:2",
				"v1 ConfigMap shop/shop-shop-features -> apps/helm/shop/templates/config.yaml:9",
				"apps/v1 Deployment shop/shop-shop -> apps/helm/shop/templates/deployment.yaml:1",
				"batch/v1 Job shop/shop-shop-migrate -> apps/helm/shop/templates/migrate-job.yaml:2 hook=pre-install,pre-upgrade",
				"v1 Service shop/shop-shop -> apps/helm/shop/templates/service.yaml:1",
				"apps/v1 StatefulSet shop/shop-redis -> apps/helm/shop/charts/redis/templates/statefulset.yaml:1",
			},
		},
		{
			// Helm's split of a template into documents keeps each one on
			// its template line, the comment-only document included.
			app: "monitoring",
			want: []string{
				"v1 ConfigMap monitoring/monitoring-monitoring-clip -> apps/helm/monitoring/templates/multi.yaml:1",
				"v1 ConfigMap monitoring/monitoring-monitoring-hook -> apps/helm/monitoring/templates/hook.yaml:1 hook=post-install,post-upgrade",
				"v1 ConfigMap monitoring/monitoring-monitoring-keep -> apps/helm/monitoring/templates/multi.yaml:9",
				"v1 ConfigMap monitoring/monitoring-monitoring-last -> apps/helm/monitoring/templates/multi.yaml:31",
				"v1 ConfigMap monitoring/monitoring-monitoring-server -> apps/helm/monitoring/templates/server-configmap.yaml:2",
				"v1 ConfigMap monitoring/monitoring-monitoring-strip -> apps/helm/monitoring/templates/multi.yaml:20",
				"v1 ConfigMap monitoring/monitoring-monitoring-trim-both -> apps/helm/monitoring/templates/trim-both.yaml:2",
				"v1 ConfigMap monitoring/monitoring-monitoring-trim-end -> apps/helm/monitoring/templates/trim-end.yaml:2",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, sourcesOf(t, tt.app)); diff != "" {
				t.Errorf("objects and sources (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderHelmValuesAndCapabilities(t *testing.T) {
	objs, _ := mustRender(t, testRepo, loadApp(t, testRepo, "shop"))
	got := map[string]any{}
	for _, o := range objs {
		switch KeyOf(o).String() {
		case "apps/v1 Deployment shop/shop-shop":
			got["replicas"] = o.Object["spec"].(map[string]any)["replicas"]
			got["kube-minor"] = o.GetLabels()["kube-minor"]
			got["image"] = o.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]
		case "apps/v1 StatefulSet shop/shop-redis":
			got["redis-storage"] = o.Object["spec"].(map[string]any)["volumeClaimTemplates"].([]any)[0].(map[string]any)["spec"].(map[string]any)["resources"].(map[string]any)["requests"].(map[string]any)["storage"]
		}
	}
	want := map[string]any{
		"replicas":      int64(4),                  // set wins over values-prod.yaml
		"kube-minor":    "34",                      // config.KubeLibraryVersion, not Helm's default
		"image":         "ghcr.io/acme/shop:2.1.1", // values-prod.yaml over values.yaml
		"redis-storage": "10Gi",                    // parent values reach the subchart
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}

	app := loadApp(t, testRepo, "shop")
	app.Helm.KubeVersion = "v1.31.2"
	objs, _ = mustRender(t, testRepo, app)
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if diff := cmp.Diff("31", o.GetLabels()["kube-minor"]); diff != "" {
				t.Errorf("kube-minor with helm.kubeVersion (-want +got):\n%s", diff)
			}
		}
	}
}

func TestRenderDeterministic(t *testing.T) {
	for _, app := range []string{"plain", "web-prod", "shop"} {
		t.Run(app, func(t *testing.T) {
			a, _ := mustRender(t, testRepo, loadApp(t, testRepo, app))
			b, _ := mustRender(t, testRepo, loadApp(t, testRepo, app))
			if diff := cmp.Diff(toYAML(t, a), toYAML(t, b)); diff != "" {
				t.Errorf("second render differs (-first +second):\n%s", diff)
			}
		})
	}
}

// TestRenderConcurrent renders apps of every kind at once; with -race it
// shows that Kustomize's global state is guarded.
func TestRenderConcurrent(t *testing.T) {
	want := map[string]string{}
	for _, app := range []string{"plain", "web-prod", "shop"} {
		objs, _ := mustRender(t, testRepo, loadApp(t, testRepo, app))
		want[app] = toYAML(t, objs)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for i := 0; i < 24; i++ {
		app := []string{"plain", "web-prod", "shop"}[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			objs, _, err := Render(t.Context(), testRepo, loadApp(t, testRepo, app))
			if err != nil {
				errs <- err
				return
			}
			if got := toYAML(t, objs); got != want[app] {
				errs <- fmt.Errorf("%s: concurrent render differs", app)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRenderDetect(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"apps/plain", "yaml"},
		{"apps/kustomize/overlays/prod", "kustomize"},
		{"apps/helm/shop", "helm"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := Detect(t.Context(), testRepo, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("Detect (-want +got):\n%s", diff)
			}
		})
	}
}
