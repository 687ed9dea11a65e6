package render

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

// fakeGit puts a `git` first on PATH that records that it ran, and
// returns a function telling whether it did.
func fakeGit(t *testing.T) func() bool {
	t.Helper()
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "git-ran")
	script := "#!/bin/sh\ntouch '" + marker + "'\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return func() bool {
		_, err := os.Stat(marker)
		return err == nil
	}
}

// recorder is an HTTP server that counts the requests it gets.
func recorder(t *testing.T) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fetched\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

// TestRemoteKustomizeReferencesNeverLoad names remote bases and files in
// every spelling and field, and proves that no render starts git or
// makes a request, and that each fails on the kustomization's line.
func TestRemoteKustomizeReferencesNeverLoad(t *testing.T) {
	gitRan := fakeGit(t)
	url, requests := recorder(t)
	upper := "HTTP://" + strings.TrimPrefix(url, "http://")
	refs := []string{
		"github.com/x/y",
		"GitHub.COM/x/y",
		"github.com/x/y//deploy?ref=main",
		"git@github.com:x/y",
		"user@host:path",
		"deploy@host:x/y",
		"ssh://git@host.example/x/y",
		"https://github.com/x/y",
		url + "/x.yaml",
		upper + "/x.yaml",
		"git::" + url + "/x/y",
		"file:///tmp/repo",
		"host.example/x/y?ref=v1",
	}
	deploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
	type tc struct {
		name, kustomization string
		line                int
	}
	var cases []tc
	for _, ref := range refs {
		cases = append(cases,
			tc{"resources " + ref, "resources:\n  - deploy.yaml\n  - " + ref + "\n", 3},
			tc{"components " + ref, "resources:\n  - deploy.yaml\ncomponents:\n  - " + ref + "\n", 4},
			tc{"patch path " + ref, "resources:\n  - deploy.yaml\npatches:\n  - path: " + ref + "\n", 4},
		)
	}
	cases = append(cases,
		tc{"crds", "resources:\n  - deploy.yaml\ncrds:\n  - " + upper + "/crd.json\n", 4},
		tc{"configMapGenerator file", "resources:\n  - deploy.yaml\nconfigMapGenerator:\n  - name: c\n    files:\n      - k=" + url + "/f\n", 6},
		tc{"openapi", "resources:\n  - deploy.yaml\nopenapi:\n  path: " + url + "/s.json\n", 4},
		tc{"builtin transformer with a remote path", "resources:\n  - deploy.yaml\ntransformers:\n  - |-\n    apiVersion: builtin\n    kind: PatchTransformer\n    metadata:\n      name: p\n    path: " + url + "/p.yaml\n", 4},
		tc{"local directory named like a remote", "resources:\n  - deploy.yaml\n  - github.com/x/y\n", 3},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeFiles(t, map[string]string{
				"k/kustomization.yaml":                c.kustomization,
				"k/deploy.yaml":                       deploy,
				"k/github.com/x/y/kustomization.yaml": "resources: []\n",
			})
			_, _, err := Render(t.Context(), root, config.App{Name: "t", Path: "k"})
			errs := AsErrors(err)
			if len(errs) == 0 || errs[0].File != "k/kustomization.yaml" || errs[0].Line != c.line {
				t.Errorf("render = %v, want a refusal at k/kustomization.yaml:%d", err, c.line)
			}
		})
	}
	if gitRan() {
		t.Error("a render started git")
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("renders made %d HTTP requests", n)
	}
}

// TestKustomizationsAreCheckedWhenServed runs Kustomize directly on the
// confined view, without gantry's scan first: the view itself refuses a
// kustomization naming a remote base when Kustomize reads it, before
// Kustomize can act on the entry.
func TestKustomizationsAreCheckedWhenServed(t *testing.T) {
	gitRan := fakeGit(t)
	url, requests := recorder(t)
	for _, ref := range []string{"github.com/x/y", "git@github.com:x/y", url + "/x.yaml", "HTTP://" + strings.TrimPrefix(url, "http://") + "/x.yaml"} {
		root := writeFiles(t, map[string]string{
			"k/kustomization.yaml":      "resources:\n  - base\n",
			"k/base/kustomization.yaml": "resources:\n  - " + ref + "\n",
		})
		fsys, err := newRepoFS(t.Context(), root, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		fsys.strict = true
		_, err = runKrusty(fsys, fsys.fs.Abs("k"))
		fsys.close()
		v := fsys.Violation()
		errs := AsErrors(v)
		if err == nil || len(errs) == 0 || errs[0].File != "k/base/kustomization.yaml" || errs[0].Line != 2 {
			t.Errorf("%s: build = %v, violation %v; want a refusal at k/base/kustomization.yaml:2", ref, err, v)
		}
	}
	if gitRan() {
		t.Error("kustomize started git")
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("kustomize made %d HTTP requests", n)
	}
}

// TestHelmReachesNoNetworkOrCluster renders templates that call
// getHostByName and lookup: both come back empty.
func TestHelmReachesNoNetworkOrCluster(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"c/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"c/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n" +
			"  ip: {{ getHostByName \"localhost\" | quote }}\n" +
			"  secret: {{ lookup \"v1\" \"Secret\" \"kube-system\" \"\" | toJson | quote }}\n",
	})
	objs, _, err := Render(t.Context(), root, config.App{Name: "t", Path: "c"})
	if err != nil {
		t.Fatal(err)
	}
	got := objs[0].Object["data"]
	want := map[string]any{"ip": "", "secret": "{}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("template results (-want +got):\n%s", diff)
	}
}

// TestConcurrentKustomizeBuilds builds different kustomizations at once
// (run it with -race) and compares with builds one at a time.
func TestConcurrentKustomizeBuilds(t *testing.T) {
	apps := map[string]string{}
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d"} {
		files[n+"/kustomization.yaml"] = "namePrefix: " + n + "-\nnamespace: ns-" + n + "\nresources:\n  - deploy.yaml\nconfigMapGenerator:\n  - name: cfg\n    literals: [k=" + n + "]\npatches:\n  - path: patch.yaml\n"
		files[n+"/deploy.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx\n"
		files[n+"/patch.yaml"] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: " + map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}[n] + "\n"
		apps[n] = n
	}
	root := writeFiles(t, files)
	want := map[string]string{}
	for n := range apps {
		objs, _ := mustRender(t, root, config.App{Name: n, Path: n})
		want[n] = toYAML(t, objs)
	}
	objs, _ := mustRender(t, testRepo, loadApp(t, testRepo, "web-prod"))
	want["web-prod"] = toYAML(t, objs)

	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]string{}
	for range 3 {
		for n := range want {
			wg.Go(func() {
				rootOf, app := root, config.App{Name: n, Path: n}
				if n == "web-prod" {
					rootOf, app = testRepo, loadApp(t, testRepo, n)
				}
				objs, _, err := Render(t.Context(), rootOf, app)
				if err != nil {
					t.Errorf("%s: %v", n, err)
					return
				}
				y := toYAML(t, objs)
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := got[n]; ok && prev != y {
					t.Errorf("%s rendered differently in two concurrent builds", n)
				}
				got[n] = y
			})
		}
	}
	wg.Wait()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("concurrent builds differ from sequential ones (-want +got):\n%s", diff)
	}
}
