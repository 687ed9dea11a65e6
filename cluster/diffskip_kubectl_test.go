package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/localcluster"
)

// dryRunLog records the names of the objects a client dry-ran.
type dryRunLog struct {
	mu    sync.Mutex
	names []string
}

func (l *dryRunLog) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPatch && r.URL.Query().Get("dryRun") == metav1.DryRunAll {
			l.mu.Lock()
			l.names = append(l.names, path.Base(r.URL.Path))
			l.mu.Unlock()
		}
		return next.RoundTrip(r)
	})
}

func (l *dryRunLog) sorted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.names)
	slices.Sort(out)
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// skipApp renders 12 each of ConfigMaps, Secrets, ServiceAccounts, Roles
// and Deployments, named cm-00, secret-00, sa-00, role-00, deploy-00…;
// changed lists the names rendered in their second version.
func skipApp(t *testing.T, ns string, changed ...string) []*unstructured.Unstructured {
	t.Helper()
	var b strings.Builder
	for i := range 12 {
		v := func(name string) int {
			if slices.Contains(changed, name) {
				return 2
			}
			return 1
		}
		cm, sec, sa, role, dep := fmt.Sprintf("cm-%02d", i), fmt.Sprintf("secret-%02d", i), fmt.Sprintf("sa-%02d", i), fmt.Sprintf("role-%02d", i), fmt.Sprintf("deploy-%02d", i)
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, labels: {team: a}}\ndata: {setting: \"v%d\"}\n", cm, v(cm))
		switch v(sec) {
		case 1:
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s}\nstringData: {user: u, password: p1}\n", sec)
		default: // a new value for secret-15-like changes, a new key otherwise
			if i%2 == 0 {
				fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s}\nstringData: {user: u, password: p1, token: t}\n", sec)
			} else {
				fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: %s}\nstringData: {user: u, password: p2}\n", sec)
			}
		}
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s, labels: {version: \"v%d\"}}\n", sa, v(sa))
		verbs := map[int]string{1: "[get, list]", 2: "[get, list, watch]"}[v(role)]
		fmt.Fprintf(&b, "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: %s}\nrules: [{apiGroups: [\"\"], resources: [configmaps], verbs: %s}]\n", role, verbs)
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: app, image: "registry.example/app:%[2]d.0"}]
`, dep, v(dep))
	}
	return objects(t, ns, b.String())
}

// TestDiffSkipKeepsKubectlDiffsChangedSet applies an app of 60 objects,
// then changes some in Git and drifts others live with kubectl (scale,
// label, annotate, set image, patch, delete), and holds gantry's changed
// set equal to that of `kubectl diff --server-side` given the objects as
// gantry sends them, on the same API server. The dry-runs gantry sends
// are recorded: exactly the objects not proven unchanged, so the test
// fails both when the skip is gone and when it skips a drifted object.
func TestDiffSkipKeepsKubectlDiffsChangedSet(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	assets, err := localcluster.Assets(false)
	if err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(assets, "kubectl"), append([]string{"--kubeconfig", cluster.Kubeconfig, "-n", ns}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	app := newApp(ns)
	app.Force = true // kubectl scale takes spec.replicas; apply takes it back
	app.Ignore = []config.IgnoreRule{{Kind: "Deployment", Name: "deploy-02", Pointers: []string{"/spec/replicas"}}}
	if _, err := newClient(t).Apply(ctx, app, skipApp(t, ns), ApplyOptions{Repository: testRepo, Prune: true}); err != nil {
		t.Fatal(err)
	}

	// Drift, each with kubectl's own field manager.
	for _, args := range [][]string{
		{"scale", "deployment/deploy-01", "--replicas=5"},
		{"scale", "deployment/deploy-02", "--replicas=5"}, // replicas ignored by the app
		{"label", "configmap/cm-03", "extra=x"},           // a field gantry does not set
		{"label", "configmap/cm-04", "team=b", "--overwrite"},
		{"annotate", "serviceaccount/sa-05", "note=x"},
		{"set", "image", "deployment/deploy-03", "app=registry.example/app:9.0"},
		{"patch", "role/role-06", "--type=json", `-p=[{"op":"replace","path":"/rules/0/verbs","value":["get"]}]`},
		{"delete", "configmap/cm-07"},
		{"patch", "secret/secret-08", "--type=json", `-p=[{"op":"remove","path":"/data/user"}]`},
	} {
		if out, err := kubectl(args...); err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	drifted := []string{"deploy-01", "deploy-02", "cm-03", "cm-04", "sa-05", "deploy-03", "role-06", "cm-07", "secret-08"}
	// The deployment controller annotates every Deployment it syncs
	// (deployment.kubernetes.io/revision) through the status subresource,
	// after gantry's apply; wait for it, so the test shows that such a
	// write does not cost a dry-run.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := cluster.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, d := range l.Items {
			if d.Annotations["deployment.kubernetes.io/revision"] == "" {
				return false, nil
			}
		}
		return len(l.Items) == 12, nil
	})
	if err != nil {
		t.Fatalf("deployments never annotated by their controller: %v", err)
	}

	// Change in Git: secret-10 gets a key, secret-11 a new value only.
	gitChanged := []string{"cm-10", "deploy-11", "role-09", "sa-09", "secret-10", "secret-11"}
	desired := skipApp(t, ns, gitChanged...)

	var log dryRunLog
	cfg := rest.CopyConfig(cluster.Config)
	cfg.WrapTransport = log.RoundTrip
	c, err := NewClient(cfg, DefaultClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, desired, DefaultDiffOptions(testRepo))
	if err != nil {
		t.Fatal(err)
	}
	var gantryChanged []string
	for _, o := range set.Objects {
		if o.Error != "" {
			t.Errorf("%s: %s", o.Object, o.Error)
		}
		if o.Action != ActionUnchanged {
			gantryChanged = append(gantryChanged, o.Object.Name)
		}
	}
	slices.Sort(gantryChanged)

	// kubectl diff of the objects as gantry sends them (owner marks,
	// ignore rules and the applied hash), with the real Secret values.
	ps, err := c.plan(ctx, normalRepository(testRepo), app, desired)
	if err != nil {
		t.Fatal(err)
	}
	var manifest bytes.Buffer
	for _, p := range ps {
		y, err := yaml.Marshal(p.desired.Object)
		if err != nil {
			t.Fatal(err)
		}
		manifest.WriteString("---\n")
		manifest.Write(y)
	}
	file := filepath.Join(t.TempDir(), "desired.yaml")
	if err := os.WriteFile(file, manifest.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := kubectl("diff", "--server-side", "--force-conflicts", "--field-manager="+FieldManager, "-f", file)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		t.Fatalf("kubectl diff: %v\n%s", err, out)
	}
	kubectlChanged := changedInKubectlDiff(out)
	slices.Sort(kubectlChanged)

	// kubectl shows a Secret whose value alone changed; gantry never says
	// whether a value changed (see maskSecrets).
	kubectlChanged = slices.DeleteFunc(kubectlChanged, func(n string) bool { return n == "secret-11" })
	want := []string{"cm-04", "cm-07", "cm-10", "deploy-01", "deploy-03", "deploy-11", "role-06", "role-09", "sa-09", "secret-08", "secret-10"}
	if diff := cmp.Diff(want, gantryChanged); diff != "" {
		t.Errorf("gantry's changed set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(kubectlChanged, gantryChanged); diff != "" {
		t.Errorf("gantry's changed set against kubectl diff's (-kubectl +gantry):\n%s\nkubectl diff:\n%s", diff, out)
	}

	// Dry-run: every drifted or re-rendered object; not the rest, nor
	// secret-11, whose keys are those gantry applied.
	wantDryRuns := slices.Concat(drifted, slices.DeleteFunc(slices.Clone(gitChanged), func(n string) bool { return n == "secret-11" }))
	slices.Sort(wantDryRuns)
	if diff := cmp.Diff(wantDryRuns, log.sorted()); diff != "" {
		t.Errorf("objects dry-run (-want +got):\n%s", diff)
	}
}

// changedInKubectlDiff names the objects a `kubectl diff` output shows a
// change of, other than in the fields gantry's diff leaves out as its own
// bookkeeping or the server's: AppliedAnnotation, and generation (which a
// Deployment bumps when an annotation changes).
func changedInKubectlDiff(out string) []string {
	changed := map[string]bool{}
	var current string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "diff "):
			f := strings.Fields(line)
			base := filepath.Base(f[len(f)-1]) // e.g. apps.v1.Deployment.<ns>.deploy-01
			current = base[strings.LastIndex(base, ".")+1:]
		case strings.HasPrefix(line, "+++") || strings.HasPrefix(line, "---"):
		case strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-"):
			text := strings.TrimSpace(line[1:])
			if strings.HasPrefix(text, AppliedAnnotation+":") || strings.HasPrefix(text, "generation:") {
				continue
			}
			changed[current] = true
		}
	}
	var names []string
	for n := range changed {
		names = append(names, n)
	}
	return names
}
