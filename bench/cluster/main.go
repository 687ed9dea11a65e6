// Command bench measures gantry's diff and apply against kubectl and
// against the floor (concurrent server-side apply dry-runs with a bare
// client) on a local cluster. It is run by hack/bench-cluster.sh (make
// bench); it is not product code.
//
// The orchestrator starts a local API server, writes two versions of the
// objects as YAML, and runs every measured step as a child process (itself
// with a subcommand, or kubectl), so each step's wall time and peak RSS
// are its own.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	ssa "github.com/fluxcd/pkg/ssa"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/localcluster"
)

func main() {
	if len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "-") {
		if err := child(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := orchestrate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is what a child reports on its last stdout line.
type result struct {
	Seconds float64 `json:"seconds"`
	Summary string  `json:"summary"`
}

// ---- objects ----------------------------------------------------------

var kinds = []string{"ConfigMap", "Deployment", "Secret", "ServiceAccount", "Role"}

// manifest returns n objects in ns, 1/5 of each kind; version 2 changes
// every object whose index mod 10 is below 3 (30%), version 3 the first
// object only (a PR that touches one object of a large app).
func manifest(ns string, n, version int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		kind := kinds[i%len(kinds)]
		v := 1
		if (version == 2 && (i/len(kinds))%10 < 3) || (version == 3 && i == 0) {
			v = 2
		}
		name := fmt.Sprintf("%s-%04d", strings.ToLower(kind), i)
		b.WriteString("---\n")
		switch kind {
		case "ConfigMap":
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {setting: \"value-%d\", feature: \"on\", version: \"%d\"}\n", name, ns, i, v)
		case "Secret":
			pw := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("password-%d-v%d", i, v)))
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\ntype: Opaque\ndata: {password: %s}\n", name, ns, pw)
		case "ServiceAccount":
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s, namespace: %s, labels: {version: \"v%d\"}}\n", name, ns, v)
		case "Role":
			verbs := "[get, list]"
			if v == 2 {
				verbs = "[get, list, watch]"
			}
			fmt.Fprintf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: %s, namespace: %s}\nrules: [{apiGroups: [\"\"], resources: [configmaps], verbs: %s}]\n", name, ns, verbs)
		case "Deployment":
			fmt.Fprintf(&b, `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: app
        image: registry.example/app:%[3]d.0
        ports: [{containerPort: 8080}]
        resources: {requests: {cpu: 10m, memory: 16Mi}}
`, name, ns, v)
		}
	}
	return b.String()
}

func readObjects(file string) ([]*unstructured.Unstructured, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	var out []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			out = append(out, u)
		}
	}
}

// ---- children ---------------------------------------------------------

func child(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	file := fs.String("f", "", "objects")
	ns := fs.String("ns", "", "namespace (app name too)")
	workers := fs.Int("concurrency", 64, "workers for the fluxcd/pkg/ssa steps")
	gantryWorkers := fs.Int("gantry-concurrency", 0, "gantry's Concurrency (0: default)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the step to this file")
	floorWorkers := fs.Int("floor-workers", 0, "requests in flight for the floor steps (0: all at once)")
	_ = fs.Parse(args)
	objs, err := readObjects(*file)
	if err != nil {
		return err
	}
	cfg, err := cluster.RESTConfig(*kubeconfig, "")
	if err != nil {
		return err
	}
	app := config.App{Name: *ns, Namespace: *ns}
	ctx := context.Background()
	var reqs requestCounter
	cfg.WrapTransport = reqs.wrap
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	var summary string
	switch cmd {
	case "gantry-diff":
		c, err := cluster.NewClient(cfg, cluster.ClientOptions{Concurrency: *gantryWorkers})
		if err != nil {
			return err
		}
		set, err := c.Diff(ctx, app, objs, cluster.DefaultDiffOptions(cluster.LocalRepository))
		if err != nil {
			return err
		}
		n := set.Counts()
		summary = fmt.Sprintf("%d update, %d unchanged, %d create, %d errors", n.Update, n.Unchanged, n.Create, n.Errors)
		if n.Errors > 0 {
			var first string
			for _, o := range set.Objects {
				if o.Error != "" {
					first = o.Error
					break
				}
			}
			summary += ": " + first
		}
	case "gantry-apply":
		c, err := cluster.NewClient(cfg, cluster.ClientOptions{Concurrency: *gantryWorkers})
		if err != nil {
			return err
		}
		cs, err := c.Apply(ctx, app, objs, cluster.ApplyOptions{Repository: cluster.LocalRepository, Prune: true})
		if err != nil {
			return err
		}
		summary = fmt.Sprintf("%d created, %d configured, %d unchanged", cs.Count(cluster.ChangeCreated), cs.Count(cluster.ChangeConfigured), cs.Count(cluster.ChangeUnchanged))
	case "floor":
		summary, err = floor(ctx, cfg, objs, true, *floorWorkers)
	case "apply-floor":
		summary, err = floor(ctx, cfg, objs, false, *floorWorkers)
	case "flux-diff":
		summary, err = fluxDiff(ctx, cfg, objs, *workers)
	case "flux-apply":
		summary, err = fluxApply(ctx, cfg, objs, *workers)
	default:
		return fmt.Errorf("unknown step %q", cmd)
	}
	if err != nil {
		return err
	}
	if strings.HasPrefix(cmd, "gantry-") {
		summary += "; " + reqs.String()
	}
	return json.NewEncoder(os.Stdout).Encode(result{Seconds: time.Since(start).Seconds(), Summary: summary})
}

var gvrs = map[string]schema.GroupVersionResource{
	"ConfigMap":      {Version: "v1", Resource: "configmaps"},
	"Secret":         {Version: "v1", Resource: "secrets"},
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
	"Role":           {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"Deployment":     {Group: "apps", Version: "v1", Resource: "deployments"},
}

// requestCounter counts a client's requests by verb, dry-runs apart: how
// many requests per object a step costs.
type requestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *requestCounter) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		verb := r.Method
		if r.URL.Query().Get("dryRun") != "" {
			verb += " dry-run"
		}
		if strings.HasPrefix(r.URL.Path, "/api") && !strings.Contains(r.URL.Path, "/namespaces/") && r.Method == http.MethodGet {
			verb = "GET discovery or cluster-scoped"
		}
		c.mu.Lock()
		if c.counts == nil {
			c.counts = map[string]int{}
		}
		c.counts[verb]++
		c.mu.Unlock()
		return next.RoundTrip(r)
	})
}

func (c *requestCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	verbs := make([]string, 0, len(c.counts))
	for v := range c.counts {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	parts := make([]string, len(verbs))
	for i, v := range verbs {
		parts[i] = fmt.Sprintf("%d %s", c.counts[v], v)
	}
	return "requests: " + strings.Join(parts, ", ")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// floor sends every server-side apply (a dry-run when dryRun) at once, or
// workers at a time, with a bare client without a rate limit: the fastest
// the API server can answer, and nothing else.
func floor(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, dryRun bool, workers int) (string, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	if workers <= 0 {
		workers = len(objs)
	}
	slots := make(chan struct{}, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for _, o := range objs {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			opts := metav1.ApplyOptions{FieldManager: cluster.FieldManager}
			if dryRun {
				opts.DryRun = []string{metav1.DryRunAll}
			}
			_, err := dyn.Resource(gvrs[o.GetKind()]).Namespace(o.GetNamespace()).Apply(ctx, o.GetName(), o, opts)
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	what := "applies"
	if dryRun {
		what = "dry-runs"
	}
	return fmt.Sprintf("%d %s, %d failed", len(objs), what, failed), nil
}

func fluxManager(cfg *rest.Config, workers int) (*ssa.ResourceManager, error) {
	cfg = rest.CopyConfig(cfg)
	o := cluster.DefaultClientOptions()
	cfg.QPS, cfg.Burst = o.QPS, o.Burst
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	m := ssa.NewResourceManager(c, nil, ssa.Owner{Field: cluster.FieldManager, Group: "gantry.dev"})
	m.SetConcurrency(workers)
	return m, nil
}

// fluxDiff diffs with fluxcd/pkg/ssa's ResourceManager.Diff, one object per
// call (a GET and a dry-run each), with a bounded pool.
func fluxDiff(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, workers int) (string, error) {
	m, err := fluxManager(cfg, workers)
	if err != nil {
		return "", err
	}
	var mu sync.Mutex
	counts := map[ssa.Action]int{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, o := range objs {
		g.Go(func() error {
			e, _, _, err := m.Diff(gctx, o, ssa.DefaultDiffOptions())
			if err != nil {
				return err
			}
			mu.Lock()
			counts[e.Action]++
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d configured, %d unchanged", counts[ssa.ConfiguredAction], counts[ssa.UnchangedAction]), nil
}

// fluxApply applies with fluxcd/pkg/ssa's ApplyAllStaged.
func fluxApply(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured, workers int) (string, error) {
	m, err := fluxManager(cfg, workers)
	if err != nil {
		return "", err
	}
	cs, err := m.ApplyAllStaged(ctx, objs, ssa.DefaultApplyOptions())
	if err != nil {
		return "", err
	}
	g := cs.ToGroupedMap()
	return fmt.Sprintf("%d created, %d configured, %d unchanged", len(g[ssa.CreatedAction]), len(g[ssa.ConfiguredAction]), len(g[ssa.UnchangedAction])), nil
}

// ---- orchestrator -------------------------------------------------------

type step struct {
	name    string
	wall    time.Duration
	inner   float64
	rss     int64
	summary string
	// server is the CPU time kube-apiserver and etcd spent during the
	// step: the server's share of the work, beside the client's.
	server time.Duration
}

// serverCPU is the CPU time used so far by this process's children named
// kube-apiserver or etcd (the local cluster envtest started), read from
// /proc; zero where /proc is not there.
func serverCPU() time.Duration {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	var ticks int64
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: fields after the comm's ')'.
		text := string(stat)
		open, end := strings.IndexByte(text, '('), strings.LastIndexByte(text, ')')
		if open < 0 || end < open {
			continue
		}
		comm := text[open+1 : end]
		if comm != "kube-apiserver" && comm != "etcd" {
			continue
		}
		f := strings.Fields(text[end+1:])
		var ppid, utime, stime int64
		if len(f) < 13 {
			continue
		}
		fmt.Sscan(f[1], &ppid)
		if int(ppid) != self {
			continue
		}
		fmt.Sscan(f[11], &utime)
		fmt.Sscan(f[12], &stime)
		ticks += utime + stime
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func orchestrate() error {
	n := flag.Int("n", 1500, "objects")
	kubectl := flag.String("kubectl", "", "kubectl built from the same k8s.io/kubernetes module (default: the local cluster's assets)")
	skipKubectlDiff := flag.Bool("skip-kubectl-diff", false, "skip kubectl diff (the slowest step)")
	workers := flag.Int("flux-concurrency", 64, "workers for the fluxcd/pkg/ssa steps")
	gantryWorkers := flag.Int("gantry-concurrency", 0, "gantry's Concurrency (0: its default)")
	profiles := flag.String("cpuprofile-dir", "", "write CPU profiles of gantry's create apply and diffs here (go tool pprof)")
	flag.Parse()
	if *kubectl == "" {
		dir, err := localcluster.Assets(false)
		if err != nil {
			return err
		}
		*kubectl = filepath.Join(dir, "kubectl")
	}
	ctx := context.Background()
	fmt.Fprintln(os.Stderr, "starting local cluster (etcd, kube-apiserver)…")
	lc, err := localcluster.Start(ctx, localcluster.Options{})
	if err != nil {
		return err
	}
	defer lc.Stop()
	dir, err := os.MkdirTemp("", "gantry-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for _, ns := range []string{"gantry", "kubectl", "flux", "floor", "floor32"} {
		if err := run(ctx, nil, *kubectl, "--kubeconfig", lc.Kubeconfig, "create", "namespace", ns); err != nil {
			return err
		}
		for v := 1; v <= 3; v++ {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-v%d.yaml", ns, v)), []byte(manifest(ns, *n, v)), 0o600); err != nil {
				return err
			}
		}
	}
	f := func(ns string, v int) string { return filepath.Join(dir, fmt.Sprintf("%s-v%d.yaml", ns, v)) }
	kc := lc.Kubeconfig
	var steps []step
	measure := func(name string, args ...string) error {
		fmt.Fprintf(os.Stderr, "%s…\n", name)
		before := serverCPU()
		s, err := measureChild(ctx, name, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.server = serverCPU() - before
		fmt.Fprintf(os.Stderr, "  %.2fs (server CPU %.2fs) %s\n", s.wall.Seconds(), s.server.Seconds(), s.summary)
		steps = append(steps, s)
		return nil
	}
	profile := func(name string) []string {
		if *profiles == "" {
			return nil
		}
		return []string{"-cpuprofile", filepath.Join(*profiles, name+".pprof")}
	}
	kubectlArgs := func(args ...string) []string {
		return append([]string{*kubectl, "--kubeconfig", kc}, args...)
	}
	gantry := func(step, ns string, v int) []string {
		return []string{self, step, "-kubeconfig", kc, "-ns", ns, "-f", f(ns, v), "-concurrency", fmt.Sprint(*workers), "-gantry-concurrency", fmt.Sprint(*gantryWorkers)}
	}

	// v1 everywhere: the create timings.
	if err := measure("create: kubectl apply --server-side", kubectlArgs("apply", "--server-side", "-f", f("kubectl", 1))...); err != nil {
		return err
	}
	if err := measure("create: floor (concurrent applies, bare client)", gantry("apply-floor", "floor", 1)...); err != nil {
		return err
	}
	if err := measure("create: floor (32 applies in flight, bare client)", append(gantry("apply-floor", "floor32", 1), "-floor-workers", "32")...); err != nil {
		return err
	}
	if err := measure("create: gantry apply", append(gantry("gantry-apply", "gantry", 1), profile("create-gantry-apply")...)...); err != nil {
		return err
	}
	if err := measure("create: fluxcd/pkg/ssa ApplyAllStaged", gantry("flux-apply", "flux", 1)...); err != nil {
		return err
	}
	// The diffs against v1, all on the gantry namespace: v2 changes 30%
	// of the objects, v3 one.
	for _, d := range []struct {
		label string
		v     int
	}{{"diff 30%", 2}, {"diff 1 object", 3}} {
		if !*skipKubectlDiff {
			if err := measure(d.label+": kubectl diff --server-side", kubectlArgs("diff", "--server-side", "--field-manager", cluster.FieldManager, "-f", f("gantry", d.v))...); err != nil {
				return err
			}
		}
		if err := measure(d.label+": floor (concurrent dry-runs, bare client)", gantry("floor", "gantry", d.v)...); err != nil {
			return err
		}
		if d.v == 2 {
			if err := measure(d.label+": fluxcd/pkg/ssa Diff", gantry("flux-diff", "gantry", d.v)...); err != nil {
				return err
			}
		}
		if err := measure(d.label+": gantry diff", append(gantry("gantry-diff", "gantry", d.v), profile(fmt.Sprintf("diff-v%d", d.v))...)...); err != nil {
			return err
		}
	}
	// v2: the update timings.
	if err := measure("update: kubectl apply --server-side", kubectlArgs("apply", "--server-side", "-f", f("kubectl", 2))...); err != nil {
		return err
	}
	if err := measure("update: fluxcd/pkg/ssa ApplyAllStaged", gantry("flux-apply", "flux", 2)...); err != nil {
		return err
	}
	if err := measure("update: gantry apply", gantry("gantry-apply", "gantry", 2)...); err != nil {
		return err
	}
	report(os.Stdout, *n, steps)
	return nil
}

// run runs a command and fails with its output.
func run(ctx context.Context, stdout io.Writer, name string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

func measureChild(ctx context.Context, name string, args ...string) (step, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	s := step{name: name, wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rss = ru.Maxrss * 1024
	}
	var exit *exec.ExitError
	// kubectl diff exits 1 when there are differences.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1 && strings.Contains(name, "kubectl diff")) {
		return s, fmt.Errorf("%w\n%s", err, tail(stderr.String()+stdout.String()))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var r result
	if json.Unmarshal([]byte(lines[len(lines)-1]), &r) == nil && r.Seconds > 0 {
		s.inner, s.summary = r.Seconds, r.Summary
	} else {
		s.summary = fmt.Sprintf("%d output lines", len(lines))
	}
	return s, nil
}

func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

func report(w io.Writer, n int, steps []step) {
	by := map[string]step{}
	for _, s := range steps {
		by[s.name] = s
	}
	fmt.Fprintf(w, "\n%d objects (ConfigMap, Deployment, Secret, ServiceAccount, Role; v2 changes 30%%, v3 one object), one run:\n\n", n)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tprocess wall\tin-process\tserver CPU\tpeak RSS\tresult\t")
	for _, s := range steps {
		inner := "-"
		if s.inner > 0 {
			inner = fmt.Sprintf("%.2fs", s.inner)
		}
		fmt.Fprintf(tw, "%s\t%.2fs\t%s\t%.2fs\t%d MB\t%s\t\n", s.name, s.wall.Seconds(), inner, s.server.Seconds(), s.rss>>20, s.summary)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, d := range []struct {
		label, goal string
		ok          func(seconds, floor float64) bool
	}{
		{"diff 30%", "goal < 0.5x floor", func(g, f float64) bool { return g < 0.5*f }},
		{"diff 1 object", "goal < 0.3s", func(g, f float64) bool { return g < 0.3 }},
	} {
		floor, gd := by[d.label+": floor (concurrent dry-runs, bare client)"], by[d.label+": gantry diff"]
		if floor.inner > 0 && gd.inner > 0 {
			fmt.Fprintf(w, "%s: gantry diff %.2fs, floor %.2fs: %.2fx floor (in-process; process wall %.2fx)  (%s) %s\n",
				d.label, gd.inner, floor.inner, gd.inner/floor.inner, gd.wall.Seconds()/floor.wall.Seconds(), d.goal, verdict(d.ok(gd.inner, floor.inner)))
		}
		if kd, ok := by[d.label+": kubectl diff --server-side"]; ok && gd.wall > 0 {
			fmt.Fprintf(w, "%s: kubectl diff / gantry diff (wall): %.1fx\n", d.label, kd.wall.Seconds()/gd.wall.Seconds())
		}
	}
	for _, phase := range []string{"create", "update"} {
		k, g := by[phase+": kubectl apply --server-side"], by[phase+": gantry apply"]
		if g.wall > 0 {
			r := k.wall.Seconds() / g.wall.Seconds()
			fmt.Fprintf(w, "%s: kubectl apply / gantry apply (wall): %.1fx  (goal >= 3x) %s\n", phase, r, verdict(r >= 3))
		}
	}
	g := by["create: gantry apply"]
	for _, f := range []string{"create: floor (concurrent applies, bare client)", "create: floor (32 applies in flight, bare client)"} {
		if fl := by[f]; fl.inner > 0 && g.inner > 0 {
			fmt.Fprintf(w, "create: gantry apply / %s (in-process): %.2fx\n", strings.TrimPrefix(f, "create: "), g.inner/fl.inner)
		}
	}
	if k := by["create: kubectl apply --server-side"]; k.wall > 0 && k.server > 0 {
		// Serial kubectl already keeps the server this busy: no client can
		// beat it by more than the cores the server has over this.
		fmt.Fprintf(w, "create: server CPU / wall under kubectl apply: %.2f cores busy; under gantry apply: %.2f\n",
			k.server.Seconds()/k.wall.Seconds(), g.server.Seconds()/g.wall.Seconds())
	}
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}
