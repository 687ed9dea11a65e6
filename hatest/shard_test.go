package hatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gantryops/gantry/bot"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

// shardRepos is how many repositories the sharded scenarios spread over:
// acme/ops-0 .. acme/ops-7.
const shardRepos = 8

// shardEnv is an env whose replicas share shards of acme/ops-0..7 rather
// than electing a leader.
type shardEnv struct {
	*env
	shards int
}

// newShardEnv makes acme/ops-0..7 (each with three apps) and a server
// configuration with shards shards on a 3s Lease.
func newShardEnv(t *testing.T, shards int) *shardEnv {
	t.Helper()
	e := newEnv(t, planFiles)
	for i := range shardRepos {
		withNS := map[string]string{}
		for k, v := range planFiles {
			withNS[k] = strings.ReplaceAll(v, "NS", e.ns)
		}
		if _, err := e.sim.CreateRepo(owner, shardRepo(i), githubsim.RepoOptions{Files: withNS}); err != nil {
			t.Fatal(err)
		}
	}
	se := &shardEnv{env: e, shards: shards}
	se.forgetLocks()
	t.Cleanup(se.forgetLocks)
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), "match: [acme/ops]", `match: ["acme/*"]`, 1)
	s = strings.Replace(s, leaderYAML, fmt.Sprintf("state: {shards: %d, leaderElection: {leaseDuration: 3s}}\n", shards), 1)
	if err := os.WriteFile(e.config, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return se
}

func shardRepo(i int) string { return "ops-" + strconv.Itoa(i) }

// forgetLocks releases the locks of acme/ops-0..7.
func (e *shardEnv) forgetLocks() {
	ctx := context.Background()
	locks, err := e.state.Locks(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range locks {
		if strings.HasPrefix(l.Repository, owner+"/ops-") {
			if err := e.state.ReleaseLock(ctx, l.Key(), ""); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// holders maps each shard to the address of the live replica holding
// it, "" when none does.
func (e *shardEnv) holders() map[int]string {
	out := map[int]string{}
	for i := range e.shards {
		l, err := kube.Client.CoordinationV1().Leases(cluster.DefaultClientOptions().SystemNamespace).Get(context.Background(), fmt.Sprintf("gantry-shard-%d-%d", e.shards, i), metav1.GetOptions{})
		if err != nil || ptr.Deref(l.Spec.HolderIdentity, "") == "" {
			out[i] = ""
			continue
		}
		addr := l.Annotations["gantry.dev/address"]
		for _, r := range e.replicas {
			if r.url == addr && r.alive() {
				out[i] = addr
			}
		}
	}
	return out
}

// spread waits until every shard is held by a live replica and each of
// want replicas holds at least one.
func (e *shardEnv) spread(want int) map[int]string {
	var h map[int]string
	waitFor(e.t, fmt.Sprintf("the %d shards spread over %d replicas", e.shards, want), func() bool {
		h = e.holders()
		by := map[string]bool{}
		for _, a := range h {
			if a == "" {
				return false
			}
			by[a] = true
		}
		return len(by) == min(want, e.shards)
	})
	return h
}

// repoHeldBy is a repository of acme/ops-0..7 whose shard replica r holds.
func (e *shardEnv) repoHeldBy(r *replica, h map[int]string) string {
	for i := range shardRepos {
		if h[bot.ShardOf(owner+"/"+shardRepo(i), e.shards)] == r.url {
			return shardRepo(i)
		}
	}
	e.t.Fatalf("replica %s holds none of the repositories' shards: %v", r.name, h)
	return ""
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// plannedIn says whether a head of repository name has exactly one
// gantry/diff and one gantry/policy run, both completed; runs counts
// them.
func (e *shardEnv) plannedIn(name, head string) (done bool, runs int) {
	diff, policy := 0, 0
	for _, r := range e.sim.CheckRuns(owner, name, head) {
		switch r.Name {
		case report.CheckDiff:
			diff++
			done = r.Status == "completed"
		case report.CheckPolicy:
			policy++
			done = done && r.Status == "completed"
		}
	}
	return done && diff == 1 && policy == 1, diff + policy
}

// checkOnce asserts that every head has one completed, green run per
// check and its pull request one gantry comment.
func (e *shardEnv) checkOnce(heads map[string]map[int]string) {
	e.t.Helper()
	for name, prs := range heads {
		for pr, head := range prs {
			for _, check := range []string{report.CheckDiff, report.CheckPolicy} {
				var rs []githubsim.CheckRun
				for _, r := range e.sim.CheckRuns(owner, name, head) {
					if r.Name == check {
						rs = append(rs, r)
					}
				}
				if len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
					e.t.Errorf("%s#%d: %s on %.7s: %+v, want one completed run, green", name, pr, check, head, rs)
				}
			}
			n := 0
			for _, c := range e.sim.Comments(owner, name, pr) {
				if c.User == "gantry[bot]" {
					n++
				}
			}
			if n != 1 {
				e.t.Errorf("%s#%d has %d gantry comments, want 1", name, pr, n)
			}
		}
	}
}

func (e *shardEnv) open(name, branch, app, value string) (int, string) {
	e.t.Helper()
	n, head, err := e.sim.OpenPR("alice", owner, name, githubsim.PullOptions{Head: branch, Base: "main", Title: branch,
		Files: map[string]string{"apps/" + app + "/cm.yaml": configMap(app+"-config", "v", strconv.Quote(value))}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n, head
}

func logHas(t *testing.T, r *replica, s string) bool {
	t.Helper()
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), s)
}

// TestShardsSplitForwardAndTakeOver: two replicas share two shards, one
// each, both ready. A delivery for a repository of a's shard sent to b is
// forwarded to a and planned once. With a plan of a's stalled inside its
// comment POST, a is SIGKILLed and a pull request of its shard is opened
// (its delivery reaching b before b holds the shard): b takes a's shard
// when its Lease expires and completes the stalled plan's own check runs
// and plans the new one, each once.
func TestShardsSplitForwardAndTakeOver(t *testing.T) {
	clock := soak.Start()
	e := newShardEnv(t, 2)
	a := e.start("a")
	b := e.start("b")
	h := e.spread(2)
	waitFor(t, "both replicas ready", func() bool { return a.ready() && b.ready() })
	name := e.repoHeldBy(a, h)

	// A delivery to the replica that does not hold the shard.
	e.sim.SetWebhook(b.url+"/webhooks", hookSecret)
	pr1, head1 := e.open(name, "forwarded", "web", "1")
	waitFor(t, "the forwarded delivery's plan", func() bool { done, _ := e.plannedIn(name, head1); return done })
	if !logHas(t, b, "delivery forwarded to its shard's holder") {
		t.Error("b did not forward the delivery of a's shard")
	}
	if logHas(t, b, "plan published") {
		t.Error("b planned a pull request of a's shard")
	}

	// a stalls inside a plan's comment POST, then dies.
	hits, remove := e.sim.InjectCountedFault(githubsim.Slow(time.Hour).On("POST", commentsRoute).Times(1))
	defer remove()
	pr2, head2 := e.open(name, "stalled", "api", "2")
	waitFor(t, "a's plan inside its comment POST", func() bool { return hits() == 1 })
	var left []int64
	for _, r := range e.sim.CheckRuns(owner, name, head2) {
		left = append(left, r.ID)
	}
	a.kill(t)
	killed := time.Now()
	remove()
	pr3, head3 := e.open(name, "after-kill", "db", "3")
	for _, head := range []string{head2, head3} {
		waitFor(t, "the plan of "+head[:7]+" by b", func() bool { done, _ := e.plannedIn(name, head); return done })
	}
	t.Logf("a killed → b planned a's two heads in %s (Lease 3s; measured, not asserted)", time.Since(killed).Round(time.Millisecond))
	e.checkOnce(map[string]map[int]string{name: {pr1: head1, pr2: head2, pr3: head3}})
	var now []int64
	for _, r := range e.sim.CheckRuns(owner, name, head2) {
		now = append(now, r.ID)
	}
	if fmt.Sprint(now) != fmt.Sprint(left) {
		t.Errorf("check runs of the stalled head: %v, want the runs %v a left, completed by b", now, left)
	}
	if got := e.holders(); got[0] != b.url || got[1] != b.url {
		t.Errorf("shards after a's death: %v, want both held by b (%s)", got, b.url)
	}
	e.report(t, clock, soak.Row{Scenario: "sharded: wrong replica, then holder killed", Load: "2 replicas, 2 shards; 3 pull requests of one repository",
		Faults:  "a delivery sent to the replica not holding its shard; SIGKILL of the holder inside a plan's comment POST",
		Outcome: "the delivery was forwarded and planned once; the survivor took the shard, completed the dead replica's runs and planned the new head once", Lost: "none"})
}

// burstFigures says what TestShardedBurst measures, from
// GANTRY_SHARD_BENCH ("replicas=4,prs=40,kill=1"); the default is the
// short form the test suite runs.
func burstFigures(t *testing.T) (replicas, prs int, kill bool) {
	replicas, prs, kill = 2, 16, true
	for _, kv := range strings.Split(os.Getenv("GANTRY_SHARD_BENCH"), ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		switch {
		case kv == "":
		case err != nil:
			t.Fatalf("GANTRY_SHARD_BENCH: %q is not key=number", kv)
		case k == "replicas":
			replicas = n
		case k == "prs":
			prs = n
		case k == "kill":
			kill = n != 0
		default:
			t.Fatalf("GANTRY_SHARD_BENCH: unknown %q", k)
		}
	}
	return replicas, prs, kill
}

// TestShardedBurst opens a burst of pull requests over acme/ops-0..7 at
// once, deliveries spread round-robin over the replicas (as a Service
// does), and measures pull requests planned per minute. With kill, the
// replica holding the most shards is SIGKILLed once a quarter of the
// burst is planned; nothing is lost: every head ends with one green run
// per check and one comment.
func TestShardedBurst(t *testing.T) {
	replicas, n, kill := burstFigures(t)
	clock := soak.Start()
	e := newShardEnv(t, 8)
	if kill && replicas > 1 {
		// A delivery in flight to the replica when it is killed is lost,
		// as it would be from GitHub; the resync is what plans its pull
		// request, so it runs every minute here (the harness's is an
		// hour). The takeover's own resync covers the dead replica's
		// shards at once; this one covers the survivors' shards.
		cfg, err := os.ReadFile(e.config)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(e.config, []byte(strings.Replace(string(cfg), "resyncInterval: 1h", "resyncInterval: 1m", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var rs []*replica
	for i := range replicas {
		rs = append(rs, e.start(string(rune('a'+i))))
	}
	h := e.spread(replicas)
	for _, r := range rs {
		waitFor(t, "replica "+r.name+" ready", r.ready)
	}
	// Round-robin over the live replicas, as a Service spreads them. A
	// replica that refuses the connection never saw the delivery (it was
	// killed after it was picked): the next one gets it, as a Service
	// routes a new connection past an endpoint that is gone. A delivery
	// a replica accepted is never sent twice.
	var mu sync.Mutex
	next := 0
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for range rs {
			mu.Lock()
			rp := rs[next%len(rs)]
			next++
			mu.Unlock()
			if !rp.alive() {
				continue
			}
			req, err := http.NewRequestWithContext(r.Context(), r.Method, rp.url+r.URL.Path, bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			req.Header = r.Header.Clone()
			resp, err := http.DefaultTransport.RoundTrip(req)
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			answer, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(answer)
			return
		}
		http.Error(w, "no replica", http.StatusServiceUnavailable)
	}))
	defer lb.Close()
	e.sim.SetWebhook(lb.URL+"/webhooks", hookSecret)
	heads := map[string]map[int]string{}
	start := time.Now()
	for i := range n {
		name := shardRepo(i % shardRepos)
		pr, head := e.open(name, fmt.Sprintf("burst-%d", i), []string{"web", "api", "db"}[i%3], strconv.Itoa(i))
		if heads[name] == nil {
			heads[name] = map[int]string{}
		}
		heads[name][pr] = head
	}
	planned := func() int {
		c := 0
		for name, prs := range heads {
			for _, head := range prs {
				if done, _ := e.plannedIn(name, head); done {
					c++
				}
			}
		}
		return c
	}
	fault := "none"
	if kill && replicas > 1 {
		waitWithin(t, 10*time.Minute, "a quarter of the burst planned", func() bool { return planned() >= n/4 })
		victim := rs[0]
		most := 0
		for _, r := range rs {
			c := 0
			for _, a := range h {
				if a == r.url {
					c++
				}
			}
			if c > most {
				victim, most = r, c
			}
		}
		at := planned()
		victim.kill(t)
		fault = fmt.Sprintf("SIGKILL of replica %s (%d of 8 shards) at %d of %d planned", victim.name, most, at, n)
	}
	waitWithin(t, 15*time.Minute, "every head planned", func() bool { return planned() == n })
	took := time.Since(start)
	e.checkOnce(heads)
	perMin := float64(n) / took.Minutes()
	t.Logf("shardbench replicas=%d prs=%d repos=%d kill=%v seconds=%.1f prs_per_min=%.1f", replicas, n, shardRepos, kill && replicas > 1, took.Seconds(), perMin)
	e.report(t, clock, soak.Row{Scenario: "sharded burst", Load: fmt.Sprintf("%d replicas, 8 shards; %d pull requests over %d repositories at once", replicas, n, shardRepos),
		Faults: fault, Outcome: fmt.Sprintf("every head planned once (%.1f pull requests a minute)", perMin), Lost: "none"})
}

// TestReplicaRendersPullRequestsInItsWorker: a `gantry serve` process
// with render.isolation: process plans a pull request in its render
// worker (its own binary, started again) as it would in process, and a
// pull request with a runaway chart fails its gantry/diff check at the
// worker's CPU limit while the replica carries on.
func TestReplicaRendersPullRequestsInItsWorker(t *testing.T) {
	e := newShardEnv(t, 2)
	cfg, err := os.ReadFile(e.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.config, append(cfg, "render: {isolation: process, worker: {cpu: 2s}}\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	a := e.start("a")
	e.spread(1)
	e.sim.SetWebhook(a.url+"/webhooks", hookSecret)
	name := shardRepo(0)
	pr1, head1 := e.open(name, "fine", "web", "1")
	n, head2, err := e.sim.OpenPR("alice", owner, name, githubsim.PullOptions{Head: "runaway", Base: "main", Title: "runaway", Files: map[string]string{
		"apps/api/cm.yaml":           "",
		"apps/api/Chart.yaml":        "apiVersion: v2\nname: api\nversion: 0.1.0\n",
		"apps/api/templates/cm.yaml": "{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\n",
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{head1, head2} {
		waitFor(t, "the plan of "+h[:7], func() bool { done, _ := e.plannedIn(name, h); return done })
	}
	e.checkOnce(map[string]map[int]string{name: {pr1: head1}})
	for _, r := range e.sim.CheckRuns(owner, name, head2) {
		if r.Name == report.CheckDiff && (r.Conclusion != "failure" || !strings.Contains(r.Summary+r.Text, "CPU limit of 2s")) {
			t.Errorf("#%d's gantry/diff: %s %q, want a failure naming the worker's CPU limit\n%s", n, r.Conclusion, r.Title, r.Summary)
		}
	}
	if !a.alive() {
		t.Error("the replica died with its worker")
	}
}
