// Package gantry_test checks the Helm chart that deploys gantry: it
// renders with gantry's own renderer and a real API server accepts every
// object in a server-side dry-run.
package gantry_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/localcluster"
	"github.com/gantryops/gantry/render"
)

var kube *localcluster.Cluster

func TestMain(m *testing.M) {
	os.Exit(localcluster.Main(m, localcluster.Options{Controllers: true}, &kube))
}

func chartApp(ns string, set map[string]string) config.App {
	yes := true
	return config.App{Name: "gantry", Path: "charts/gantry", Render: config.RenderHelm, Namespace: ns, Prune: &yes,
		Helm: &config.Helm{ReleaseName: "gantry", Set: set}}
}

func TestChartRendersAndTheAPIServerAcceptsIt(t *testing.T) {
	ns := kube.Namespace(t)
	app := chartApp(ns, map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github"})
	objs, _, err := render.Render(context.Background(), "../..", app)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetKind() == "ConfigMap" {
			data, _, _ := unstructured.NestedString(o.Object, "data", "gantry.yaml")
			if _, err := config.ParseServer("gantry.yaml", []byte(data), t.TempDir()); err != nil {
				// Only the mounted files may be missing outside the pod.
				for _, line := range strings.Split(err.Error(), "\n") {
					if !strings.Contains(line, "no such file or directory") {
						t.Errorf("the chart's server configuration: %s", line)
					}
				}
			}
		}
	}
	for _, k := range []string{"Deployment", "Service", "ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "PodDisruptionBudget"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s objects, want 1 (kinds: %v)", kinds[k], k, kinds)
		}
	}
	if kinds["Secret"] != 0 {
		t.Error("the chart made a Secret although existingSecret is set")
	}
	acceptedByTheAPIServer(t, app, objs)
}

func TestChartRefusesMissingSettings(t *testing.T) {
	for _, tt := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"github.existingSecret": "s"}, "set github.appID"},
		{map[string]string{"github.appID": "1"}, "set github.existingSecret, or both github.privateKey and github.webhookSecret"},
	} {
		_, _, err := render.Render(context.Background(), "../..", chartApp("gantry", tt.set))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("set %v: err = %v, want %q", tt.set, err, tt.want)
		}
	}
}

// TestChartPagesStayOnLoopbackWithoutAToken proves the chart serves the
// pages beyond the pod's loopback only with a token Secret, and then
// exposes them on a port of their own.
func TestChartPagesStayOnLoopbackWithoutAToken(t *testing.T) {
	for _, tt := range []struct {
		name       string
		set        map[string]string
		wantListen string
		wantToken  bool
		wantPort   bool
	}{
		{"default", nil, "127.0.0.1:8081", false, false},
		{"with a token Secret", map[string]string{"web.tokenSecret": "gantry-web"}, ":8081", true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set := map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github"}
			for k, v := range tt.set {
				set[k] = v
			}
			objs, _, err := render.Render(context.Background(), "../..", chartApp("gantry", set))
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				Web struct {
					Listen    string `json:"listen"`
					TokenFile string `json:"tokenFile"`
				} `json:"web"`
			}
			ports := map[string]bool{}
			for _, o := range objs {
				switch o.GetKind() {
				case "ConfigMap":
					data, _, _ := unstructured.NestedString(o.Object, "data", "gantry.yaml")
					if err := yaml.Unmarshal([]byte(data), &cfg); err != nil {
						t.Fatal(err)
					}
				case "Service":
					list, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
					for _, p := range list {
						name, _, _ := unstructured.NestedString(p.(map[string]any), "name")
						ports[name] = true
					}
				}
			}
			if cfg.Web.Listen != tt.wantListen || (cfg.Web.TokenFile != "") != tt.wantToken {
				t.Errorf("web: %+v, want listen %q, token %v", cfg.Web, tt.wantListen, tt.wantToken)
			}
			if config.LoopbackOnly(cfg.Web.Listen) == tt.wantToken {
				t.Errorf("web.listen %q: loopback-only is %v", cfg.Web.Listen, !tt.wantToken)
			}
			if ports["web"] != tt.wantPort {
				t.Errorf("Service exposes the pages: %v, want %v", ports["web"], tt.wantPort)
			}
		})
	}
}

// TestChartInstallsAndItsPodsRun: the chart applied into the local
// cluster (cluster-scoped RBAC included) becomes healthy, its replicas
// scheduled and running on the kwok node.
func TestChartInstallsAndItsPodsRun(t *testing.T) {
	ns := kube.Namespace(t)
	// Each install gets its own release name: the cluster-scoped RBAC
	// objects are named after it.
	app := chartApp(ns, map[string]string{"github.appID": "42", "github.existingSecret": "gantry-github"})
	app.Name, app.Helm.ReleaseName = "gantry-"+ns, "g-"+ns
	objs, _, err := render.Render(context.Background(), "../..", app)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.NewClient(kube.Config, cluster.DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	opts := cluster.DefaultApplyOptions("gantryops/gantry")
	opts.Health.Timeout = 90 * time.Second
	set, err := c.Apply(context.Background(), app, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if set.Health == nil || !set.Health.Healthy {
		t.Fatalf("the installed chart is not healthy: %+v", set.Health)
	}
	pods, err := kube.Client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	running := 0
	for _, p := range pods.Items {
		if p.Status.Phase == "Running" && p.Spec.NodeName == localcluster.FakeNode {
			running++
		}
	}
	if running != 2 {
		t.Errorf("%d gantry pods running on %s, want the chart's 2 replicas", running, localcluster.FakeNode)
	}
	// The configuration keeps the records where the chart's Role grants
	// them, and elects a leader among the replicas.
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" {
			continue
		}
		data, _, _ := unstructured.NestedString(o.Object, "data", "gantry.yaml")
		for _, want := range []string{"namespace: \"" + ns + "\"", "enabled: true"} {
			if !strings.Contains(data, want) {
				t.Errorf("the server configuration lacks %q:\n%s", want, data)
			}
		}
	}
}

// TestChartWritesOnlyToItsVolumes: the container's root filesystem is
// read-only, so every directory gantry serve writes (its cache and work
// directories, given by --cache-dir, and the temporary directory) must be
// a writable volume; without --cache-dir it would write under $HOME and
// fail at start.
func TestChartWritesOnlyToItsVolumes(t *testing.T) {
	objs, _, err := render.Render(context.Background(), "../..", chartApp("gantry", map[string]string{"github.appID": "42", "github.existingSecret": "gh"}))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("containers: %+v", d.Spec.Template.Spec.Containers)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Fatalf("the root filesystem is not read-only: %+v", c.SecurityContext)
	}
	emptyDirs := map[string]bool{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		emptyDirs[v.Name] = v.EmptyDir != nil
	}
	writable := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if emptyDirs[m.Name] && !m.ReadOnly {
			writable[m.MountPath] = true
		}
	}
	cacheDir := ""
	for i, a := range c.Args {
		if a == "--cache-dir" && i+1 < len(c.Args) {
			cacheDir = c.Args[i+1]
		}
	}
	if cacheDir == "" {
		t.Errorf("serve runs without --cache-dir, so it writes under $HOME on a read-only filesystem: args %v", c.Args)
	}
	for _, dir := range []string{cacheDir, "/tmp"} {
		if dir != "" && !writable[dir] {
			t.Errorf("%s is not a writable volume (writable: %v)", dir, writable)
		}
	}
}

// TestChartShardsAndRenderWorker: with shards and the render worker on,
// the server configuration loads with both and keeps the user's own
// render settings; the pods advertise their address and run in a user
// namespace of their own; the render-worker sidecar holds no token,
// secret or writable checkout, and the API server accepts it all.
func TestChartShardsAndRenderWorker(t *testing.T) {
	ns := kube.Namespace(t)
	app := chartApp(ns, map[string]string{"github.appID": "42", "github.existingSecret": "s", "shards": "8",
		"renderWorker.enabled": "true", "renderWorker.memoryMiB": "512", "config.render.timeout": "30s"})
	objs, _, err := render.Render(context.Background(), "../..", app)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "ConfigMap":
			data, _, _ := unstructured.NestedString(o.Object, "data", "gantry.yaml")
			if _, err := config.ParseServer("gantry.yaml", []byte(data), t.TempDir()); err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					if !strings.Contains(line, "no such file or directory") {
						t.Errorf("the chart's server configuration: %s", line)
					}
				}
			}
			var cfg struct {
				State  map[string]any `json:"state"`
				Render map[string]any `json:"render"`
			}
			if err := yaml.Unmarshal([]byte(data), &cfg); err != nil {
				t.Fatal(err)
			}
			worker, _ := cfg.Render["worker"].(map[string]any)
			if cfg.State["shards"] != float64(8) || cfg.State["leaderElection"] != nil || cfg.Render["isolation"] != "sidecar" ||
				cfg.Render["timeout"] != "30s" || worker["socket"] != "/run/gantry-render/worker.sock" {
				t.Errorf("state %v render %v: want 8 shards without leader election, the sidecar and the user's timeout", cfg.State, cfg.Render)
			}
		case "Deployment":
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
			spec := d.Spec.Template.Spec
			if spec.HostUsers == nil || *spec.HostUsers || spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Errorf("hostUsers %v automountServiceAccountToken %v, want both false", spec.HostUsers, spec.AutomountServiceAccountToken)
			}
			if len(spec.Containers) != 2 {
				t.Fatalf("%d containers, want gantry and render-worker", len(spec.Containers))
			}
			gantry, worker := spec.Containers[0], spec.Containers[1]
			if !strings.Contains(fmt.Sprint(gantry.Env), "GANTRY_ADVERTISE") {
				t.Error("the gantry container does not advertise its address")
			}
			mounts := map[string]string{}
			for _, m := range gantry.VolumeMounts {
				mounts[m.Name] = m.MountPath
			}
			if mounts["token"] != "/var/run/secrets/kubernetes.io/serviceaccount" || mounts["render-socket"] == "" {
				t.Errorf("gantry's mounts %v: want the token and the socket", mounts)
			}
			if want := []string{"render-worker", "--listen", "/run/gantry-render/worker.sock", "--memory-bytes", "536870912", "--cpu-seconds", "60"}; !slices.Equal(worker.Args, want) {
				t.Errorf("sidecar args %q, want %q", worker.Args, want)
			}
			for _, m := range worker.VolumeMounts {
				switch {
				case m.Name == "token" || m.Name == "secret" || m.Name == "config" || m.Name == "web-token":
					t.Errorf("the render-worker sidecar mounts %s", m.Name)
				case m.Name == "cache" && !m.ReadOnly:
					t.Error("the render-worker sidecar may write the checkouts")
				}
			}
			if len(worker.Env) != 0 || len(worker.EnvFrom) != 0 {
				t.Errorf("the render-worker sidecar has an environment: %v %v", worker.Env, worker.EnvFrom)
			}
			if sc := worker.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
				t.Errorf("the render-worker sidecar's security context: %+v", sc)
			}
		}
	}
	acceptedByTheAPIServer(t, app, objs)
}

// TestChartGrantsPreviewsOnlyWhenAsked: rbac.previews adds the quota and
// limit-range grants preview namespaces need (server-side apply creates
// and patches them; the quota is read back), and only then.
func TestChartGrantsPreviewsOnlyWhenAsked(t *testing.T) {
	ns := kube.Namespace(t)
	for _, on := range []bool{false, true} {
		vals := map[string]string{"github.appID": "42", "github.existingSecret": "s"}
		if on {
			vals["rbac.previews"] = "true"
		}
		objs, _, err := render.Render(context.Background(), "../..", chartApp(ns, vals))
		if err != nil {
			t.Fatal(err)
		}
		granted := false
		for _, o := range objs {
			if o.GetKind() != "ClusterRole" {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				rule, _ := r.(map[string]any)
				res := fmt.Sprint(rule["resources"])
				if strings.Contains(res, "resourcequotas") && strings.Contains(res, "limitranges") && fmt.Sprint(rule["verbs"]) == "[get create patch]" {
					granted = true
				}
			}
		}
		if granted != on {
			t.Errorf("rbac.previews=%v: quota and limit-range grants present = %v", on, granted)
		}
	}
}

// acceptedByTheAPIServer dry-runs the chart's objects on the local API
// server: none may be refused.
func acceptedByTheAPIServer(t *testing.T, app config.App, objs []*unstructured.Unstructured) {
	t.Helper()
	c, err := cluster.NewClient(kube.Config, cluster.DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(context.Background(), app, objs, cluster.DefaultDiffOptions("gantryops/gantry"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range set.Objects {
		if o.Error != "" {
			t.Errorf("API server refused %s: %s", o.Object, o.Error)
		}
	}
}
