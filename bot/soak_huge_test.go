package bot

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/gantryops/gantry/fixtures/soak"
	"github.com/gantryops/gantry/render"
)

// The slow-and-huge scenarios of the reliability suite: a pull request
// rendering thousands of objects, one whose diff is megabytes, and a Helm
// chart slower than the render deadline. Each is bounded (a limit hit says
// which), reported (its checks complete and say what happened, its comment
// parts within GitHub's limit), and small pull requests opened beside it
// complete while it is still running: the lanes do not starve each other.

// hugeSmallApps is how many small apps the repository has beside the big
// one; each small pull request changes one of them.
const hugeSmallApps = 3

// hugeRepo is a repository with the big app (bigApp is its .gantry.yaml
// entry, big its files) and the small plain apps small-0…small-N, each
// one ConfigMap.
func hugeRepo(big map[string]string, bigApp string) map[string]string {
	var gy strings.Builder
	gy.WriteString("version: 1\napps:\n" + bigApp)
	files := map[string]string{}
	for i := range hugeSmallApps {
		fmt.Fprintf(&gy, "  - {name: small-%d, path: apps/small-%d, namespace: NS}\n", i, i)
		files[fmt.Sprintf("apps/small-%d/cm.yaml", i)] = smallCM(i, "v1")
	}
	files[".gantry.yaml"] = gy.String()
	maps.Copy(files, big)
	return files
}

// smallCM is small app i's ConfigMap at version v.
func smallCM(i int, v string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: small-%d\ndata:\n  version: %s\n", i, v)
}

// manyConfigMaps is one file of n ConfigMaps, each with a value of pad
// bytes, so the diff of creating them is about n*(pad+100) bytes.
func manyConfigMaps(prefix string, n, pad int) string {
	var b strings.Builder
	b.Grow(n * (pad + 100))
	v := strings.Repeat("x", pad)
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\ndata:\n  v: %q\n", prefix, i, v)
	}
	return b.String()
}

// flow is the record of a big pull request planned beside small ones.
type flow struct {
	bigPR   int
	bigHead string
	// smallOpened is when the last small pull request was opened; bigDone
	// when the big one's checks completed; smallDone when the last small
	// one's did.
	smallOpened, bigDone, smallDone time.Time
	small                           []string // the small pull requests' heads
}

// planBesideSmall opens the big pull request (files), waits until its
// checks are in progress, then opens one small pull request per small app
// at once, and waits (up to timeout) until every check has completed. It
// records when the small ones and the big one completed.
func planBesideSmall(t *testing.T, l *live, files map[string]string, timeout time.Duration) flow {
	t.Helper()
	var f flow
	var err error
	f.bigPR, f.bigHead, err = l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "big", Base: "main", Title: "big", Files: withNS(files, l.ns)})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the big pull request's checks in progress", func() bool { return l.checks(f.bigHead)[report.CheckDiff].Status == "in_progress" })
	f.small = make([]string, hugeSmallApps)
	var wg sync.WaitGroup
	for i := range hugeSmallApps {
		wg.Go(func() {
			_, head, err := l.sim.OpenPR("bob", "acme", "ops", githubsim.PullOptions{Head: fmt.Sprintf("small-%d", i), Base: "main", Title: "small",
				Files: map[string]string{fmt.Sprintf("apps/small-%d/cm.yaml", i): smallCM(i, "v2")}})
			if err != nil {
				t.Error(err)
			}
			f.small[i] = head
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	f.smallOpened = time.Now()
	deadline := time.Now().Add(timeout)
	for f.bigDone.IsZero() || f.smallDone.IsZero() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: big pull request completed %v, small ones %v", timeout, !f.bigDone.IsZero(), !f.smallDone.IsZero())
		}
		if f.bigDone.IsZero() && l.completed(f.bigHead) {
			f.bigDone = time.Now()
		}
		if f.smallDone.IsZero() {
			all := true
			for _, h := range f.small {
				all = all && l.completed(h)
			}
			if all {
				f.smallDone = time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f
}

// smallFlowed asserts the small pull requests were planned, and completed
// while the big one was still running: its lane held one worker, and the
// others served theirs.
func smallFlowed(t *testing.T, l *live, f flow) {
	t.Helper()
	for i, h := range f.small {
		if c := l.checks(h)[report.CheckDiff]; c.Conclusion != "success" || !strings.HasPrefix(c.Title, "1 app changes") {
			t.Errorf("small pull request %d: gantry/diff %s %q, want success", i, c.Conclusion, c.Title)
		}
	}
	if !f.smallDone.Before(f.bigDone) {
		t.Errorf("the small pull requests completed %s after the big one: its run held them up", f.smallDone.Sub(f.bigDone))
	}
}

// botParts are gantry's comments on the pull request, each checked to be
// within GitHub's limit, and at most report.MaxCommentParts of them.
func botParts(t *testing.T, l *live, pr int) []githubsim.Comment {
	t.Helper()
	var parts []githubsim.Comment
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User != "gantry[bot]" {
			continue
		}
		if len(c.Body) > report.MaxCommentSize {
			t.Errorf("comment %d is %d characters, over GitHub's %d", c.ID, len(c.Body), report.MaxCommentSize)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 || len(parts) > report.MaxCommentParts {
		t.Errorf("%d gantry comments on #%d, want 1 to %d", len(parts), pr, report.MaxCommentParts)
	}
	return parts
}

// shownAndOmitted counts the objects whose diffs the comment parts show,
// and those the last part says it leaves out.
func shownAndOmitted(parts []githubsim.Comment) (shown, omitted int) {
	for _, p := range parts {
		shown += strings.Count(p.Body, " · create</summary>")
	}
	if m := omittedNote.FindStringSubmatch(parts[len(parts)-1].Body); m != nil {
		omitted, _ = strconv.Atoi(m[1])
	}
	return shown, omitted
}

var omittedNote = regexp.MustCompile(`_Not shown: the diffs of (\d+) more objects? \(gantry posts at most \d+ comments\)`)

// TestSoakHugeRender: a pull request rendering 20,000 objects (5,000 in
// the short form) is planned in full: every object counted, its comment
// within GitHub's limits; small pull requests opened beside it complete
// first. A push rendering one object more than render.maxObjects fails the
// diff check naming the limit, and the big comment shrinks to one.
func TestSoakHugeRender(t *testing.T) {
	n := soak.Scale(5_000, 20_000)
	l := startServer(t, hugeRepo(map[string]string{"apps/big/cms.yaml": manyConfigMaps("seed", 1, 0)}, "  - {name: big, path: apps/big, namespace: NS}\n"),
		fmt.Sprintf("render: {maxObjects: %d}\n", n))
	row := soak.Row{Scenario: "huge render", Load: fmt.Sprintf("1 PR rendering %d objects beside %d small PRs; a push rendering %d (render.maxObjects + 1)", n, hugeSmallApps, n+1),
		Faults: "none: the input's size is the load"}
	c := soak.Start()
	start := time.Now()
	f := planBesideSmall(t, l, map[string]string{"apps/big/cms.yaml": manyConfigMaps("cm", n, 0)}, 15*time.Minute)
	smallFlowed(t, l, f)
	d := l.checks(f.bigHead)[report.CheckDiff]
	if want := fmt.Sprintf("1 app changes: %d create, 0 update, 0 delete", n); d.Conclusion != "success" || d.Title != want {
		t.Errorf("big gantry/diff: %s %q, want success %q", d.Conclusion, d.Title, want)
	}
	parts := botParts(t, l, f.bigPR)
	if !strings.Contains(parts[0].Body, fmt.Sprintf("| big | local | %d | 0 | 0 | 0 |", n)) {
		t.Error("the summary does not count every object")
	}
	shown, omitted := shownAndOmitted(parts)
	if shown+omitted != n {
		t.Errorf("the comments show %d objects and leave out %d, want %d in all", shown, omitted, n)
	}
	planned := f.bigDone.Sub(start)

	// One object past the limit: refused at render, named, and reported.
	over, err := l.sim.Push("alice", "acme", "ops", "big", map[string]string{"apps/big/cms.yaml": manyConfigMaps("cm", n+1, 0)}, nil, "one more")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the over-limit push planned", func() bool { return l.completed(over) })
	d = l.checks(over)[report.CheckDiff]
	limit := fmt.Sprintf("app renders %d objects, over the limit of %d", n+1, n)
	if d.Conclusion != "failure" || !strings.Contains(d.Summary, limit) {
		t.Errorf("over-limit gantry/diff: %s %q, want a failure saying %q:\n%.600s", d.Conclusion, d.Title, limit, d.Summary)
	}
	if after := botParts(t, l, f.bigPR); len(after) != 1 || after[0].ID != parts[0].ID || !strings.Contains(after[0].Body, limit) {
		t.Errorf("after the over-limit push: %d gantry comments, want the first alone, edited to say %q", len(after), limit)
	}
	c.End(&row)
	row.Outcome = fmt.Sprintf("planned in %.1f s, %d comments (%d diffs shown, %d counted in a note); %d small PRs done %.1f s after they opened, meanwhile; %d objects refused naming render.maxObjects",
		planned.Seconds(), len(parts), shown, omitted, hugeSmallApps, f.smallDone.Sub(f.smallOpened).Seconds(), n+1)
	row.Lost = "none"
	soak.Report(t, row)
}

// TestSoakHugeDiff: a pull request whose diff is 5 MB (500 ConfigMaps of
// 10 KB) is reported in at most report.MaxCommentParts comments, each
// within GitHub's limit, the last saying how many diffs it leaves out;
// each comment is created once; small pull requests opened beside it
// complete first.
func TestSoakHugeDiff(t *testing.T) {
	const objects, pad = 500, 10_000
	l := startServer(t, hugeRepo(map[string]string{"apps/big/cms.yaml": manyConfigMaps("seed", 1, 0)}, "  - {name: big, path: apps/big, namespace: NS}\n"), "")
	row := soak.Row{Scenario: "huge diff", Load: fmt.Sprintf("1 PR with a %d MB diff (%d objects × %d KB) beside %d small PRs", objects*pad/1_000_000, objects, pad/1000, hugeSmallApps),
		Faults: "none: the diff's size is the load"}
	c := soak.Start()
	start := time.Now()
	f := planBesideSmall(t, l, map[string]string{"apps/big/cms.yaml": manyConfigMaps("cm", objects, pad)}, 10*time.Minute)
	smallFlowed(t, l, f)
	d := l.checks(f.bigHead)[report.CheckDiff]
	if want := fmt.Sprintf("1 app changes: %d create, 0 update, 0 delete", objects); d.Conclusion != "success" || d.Title != want {
		t.Errorf("big gantry/diff: %s %q, want success %q", d.Conclusion, d.Title, want)
	}
	parts := botParts(t, l, f.bigPR)
	shown, omitted := shownAndOmitted(parts)
	if len(parts) != report.MaxCommentParts || omitted == 0 || shown+omitted != objects {
		t.Errorf("%d comments showing %d diffs and leaving out %d, want %d comments accounting for all %d", len(parts), shown, omitted, report.MaxCommentParts, objects)
	}
	posts := 0
	for _, r := range l.sim.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, fmt.Sprintf("/issues/%d/comments", f.bigPR)) {
			posts++
		}
	}
	if posts != len(parts) {
		t.Errorf("%d comments created on #%d for %d parts: a part was posted twice or lost", posts, f.bigPR, len(parts))
	}
	c.End(&row)
	total := 0
	for _, p := range parts {
		total += len(p.Body)
	}
	row.Outcome = fmt.Sprintf("planned in %.1f s; %d comments of %d KB in all (%d diffs shown, %d counted in a note); %d small PRs done %.1f s after they opened, meanwhile",
		f.bigDone.Sub(start).Seconds(), len(parts), total/1000, shown, omitted, hugeSmallApps, f.smallDone.Sub(f.smallOpened).Seconds())
	row.Lost = "none"
	soak.Report(t, row)
}

// slowChart is a Helm chart whose template loops loops² times in pure
// template code (no process, no network): about 1.2 µs an iteration here.
func slowChart(loops int) map[string]string {
	return map[string]string{
		"charts/slow/Chart.yaml":  "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
		"charts/slow/values.yaml": fmt.Sprintf("loops: %d\n", loops),
		"charts/slow/templates/cm.yaml": `{{- $n := int .Values.loops }}
{{- $sum := 0 }}
{{- range $i := until $n }}{{ range $j := until $n }}{{ $sum = add1 $sum }}{{ end }}{{ end }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: slow
data:
  iterations: {{ $sum | quote }}
`,
	}
}

// TestSoakSlowHelmChart: a Helm chart whose render outlasts the render
// deadline (60 s in the long form, scaled down to 5 s in the short one) is
// abandoned at the deadline and counted; the plan's diff check fails
// naming the limit, as the comment does; small pull requests opened beside
// it complete first. Pushed again and again, it leaves no more than one
// render of the repository running at a time.
func TestSoakSlowHelmChart(t *testing.T) {
	deadline := soak.Scale(3*time.Second, 60*time.Second)
	loops := soak.Scale(3_500, 12_000) // 3 to 5 times the deadline on this machine (about 1.2 µs an iteration), so a faster one still overruns it
	srvYAML := ""
	if deadline != 60*time.Second {
		srvYAML = fmt.Sprintf("render: {timeout: %s}\n", deadline)
	}
	// The base branch's chart is quick; the pull request's values make it
	// slow.
	l := startServer(t, hugeRepo(slowChart(1), "  - {name: big, path: charts/slow, namespace: NS, render: helm}\n"), srvYAML)
	row := soak.Row{Scenario: "slow Helm chart", Load: fmt.Sprintf("1 PR making a chart loop %d² times in its template beside %d small PRs", loops, hugeSmallApps),
		Faults: fmt.Sprintf("a render past its deadline (render.timeout %s)", deadline)}
	abandoned := render.Abandoned()
	c := soak.Start()
	start := time.Now()
	f := planBesideSmall(t, l, map[string]string{"charts/slow/values.yaml": fmt.Sprintf("loops: %d\n", loops)}, 10*time.Minute)
	smallFlowed(t, l, f)
	d := l.checks(f.bigHead)[report.CheckDiff]
	limit := fmt.Sprintf("render abandoned after its time limit of %s", deadline)
	if d.Conclusion != "failure" || !strings.Contains(d.Summary, limit) {
		t.Errorf("slow chart's gantry/diff: %s %q, want a failure saying %q:\n%.600s", d.Conclusion, d.Title, limit, d.Summary)
	}
	if parts := botParts(t, l, f.bigPR); !strings.Contains(parts[0].Body, limit) {
		t.Errorf("the comment does not say the render was abandoned:\n%.1500s", parts[0].Body)
	}
	if got := render.Abandoned() - abandoned; got != 1 {
		t.Errorf("%d renders abandoned, want 1", got)
	}

	// The author pushes again and again while the abandoned render still
	// runs: each push supersedes the last, whose checks say so; the
	// repository's renders wait for the abandoned one instead of leaving
	// one more running a push; the last fails naming its time limit.
	const pushes = 3
	var heads []string
	for k := range pushes {
		h, err := l.sim.Push("alice", "acme", "ops", "big", map[string]string{"charts/slow/values.yaml": fmt.Sprintf("loops: %d\n", loops+1+k)}, nil, "again")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the push's checks in progress", func() bool { return l.checks(h)[report.CheckDiff].Status != "" })
		heads = append(heads, h)
	}
	last := heads[pushes-1]
	waitForLong(t, "the last push planned", 2*deadline+5*time.Minute, func() bool { return l.completed(last) })
	for _, h := range heads[:pushes-1] {
		waitFor(t, "a superseded push's checks completed", func() bool { return l.completed(h) })
		if got := l.checks(h)[report.CheckDiff].Conclusion; got != "cancelled" {
			t.Errorf("superseded push %s: gantry/diff %q, want cancelled: %s", shortSHA(h), got, l.checks(h)[report.CheckDiff].Summary)
		}
	}
	d = l.checks(last)[report.CheckDiff]
	if named := fmt.Sprintf("time limit of %s", deadline); d.Conclusion != "failure" || !strings.Contains(d.Summary, named) {
		t.Errorf("last push's gantry/diff: %s %q, want a failure naming the %s:\n%.600s", d.Conclusion, d.Title, named, d.Summary)
	}
	// Each abandoned render ended before the next one started: the first,
	// and at most the last (which may start once the first ended).
	left := render.Abandoned() - abandoned
	if left > 2 {
		t.Errorf("%d renders abandoned for %d pushes of one repository: they were left running side by side", left, pushes+1)
	}
	c.End(&row)
	row.Load += fmt.Sprintf(", then %d more pushes of it", pushes)
	row.Outcome = fmt.Sprintf("abandoned at its deadline, checks failed naming it %.1f s after opening; %d small PRs done %.1f s after they opened, meanwhile; "+
		"%d pushes: %d superseded (cancelled), the last failed naming its limit, %s abandoned in all, one at a time",
		f.bigDone.Sub(start).Seconds(), hugeSmallApps, f.smallDone.Sub(f.smallOpened).Seconds(), pushes, pushes-1, plural(int(left), "render", "renders"))
	row.Lost = "none"
	soak.Report(t, row)
}

// waitForLong polls cond until it holds, failing the test after timeout.
func waitForLong(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
