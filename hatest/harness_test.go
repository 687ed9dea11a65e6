package hatest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

const (
	hookSecret = "webhook-secret-for-hatest"
	owner      = "acme"
	repo       = "ops"
	// leaderYAML elects a leader on a short Lease, so the follower takes
	// over soon after the leader dies.
	leaderYAML = "state: {leaderElection: {enabled: true, leaseDuration: 3s}}\n"
)

// env is one GitHub simulator with acme/ops, a namespace of the local
// cluster, a server configuration both replicas share, and the Service in
// front of them: deliveries reach whichever replica is ready.
type env struct {
	t        *testing.T
	sim      *githubsim.Server
	ns       string
	config   string // the server configuration file
	replicas []*replica
	svc      *httptest.Server
	state    *cluster.Client
}

// newEnv creates acme/ops with files ("NS" replaced by the test's
// namespace) and writes the server configuration.
func newEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	e := &env{t: t, ns: kube.Namespace(t)}
	var err error
	if e.state, err = cluster.NewClient(kube.Config, cluster.DefaultClientOptions()); err != nil {
		t.Fatal(err)
	}
	e.sim = githubsim.New(githubsim.Options{T: t, AppSlug: "gantry"}).Start()
	withNS := map[string]string{}
	for k, v := range files {
		withNS[k] = strings.ReplaceAll(v, "NS", e.ns)
	}
	if _, err := e.sim.CreateRepo(owner, repo, githubsim.RepoOptions{Files: withNS}); err != nil {
		t.Fatal(err)
	}
	// acme/ops is every test's repository: start and end without its
	// locks and apply records of another test.
	e.forgetRepo()
	t.Cleanup(e.forgetRepo)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	key := write("key.pem", string(e.sim.AppPrivateKeyPEM()))
	secret := write("secret", hookSecret+"\n")
	e.config = write("gantry.yaml", fmt.Sprintf(`github: {appID: %d, privateKeyFile: %q, webhookSecretFile: %q, url: %q}
resyncInterval: 1h
clusters: [{name: local, kubeconfig: %q}]
repositories: [{match: [acme/ops], clusters: ["*"], namespaces: [%q]}]
%s`, e.sim.AppID(), key, secret, e.sim.URL()+"/api/v3/", kube.Kubeconfig, e.ns, leaderYAML))
	e.svc = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rp := range e.replicas {
			if rp.ready() {
				http.Redirect(w, r, rp.url+r.URL.Path, http.StatusTemporaryRedirect)
				return
			}
		}
		http.Error(w, "no ready replica", http.StatusServiceUnavailable)
	}))
	t.Cleanup(e.svc.Close)
	e.deliver()
	return e
}

// deliver sends deliveries to the Service again; lose drops them, as
// GitHub's are lost while no replica is ready.
func (e *env) deliver() { e.sim.SetWebhook(e.svc.URL+"/webhooks", hookSecret) }
func (e *env) lose()    { e.sim.SetWebhook("", "") }

// forgetRepo releases acme/ops's locks and deletes its records.
func (e *env) forgetRepo() {
	ctx := context.Background()
	locks, err := e.state.Locks(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range locks {
		if l.Repository == owner+"/"+repo {
			if err := e.state.ReleaseLock(ctx, l.Key(), ""); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	sel := cluster.RepositoryLabel + "=" + cluster.RepositoryHash(owner+"/"+repo)
	err = kube.Client.CoreV1().ConfigMaps("gantry-system").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel})
	if err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
}

// replica is one `gantry serve` process.
type replica struct {
	name string
	cmd  *exec.Cmd
	url  string
	log  string // its stderr: gantry's JSON log
	done chan struct{}
	// peakMiB is its peak resident memory, read from /proc while it runs.
	peakMiB float64
}

// start runs a replica: this test binary as `gantry serve`, with its own
// cache directory, on free loopback ports.
func (e *env) start(name string) *replica {
	e.t.Helper()
	port := freePort(e.t)
	r := &replica{name: name, url: "http://" + port, log: filepath.Join(e.t.TempDir(), name+".log"), done: make(chan struct{})}
	logf, err := os.Create(r.log)
	if err != nil {
		e.t.Fatal(err)
	}
	r.cmd = exec.Command(os.Args[0], "serve", "--config", e.config, "--cache-dir", e.t.TempDir(),
		"--listen", port, "--web-listen", "127.0.0.1:0", "--shutdown-grace", "5s")
	r.cmd.Env = append(os.Environ(), serveEnv+"=1")
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); logf.Close(); close(r.done) }()
	e.replicas = append(e.replicas, r)
	e.t.Cleanup(func() {
		r.stop()
		if e.t.Failed() {
			b, _ := os.ReadFile(r.log)
			e.t.Logf("log of replica %s:\n%s", r.name, b)
		}
	})
	return r
}

// kill ends the replica with SIGKILL: no deferred call, no Lease
// released, requests in flight cut.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.readPeak()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

// stop ends the replica gracefully, if it still runs.
func (r *replica) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

func (r *replica) ready() bool {
	select {
	case <-r.done:
		return false
	default:
	}
	resp, err := http.Get(r.url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitFor polls cond until it holds; two minutes bound a hang, they are
// not what is tested.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 2*time.Minute, what, cond)
}

// waitWithin is waitFor with its own bound, for work that grows with the
// long form.
func waitWithin(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leader waits for one replica to lead and returns it, failing when two
// are ready at once.
func (e *env) leader() *replica {
	e.t.Helper()
	var lead *replica
	waitFor(e.t, "a leader", func() bool {
		var ready []*replica
		for _, r := range e.replicas {
			if r.ready() {
				ready = append(ready, r)
			}
		}
		if len(ready) > 1 {
			e.t.Fatalf("%d replicas ready at once: only the leader may be", len(ready))
		}
		if len(ready) == 1 {
			lead = ready[0]
		}
		return lead != nil
	})
	return lead
}

// runs are the check runs on sha named name.
func (e *env) runs(sha, name string) []githubsim.CheckRun {
	var out []githubsim.CheckRun
	for _, r := range e.sim.CheckRuns(owner, repo, sha) {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// status is the status of the latest run on sha named name ("" if none).
func (e *env) status(sha, name string) string {
	rs := e.runs(sha, name)
	if len(rs) == 0 {
		return ""
	}
	return rs[len(rs)-1].Status
}

// planned reports whether both plan checks on sha completed.
func (e *env) planned(sha string) bool {
	return e.status(sha, report.CheckDiff) == "completed" && e.status(sha, report.CheckPolicy) == "completed"
}

// botComments are gantry's comments on pr.
func (e *env) botComments(pr int) []githubsim.Comment {
	var out []githubsim.Comment
	for _, c := range e.sim.Comments(owner, repo, pr) {
		if c.User == "gantry[bot]" {
			out = append(out, c)
		}
	}
	return out
}

func (e *env) openPR(branch string, files map[string]string) (int, string) {
	e.t.Helper()
	withNS := map[string]string{}
	for k, v := range files {
		withNS[k] = strings.ReplaceAll(v, "NS", e.ns)
	}
	n, head, err := e.sim.OpenPR("alice", owner, repo, githubsim.PullOptions{Head: branch, Base: "main", Title: branch, Files: withNS})
	if err != nil {
		e.t.Fatal(err)
	}
	return n, head
}

// lockHolder is the pull request holding app's lock, 0 when none.
func (e *env) lockHolder(app string) int {
	e.t.Helper()
	l, err := e.state.InspectLock(context.Background(), cluster.LockKey{Repository: owner + "/" + repo, App: app})
	if err != nil {
		e.t.Fatal(err)
	}
	if l == nil || l.Holder == "" {
		return 0
	}
	return l.PR
}

var errNoRecord = errors.New("no record")

// lastRecord is app's newest apply record.
func (e *env) lastRecord(app string) (cluster.ApplyRecord, error) {
	rs, err := e.state.Records(context.Background(), owner+"/"+repo, app)
	if err != nil {
		return cluster.ApplyRecord{}, err
	}
	last, ok := rs.Last()
	if !ok {
		return last, errNoRecord
	}
	return last, nil
}

// readPeak reads the replica's peak resident memory (VmHWM) while it runs.
func (r *replica) readPeak() {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.cmd.Process.Pid))
	if err != nil {
		return // ended, or no /proc: its last reading stands
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			r.peakMiB = max(r.peakMiB, kb/1024)
		}
	}
}

// report reports the scenario's row of the reliability table, with the
// peak memory of its busiest replica (the work runs in them, not here).
func (e *env) report(t *testing.T, clock *soak.Clock, row soak.Row) {
	t.Helper()
	for _, r := range e.replicas {
		r.readPeak()
		row.PeakMiB = max(row.PeakMiB, r.peakMiB)
	}
	clock.End(&row)
	soak.Report(t, row)
}

// twoReplicas starts replicas a and b on a new env of files and returns
// the env and the leader.
func twoReplicas(t *testing.T, files map[string]string) (*env, *replica) {
	t.Helper()
	e := newEnv(t, files)
	e.start("a")
	first := e.leader()
	e.start("b")
	return e, first
}

// mergeApplied merges pr as alice and waits for the merge's gantry/apply
// to complete; it returns the merge commit.
func (e *env) mergeApplied(pr int) string {
	e.t.Helper()
	merge, err := e.sim.MergePR("alice", owner, repo, pr)
	if err != nil {
		e.t.Fatal(err)
	}
	waitFor(e.t, fmt.Sprintf("#%d's apply", pr), func() bool { return e.status(merge, report.CheckApply) == "completed" })
	return merge
}
