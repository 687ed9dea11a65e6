package bot

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
)

// githubRound is one round of TestSoakGitHubFailing: the pull requests it
// opened and merged, and the requests gantry sent meanwhile, by route.
type githubRound struct {
	open, merged []pull
	head         string
	routes       map[string]int
	total        int
	faulted      int
}

// pull is a pull request of a soak scenario and the app it changes.
type pull struct {
	n         int
	app, head string
}

var (
	shaInPath = regexp.MustCompile(`[0-9a-f]{40}`)
	numInPath = regexp.MustCompile(`/[0-9]+(/|$)`)
)

// routeOf is a request's method and path with numbers and SHAs replaced,
// so requests for different pull requests count as one route.
func routeOf(r githubsim.Request) string {
	p := shaInPath.ReplaceAllString(r.Path, "{sha}")
	p = numInPath.ReplaceAllString(p, "/{n}$1")
	p = numInPath.ReplaceAllString(p, "/{n}$1") // adjacent numbers
	return r.Method + " " + p
}

// faultSchedule cycles 502s, secondary rate limits and 500s on every
// route, each for a slice of time with a clear slice between, until stop
// is closed; it returns how many faults it injected.
func faultSchedule(sim *githubsim.Server, stop <-chan struct{}) int {
	faults := []githubsim.Fault{githubsim.ServerError(502), githubsim.SecondaryRateLimit(time.Second), githubsim.ServerError(500), githubsim.ServerError(503)}
	n := 0
	for i := 0; ; i++ {
		remove := sim.InjectFault(faults[i%len(faults)])
		n++
		select {
		case <-stop:
			remove()
			return n
		case <-time.After(400 * time.Millisecond):
		}
		remove()
		select {
		case <-stop:
			return n
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// githubRound opens prs pull requests and opens and merges merges more,
// each changing its own app from a<first> on, while GitHub fails when
// faults is set: 5xx and secondary rate limits for window, then a primary
// limit reset after reset, during which the merges happen. A resync
// follows, as the periodic one would, and the round waits until every
// open pull request is planned and the head applied.
func (l *live) githubRound(t *testing.T, first, prs, merges int, faults bool, window, reset time.Duration) githubRound {
	t.Helper()
	from := len(l.sim.Requests())
	var r githubRound
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if faults {
		wg.Go(func() { faultSchedule(l.sim, stop) })
	}
	var toMerge []pull
	for i := first; i < first+prs+merges; i++ {
		app := fmt.Sprintf("a%02d", i)
		n, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "change-" + app, Base: "main", Title: "change " + app,
			Files: withNS(map[string]string{"apps/" + app + "/cm.yaml": configMap(app+"-config", "v2")}, l.ns)})
		if err != nil {
			t.Fatal(err)
		}
		if i < first+prs {
			r.open = append(r.open, pull{n: n, app: app, head: head})
		} else {
			toMerge = append(toMerge, pull{n: n, app: app, head: head})
		}
	}
	if faults {
		time.Sleep(window)
		close(stop)
		wg.Wait()
		// The primary limit: every request refused until one reset time,
		// as GitHub's (the simulator's would move with each request).
		until := time.Now().Add(reset)
		primary := githubsim.PrimaryRateLimit(reset)
		primary.Header = http.Header{"X-Ratelimit-Reset": {strconv.FormatInt(until.Unix(), 10)}}
		remove := l.sim.InjectFault(primary)
		defer remove()
		for _, p := range toMerge {
			sha, err := l.sim.MergePR("maria", "acme", "ops", p.n)
			if err != nil {
				t.Fatal(err)
			}
			r.merged, r.head = append(r.merged, p), sha
		}
		time.Sleep(time.Until(until.Truncate(time.Second).Add(time.Second)))
		remove()
	} else {
		for _, p := range toMerge {
			sha, err := l.sim.MergePR("maria", "acme", "ops", p.n)
			if err != nil {
				t.Fatal(err)
			}
			r.merged, r.head = append(r.merged, p), sha
		}
	}
	// The periodic resync repairs what failed. It runs once the
	// deliveries are in, as the hourly one would: one racing a late
	// delivery plans the head twice (see the report).
	if err := l.sim.WaitDeliveries(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, p := range r.open {
		waitFor(t, fmt.Sprintf("plan of #%d", p.n), func() bool { return l.completed(p.head) })
	}
	waitFor(t, "gantry/apply on "+shortSHA(r.head), func() bool {
		return slices.ContainsFunc(l.sim.CheckRuns("acme", "ops", r.head), func(c githubsim.CheckRun) bool {
			return c.Name == report.CheckApply && c.Status == "completed"
		})
	})
	l.drain(t)
	// Another resync finds nothing left to do.
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.drain(t)
	r.routes = map[string]int{}
	for _, q := range l.sim.Requests()[from:] {
		r.routes[routeOf(q)]++
		r.total++
		if q.Status >= 500 || q.Status == 403 {
			r.faulted++
		}
	}
	return r
}

// duplicates lists what the round lost or duplicated: each open pull
// request has one gantry/diff and one gantry/policy check run on its head
// and one plan comment; the merged head one successful gantry/apply; each
// merged app one apply of the head recorded, its ConfigMap at v2; each
// merged pull request one comment on that apply.
func (l *live) duplicates(t *testing.T, r githubRound) []string {
	t.Helper()
	var out []string
	for _, p := range r.open {
		for _, name := range []string{report.CheckDiff, report.CheckPolicy} {
			if n := l.checkRunsNamed(p.head, name); n != 1 {
				out = append(out, fmt.Sprintf("#%d has %d %s check runs", p.n, n, name))
			}
		}
		if n := l.gantryComments(p.n, "### gantry"); n != 1 {
			out = append(out, fmt.Sprintf("#%d has %d plan comments", p.n, n))
		}
	}
	var applies []string
	for _, c := range l.sim.CheckRuns("acme", "ops", r.head) {
		if c.Name == report.CheckApply {
			applies = append(applies, c.Conclusion)
		}
	}
	if len(applies) != 1 || applies[0] != "success" {
		out = append(out, fmt.Sprintf("gantry/apply on the head: %v, want one success", applies))
	}
	for _, p := range r.merged {
		var atHead []cluster.ApplyRecord
		for _, rec := range l.records(t, p.app).History {
			if rec.Commit == r.head {
				atHead = append(atHead, rec)
			}
		}
		if len(atHead) != 1 || atHead[0].Result != cluster.ResultSucceeded {
			out = append(out, fmt.Sprintf("%s: %d applies of the head recorded, want one success: %+v", p.app, len(atHead), atHead))
		}
		if n := l.gantryComments(p.n, "applied at `"+shortSHA(r.head)); n != 1 {
			out = append(out, fmt.Sprintf("#%d has %d comments on the apply of the head", p.n, n))
		}
		cm, err := kube.Client.CoreV1().ConfigMaps(l.ns).Get(context.Background(), p.app+"-config", metav1.GetOptions{})
		if err != nil || cm.Data["value"] != "v2" {
			out = append(out, fmt.Sprintf("%s-config not at v2: %v", p.app, err))
		}
	}
	return out
}

// TestSoakGitHubFailing: pull requests are opened while GitHub answers
// 5xx and secondary rate limits, and merged while a primary rate limit
// holds: once GitHub recovers, every one is planned or applied, with no
// duplicate check run or comment, and gantry sent no more requests per
// route than its retry policy allows over a fault-free round of the same
// work.
func TestSoakGitHubFailing(t *testing.T) {
	prs, merges := soak.Scale(4, 20), soak.Scale(2, 10)
	window, reset := soak.Scale(5*time.Second, time.Minute), soak.Scale(4*time.Second, 3*time.Minute)
	l := startServer(t, soakApps(2*(prs+merges)), "")
	// A fault-free round first: the requests the same work costs.
	base := l.githubRound(t, 0, prs, merges, false, 0, 0)
	for _, d := range l.duplicates(t, base) {
		t.Errorf("fault-free round: %s", d)
	}

	c := soak.Start()
	r := l.githubRound(t, prs+merges, prs, merges, true, window, reset)
	var row soak.Row
	c.End(&row)
	lost := l.duplicates(t, r)
	// No request loop: a request is tried at most Retries+1 times, and a
	// job runs at most twice (its webhook's run, the resync's repair).
	const attempts = 4 + 1 // Transport's default Retries, plus the first
	for route, n := range r.routes {
		if bound := 2 * attempts * max(base.routes[route], 2); n > bound {
			lost = append(lost, fmt.Sprintf("%s: %d requests under faults, bound %d (%d fault-free)", route, n, bound, base.routes[route]))
		}
	}
	if r.total > 2*attempts*base.total {
		lost = append(lost, fmt.Sprintf("%d requests under faults, %d fault-free", r.total, base.total))
	}
	for _, x := range lost {
		t.Error(x)
	}
	if errs := l.sim.Errors(); len(errs) > 0 {
		t.Errorf("the simulator saw invalid requests: %v", errs)
	}
	busiest := ""
	for route, n := range r.routes {
		if busiest == "" || n > r.routes[busiest] {
			busiest = route
		}
	}
	t.Logf("requests: %d fault-free, %d under faults (%d answered with a fault); busiest route %s: %d (%d fault-free)",
		base.total, r.total, r.faulted, busiest, r.routes[busiest], base.routes[busiest])
	row.Scenario = "GitHub failing"
	row.Load = fmt.Sprintf("%d PRs opened, %d merged", prs+merges, merges)
	row.Faults = fmt.Sprintf("5xx and secondary rate limits for %s, then a primary limit resetting after %s", window, reset)
	row.Outcome = fmt.Sprintf("all planned and applied after; %d requests (%d faulted) vs %d fault-free", r.total, r.faulted, base.total)
	row.Lost = "none"
	if len(lost) > 0 {
		row.Lost = strings.Join(lost, "; ")
	}
	soak.Report(t, row)
}
