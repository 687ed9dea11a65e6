package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	dto "github.com/prometheus/client_model/go"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

// burst is a running server under a burst of webhook deliveries: pull
// requests opened and pushed (some force-pushed) while deliveries are
// held, then released shuffled with redeliveries mixed in.
type burst struct {
	*live
	t   testing.TB
	rnd *rand.Rand
	gh  *github.Client // alice's, for force pushes through the refs API
	// heads are every head each pull request had, oldest first.
	heads map[int][]string
	// branch is each pull request's head branch.
	branch map[int]string
	// dups counts the redeliveries injected.
	dups int
	// latency records webhook -> checks in progress of every plan.
	latMu   sync.Mutex
	latency []time.Duration
}

// newBurst starts a server with workers on a repository of the two apps
// of baseFiles, and records each plan's webhook -> in_progress latency.
func newBurst(t testing.TB, files map[string]string, workers int, seed uint64) *burst {
	t.Helper()
	l := serveWorkers(t, newE2E(t, files), "", workers)
	if err := l.sim.SetPermission("acme", "ops", "alice", "write"); err != nil {
		t.Fatal(err)
	}
	gh, err := github.NewClient(nil).WithAuthToken(l.sim.UserToken("alice")).WithEnterpriseURLs(l.sim.URL()+"/api/v3/", l.sim.URL()+"/api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	b := &burst{live: l, t: t, rnd: rand.New(rand.NewPCG(seed, 14)), gh: gh, heads: map[int][]string{}, branch: map[int]string{}}
	// The queue is idle (the resync at start ended): the hook is set
	// before any job reads it.
	started := l.srv.pipe.OnStarted
	l.srv.pipe.OnStarted = func(j Job) {
		started(j)
		if !j.Received.IsZero() {
			b.latMu.Lock()
			b.latency = append(b.latency, time.Since(j.Received))
			b.latMu.Unlock()
		}
	}
	return b
}

// round holds deliveries while act changes pull requests, redelivers
// about dupRate of the new ones under their own GUIDs, and releases
// them all shuffled. It does not wait for them.
func (b *burst) round(dupRate float64, act func()) {
	b.t.Helper()
	before := len(b.sim.Deliveries())
	b.sim.HoldDeliveries()
	act()
	for _, d := range b.sim.Deliveries()[before:] {
		if (d.Event == "pull_request" || d.Event == "push") && b.rnd.Float64() < dupRate {
			if err := b.sim.Redeliver(d.GUID); err != nil {
				b.t.Fatal(err)
			}
			b.dups++
		}
	}
	b.sim.ReleaseDeliveries(func(ds []Delivery) []Delivery {
		b.rnd.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		return ds
	})
}

// Delivery is the simulator's, named for round's order function.
type Delivery = githubsim.Delivery

// webCM is apps/web/cm.yaml with a color.
func webCM(color string) map[string]string {
	return map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: " + color + "\n"}
}

// open opens pull request i changing the web app.
func (b *burst) open(i int) {
	b.t.Helper()
	br := fmt.Sprintf("burst-%d", i)
	n, head, err := b.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: br, Base: "main", Title: br, Files: webCM(fmt.Sprintf("c%d-0", i))})
	if err != nil {
		b.t.Fatal(err)
	}
	b.heads[n] = append(b.heads[n], head)
	b.branch[n] = br
}

// push adds a commit to pull request n's branch.
func (b *burst) push(n, k int) {
	b.t.Helper()
	sha, err := b.sim.Push("alice", "acme", "ops", b.branch[n], webCM(fmt.Sprintf("c%d-%d", n, k)), nil, fmt.Sprintf("push %d", k))
	if err != nil {
		b.t.Fatal(err)
	}
	b.heads[n] = append(b.heads[n], sha)
}

// forcePush rewrites pull request n's branch to a new commit on main, as
// `git push --force` of a rebased branch does: the old head is no
// longer reachable from the pull request.
func (b *burst) forcePush(n, k int) {
	b.t.Helper()
	ctx := context.Background()
	ref, _, err := b.gh.Git.GetRef(ctx, "acme", "ops", "heads/main")
	if err != nil {
		b.t.Fatal(err)
	}
	main := ref.GetObject().GetSHA()
	base, _, err := b.gh.Git.GetCommit(ctx, "acme", "ops", main)
	if err != nil {
		b.t.Fatal(err)
	}
	var entries []*github.TreeEntry
	for path, body := range webCM(fmt.Sprintf("f%d-%d", n, k)) {
		entries = append(entries, &github.TreeEntry{Path: github.String(path), Mode: github.String("100644"), Type: github.String("blob"), Content: github.String(body)})
	}
	tree, _, err := b.gh.Git.CreateTree(ctx, "acme", "ops", base.GetTree().GetSHA(), entries)
	if err != nil {
		b.t.Fatal(err)
	}
	c, _, err := b.gh.Git.CreateCommit(ctx, "acme", "ops", &github.Commit{Message: github.String(fmt.Sprintf("rebased %d", k)), Tree: tree, Parents: []*github.Commit{{SHA: github.String(main)}}}, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, _, err := b.gh.Git.UpdateRef(ctx, "acme", "ops", &github.Reference{Ref: github.String("heads/" + b.branch[n]), Object: &github.GitObject{SHA: c.SHA}}, true); err != nil {
		b.t.Fatal(err)
	}
	b.heads[n] = append(b.heads[n], c.GetSHA())
}

// pace waits until at least n pull requests' current heads have checks
// (in progress or completed), so that the next round's pushes meet runs
// in flight.
func (b *burst) pace(n int) {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		c := 0
		for _, heads := range b.heads {
			if len(b.checks(heads[len(heads)-1])) > 0 {
				c++
			}
		}
		if c >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatalf("fewer than %d pull requests have checks on their head after a minute", n)
}

// finalHead is pull request n's head as GitHub has it.
func (b *burst) finalHead(n int) string {
	b.t.Helper()
	pr, err := b.sim.PR("acme", "ops", n)
	if err != nil {
		b.t.Fatal(err)
	}
	return pr["head"].(map[string]any)["sha"].(string)
}

// idle says the queue has nothing waiting or running.
func (b *burst) idle() bool {
	q := b.srv.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.lanes) == 0
}

// settle waits until every delivery was sent, every pull request's
// final head has both checks completed and the queue is empty.
func (b *burst) settle(within time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		done := b.idle()
		for n := range b.heads {
			done = done && b.completed(b.finalHead(n))
		}
		if done {
			if err := b.sim.WaitDeliveries(ctx); err != nil {
				b.t.Fatal(err)
			}
			if b.idle() { // the last deliveries queued nothing more
				return
			}
		}
		if ctx.Err() != nil {
			var missing []string
			for n := range b.heads {
				if h := b.finalHead(n); !b.completed(h) {
					missing = append(missing, fmt.Sprintf("#%d@%s %v", n, shortSHA(h), b.checks(h)))
				}
			}
			b.t.Fatalf("the burst did not settle within %s (queue idle: %v); final heads without completed checks: %s", within, b.idle(), strings.Join(missing, "; "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// quantile is the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// logLine is the part of a JSON log line the burst's assertions read.
type logLine struct {
	Msg      string `json:"msg"`
	PR       int    `json:"pr"`
	Head     string `json:"head"`
	Delivery string `json:"delivery"`
}

// logLines are the server's log lines with message msg.
func (b *burst) logLines(msg string) []logLine {
	var out []logLine
	for _, s := range strings.Split(b.logs.String(), "\n") {
		var l logLine
		if json.Unmarshal([]byte(s), &l) == nil && l.Msg == msg {
			out = append(out, l)
		}
	}
	return out
}

// TestSoakBurst: a burst of webhook deliveries across many pull requests,
// each pushed several times (a third of them force-pushed), delivered out
// of order with a tenth redelivered. Every pull request ends with one
// gantry comment and one pair of completed checks, both for its final
// head; no older head keeps a check in progress; no delivery runs twice
// and no older head's result is published; the queue drains and the
// goroutines come back.
func TestSoakBurst(t *testing.T) {
	prs := soak.Scale(30, 200)
	const pushes = 4 // rounds of pushes: each pull request gets 1 opened + 4 (every 10th: 8) x (push + synchronize) deliveries
	pushed, forced := 0, 0
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	b := newBurst(t, baseFiles, 4, seed)
	baseline := runtime.NumGoroutine()
	clock := soak.Start()

	b.round(0.1, func() {
		for i := range prs {
			b.open(i)
		}
	})
	for k := 1; k <= pushes; k++ {
		// Each round pushes while the previous one's plans run: some
		// pull requests' current heads have checks first.
		b.pace(soak.Scale(prs/2, 10))
		b.round(0.1, func() {
			for n := range b.heads {
				if n%3 == 0 {
					b.forcePush(n, k)
					forced++
				} else {
					b.push(n, k)
				}
				pushed++
				// Some pull requests get a second push in the same round:
				// their two synchronize deliveries race.
				if n%10 == 0 {
					b.push(n, k+100)
					pushed++
				}
			}
		})
	}
	sent := 0
	for _, d := range b.sim.Deliveries() {
		if d.Event == "pull_request" || d.Event == "push" {
			sent++
		}
	}
	released := clock.Elapsed()
	b.settle(soak.Scale(90*time.Second, 15*time.Minute))
	var row soak.Row
	clock.End(&row)

	// Every pull request: one gantry comment for its final head; one
	// gantry/diff and one gantry/policy on the final head, completed and
	// green; nothing left in progress on any older head.
	var lost []string
	scope := func(n int) string { return marker.Scope("acme", "ops", n) }
	for n, heads := range b.heads {
		final := b.finalHead(n)
		if final != heads[len(heads)-1] {
			t.Fatalf("#%d: GitHub's head %s is not the last pushed %s", n, final, heads[len(heads)-1])
		}
		var parts []partPayload
		for _, c := range b.sim.Comments("acme", "ops", n) {
			var p partPayload
			if c.User == "gantry[bot]" && b.pipe.Seal.Open(marker.KindPart, scope(n), c.Body, &p) {
				parts = append(parts, p)
			}
		}
		if len(parts) != 1 || parts[0].N != 1 || parts[0].Head != final {
			lost = append(lost, fmt.Sprintf("#%d: gantry comments %+v, want one for head %s", n, parts, shortSHA(final)))
		}
		byName := map[string][]githubsim.CheckRun{}
		for _, r := range b.sim.CheckRuns("acme", "ops", final) {
			byName[r.Name] = append(byName[r.Name], r)
		}
		for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
			if rs := byName[name]; len(rs) != 1 || rs[0].Status != "completed" || rs[0].Conclusion != "success" {
				lost = append(lost, fmt.Sprintf("#%d: %s on the final head %s: %+v, want one, completed, success", n, name, shortSHA(final), rs))
			}
		}
		for _, h := range heads[:len(heads)-1] {
			for _, r := range b.sim.CheckRuns("acme", "ops", h) {
				if r.Status != "completed" {
					lost = append(lost, fmt.Sprintf("#%d: %s on the older head %s left %s", n, r.Name, shortSHA(h), r.Status))
				}
			}
		}
	}
	// No delivery ran twice, no head was published twice, and the last
	// plan published on each pull request is its final head's.
	published := b.logLines("plan published")
	perDelivery, perHead, last := map[string]int{}, map[string]int{}, map[int]string{}
	for _, l := range published {
		perDelivery[l.Delivery]++
		perHead[fmt.Sprintf("#%d@%s", l.PR, l.Head)]++
		last[l.PR] = l.Head
	}
	for id, c := range perDelivery {
		if c > 1 {
			lost = append(lost, fmt.Sprintf("delivery %s published %d plans", id, c))
		}
	}
	for h, c := range perHead {
		if c > 1 {
			lost = append(lost, fmt.Sprintf("%s published %d times", h, c))
		}
	}
	for n := range b.heads {
		if want := shortSHA(b.finalHead(n)); last[n] != want {
			lost = append(lost, fmt.Sprintf("#%d: the last plan published was for %s, not the final head %s", n, last[n], want))
		}
	}
	dupsSeen := 0
	for _, ev := range []string{"pull_request", "push"} {
		var m dto.Metric
		if err := b.srv.metrics.Deliveries.WithLabelValues(ev, outcomeDuplicate).Write(&m); err != nil {
			t.Fatal(err)
		}
		dupsSeen += int(m.GetCounter().GetValue())
	}
	if dupsSeen != b.dups {
		lost = append(lost, fmt.Sprintf("%d redeliveries injected, %d counted as duplicates", b.dups, dupsSeen))
	}
	if errs := b.sim.Errors(); len(errs) > 0 {
		t.Errorf("simulator errors: %v", errs)
	}
	for _, l := range lost {
		t.Error(l)
	}
	// Memory bounded: the queue drained, and the goroutines come back
	// near where they started (idle connections may linger a moment).
	if w := b.srv.queue.Waiting(); w != 0 {
		t.Errorf("%d jobs still waiting", w)
	}
	var goroutines int
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		goroutines = runtime.NumGoroutine()
		if goroutines <= baseline+64 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if goroutines > baseline+64 {
		t.Errorf("%d goroutines after the burst, %d before: something grows with the load", goroutines, baseline)
	}

	stale := len(b.logLines("dropping stale plan")) + len(b.logLines("cancelling stale plan")) + len(b.logLines("ignoring the plan of a replaced head"))
	skipped := len(b.logLines("plan skipped"))
	b.latMu.Lock()
	p50, p99 := quantile(b.latency, 0.5), quantile(b.latency, 0.99)
	b.latMu.Unlock()
	t.Logf("%d deliveries (%d redelivered) released in %.1f s; settled in %.1f s; %d plans published, %d stale plans dropped, cancelled or ignored by the queue, %d skipped at GitHub's head; webhook -> in_progress p50 %s p99 %s; goroutines %d -> %d",
		sent, b.dups, released.Seconds(), row.Seconds, len(published), stale, skipped, p50.Round(time.Millisecond), p99.Round(time.Millisecond), baseline, goroutines)
	row.Scenario = "Burst"
	row.Load = fmt.Sprintf("%d deliveries across %d PRs in %.0f s (%d redelivered; shuffled; %d pushes, %d of them forced)", sent, prs, released.Seconds(), b.dups, pushed, forced)
	row.Faults = "duplicates, out-of-order delivery, force pushes"
	row.Outcome = fmt.Sprintf("%d PRs: one comment and green checks for the final head; %d plans published; in_progress p50 %.2f s p99 %.2f s", prs, len(published), p50.Seconds(), p99.Seconds())
	row.Lost = "none"
	if len(lost) > 0 {
		row.Lost = strings.Join(lost, "; ")
	}
	soak.Report(t, row)
}

// TestPlanOfAReplacedHeadPublishesNothing: a plan job for a head the pull
// request has moved past (its delivery arrived late) creates no check run
// and publishes no comment: the newer head's result is the current one.
func TestPlanOfAReplacedHeadPublishesNothing(t *testing.T) {
	e := newE2E(t, baseFiles)
	n, old, err := e.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "late", Base: "main", Title: "late", Files: webCM("green")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sim.Push("alice", "acme", "ops", "late", webCM("purple"), nil, "purple"); err != nil {
		t.Fatal(err)
	}
	err = e.pipe.Plan(context.Background(), Job{Kind: JobPlan, InstallationID: e.inst, Owner: "acme", Repo: "ops", PR: n, HeadSHA: old, BaseRef: "main", PRFiltered: true})
	var skipped *NotProcessedError
	if !errors.As(err, &skipped) {
		t.Fatalf("plan of a replaced head: %v, want it skipped", err)
	}
	if c := e.checks(old); len(c) != 0 {
		t.Errorf("check runs on the replaced head: %v", c)
	}
	for _, c := range e.sim.Comments("acme", "ops", n) {
		if c.User == "gantry[bot]" {
			t.Errorf("a comment for the replaced head:\n%s", c.Body)
		}
	}
}
