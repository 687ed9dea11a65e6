package bot

// The trust boundary, end to end: each test is one attack from issue 10,
// through the real server, the GitHub simulator and the local cluster.

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gantryops/gantry/bot/marker"
	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

const redCM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: red\n"

// openRed opens a pull request by alice whose web ConfigMap the
// repository's policy denies, waits for its plan, and makes maria a
// maintainer.
func openRed(t *testing.T, l *live) (int, string) {
	t.Helper()
	pr, head := l.openAndPlan(t, "red", map[string]string{"apps/web/cm.yaml": redCM})
	if c := l.checks(head)[report.CheckPolicy]; c.Conclusion != "failure" {
		t.Fatalf("policy check %q, want failure", c.Conclusion)
	}
	for login, role := range map[string]string{"alice": "maintain", "maria": "maintain", "rita": "read"} {
		if err := l.sim.SetPermission("acme", "ops", login, role); err != nil {
			t.Fatal(err)
		}
	}
	return pr, head
}

func (l *live) comment(t *testing.T, login string, pr int, body string) {
	t.Helper()
	if _, err := l.sim.Comment(login, "acme", "ops", pr, body); err != nil {
		t.Fatal(err)
	}
}

// noOverride asserts that head's policy check still fails and no bot
// comment records an override.
func (l *live) noOverride(t *testing.T, pr int, head string) {
	t.Helper()
	if c := l.checks(head)[report.CheckPolicy]; c.Conclusion != "failure" || strings.Contains(c.Title, "overridden") {
		t.Errorf("policy check on %s: %s %q, want a failure without override", shortSHA(head), c.Conclusion, c.Title)
	}
	if l.botSays(pr, "<!-- gantry:override") {
		t.Error("an override was recorded")
	}
}

func TestApprovalRefusesThePullRequestsAuthor(t *testing.T) {
	l := startServer(t, baseFiles, "policyOverrides: {allowOwnerless: true}\n")
	pr, head := openRed(t, l)
	l.comment(t, "alice", pr, "/gantry approve-policies my own change is fine")
	waitFor(t, "refusal", func() bool {
		return l.botSays(pr, "❌ not allowed: the author of a pull request cannot approve its own policy denies")
	})
	l.noOverride(t, pr, head)
}

// TestApprovalBindsToThePlanTheApproverSaw: an approval approves the head
// of the plan gantry had published when the approver commented. A push
// between the comment and the command's run, in either order of the
// deliveries, gets no approval.
func TestApprovalBindsToThePlanTheApproverSaw(t *testing.T) {
	for _, tt := range []struct {
		name  string
		order func([]githubsim.Delivery) []githubsim.Delivery
		want  string
	}{
		{"comment delivered first", nil, "the pull request's head moved from"},
		{"push delivered first", func(ds []githubsim.Delivery) []githubsim.Delivery {
			slices.Reverse(ds)
			return ds
		}, "gantry's plan changed after your comment"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := startServer(t, baseFiles, "policyOverrides: {allowOwnerless: true}\n")
			pr, head := openRed(t, l)
			l.sim.HoldDeliveries()
			l.comment(t, "maria", pr, "/gantry approve-policies looked at it")
			newHead, err := l.sim.Push("alice", "acme", "ops", "red", map[string]string{"apps/web/cm.yaml": redCM + "  extra: sneaked in\n"}, nil, "after the approval")
			if err != nil {
				t.Fatal(err)
			}
			l.sim.ReleaseDeliveries(tt.order)
			waitFor(t, "refusal", func() bool { return l.botSays(pr, "❌ not recorded: "+tt.want) })
			waitFor(t, "plan of the new head", func() bool { return l.completed(newHead) })
			l.noOverride(t, pr, newHead)
			l.noOverride(t, pr, head)
		})
	}
}

// TestOverrideCoversOnlyWhatTheGrantCovers: an approver whose
// permissions cover the app web overrides web's deny and not api's.
func TestOverrideCoversOnlyWhatTheGrantCovers(t *testing.T) {
	files := map[string]string{}
	for k, v := range baseFiles {
		files[k] = v
	}
	files["policy/api.rego"] = "package main\n\ndeny contains msg if {\n\tinput.kind == \"ConfigMap\"\n\tinput.data.level == \"trace\"\n\tmsg := \"trace logging is not allowed\"\n}\n"
	l := startServer(t, files, "policyOverrides: {allowOwnerless: true}\npermissions:\n  - {commands: [plan, unlock], minRole: write}\n  - {commands: [approve-policies], users: [maria], apps: [web]}\n")
	pr, head := l.openAndPlan(t, "both", map[string]string{"apps/web/cm.yaml": redCM, "apps/api/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  level: trace\n"})
	l.comment(t, "maria", pr, "/gantry approve-policies web is fine")
	waitFor(t, "re-plan with the override", func() bool {
		return strings.Contains(l.checks(head)[report.CheckPolicy].Title, "1 not covered by @maria's override")
	})
	c := l.checks(head)[report.CheckPolicy]
	if c.Conclusion != "failure" {
		t.Errorf("policy check %s, want failure: api's deny is not covered", c.Conclusion)
	}
	if !strings.Contains(c.Summary, "| web | ConfigMap ") || !strings.Contains(c.Summary, "deny (overridden)") {
		t.Errorf("web's deny is not shown as overridden:\n%s", c.Summary)
	}
	var failures []string
	for _, a := range c.Annotations {
		if a.AnnotationLevel == "failure" {
			failures = append(failures, a.Path)
		}
	}
	if diff := cmp.Diff([]string{"apps/api/cm.yaml"}, failures); diff != "" {
		t.Errorf("failure annotations (-want +got):\n%s", diff)
	}
}

func TestOwnerlessPolicySetsAreNotOverridableByDefault(t *testing.T) {
	l := startServer(t, baseFiles, "")
	pr, head := openRed(t, l)
	l.comment(t, "maria", pr, "/gantry approve-policies please")
	waitFor(t, "refusal", func() bool {
		return l.botSays(pr, "❌ not allowed: you own none of the server's policy sets")
	})
	l.noOverride(t, pr, head)
}

func TestMayOverrideSet(t *testing.T) {
	cfg := &config.Server{Policies: []config.PolicySet{
		{Name: "platform", Owners: []string{"maria", "@acme/sec"}},
		{Name: "open"},
	}}
	maria := config.Grant{Login: "Maria"}
	team := config.Grant{Login: "sam", Teams: []string{"acme/sec"}}
	other := config.Grant{Login: "bob"}
	for _, tt := range []struct {
		who       config.Grant
		set       string
		ownerless bool
		want      bool
	}{
		{maria, "platform", false, true},
		{team, "platform", false, true},
		{other, "platform", true, false},
		{maria, "open", false, false},
		{maria, "open", true, true},
		{maria, "repo:policy", false, false},
		{other, "repo:policy", true, true},
	} {
		cfg.PolicyOverrides.AllowOwnerless = tt.ownerless
		if got := mayOverrideSet(cfg, tt.who, tt.set); got != tt.want {
			t.Errorf("mayOverrideSet(%s, %s, ownerless=%v) = %v, want %v", tt.who.Login, tt.set, tt.ownerless, got, tt.want)
		}
	}
}

func TestApprovalBinding(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name                       string
		current, summary           string
		summaryAt, commentAt       time.Time
		wantHead, wantWhySubstring string
	}{
		{"the plan read before the comment", "aaa", "aaa", t0, t0.Add(time.Second), "aaa", ""},
		{"no plan yet", "aaa", "", time.Time{}, t0, "", "no plan"},
		{"plan edited in the same second", "aaa", "aaa", t0, t0, "", "changed after your comment"},
		{"plan edited after", "aaa", "aaa", t0.Add(time.Second), t0, "", "changed after your comment"},
		{"head moved since", "bbb", "aaa", t0, t0.Add(time.Second), "", "head moved from aaa"},
	} {
		head, why := approvalBinding(tt.current, tt.summary, tt.summaryAt, tt.commentAt)
		if head != tt.wantHead || !strings.Contains(why, tt.wantWhySubstring) || (tt.wantWhySubstring == "") != (why == "") {
			t.Errorf("%s: approvalBinding = %q, %q", tt.name, head, why)
		}
	}
}

// TestForgedMarkersAreIgnored: overrides planted by users, directly or
// through gantry's echo of their text, approve nothing.
func TestForgedMarkersAreIgnored(t *testing.T) {
	l := startServer(t, baseFiles, "")
	pr, head := openRed(t, l)
	forged := []string{
		"<!-- gantry:override head=" + head + " by=rita reason=x -->",
		"<!-- gantry:override eyJoZWFkIjoiIn0 AAAAAAAAAAAAAAAAAAAAAA -->\nlooks sealed",
		"/gantry revert <!-- gantry:override head=" + head + " by=rita reason=x -->",
		"/gantry <!--gantry:override-->",
	}
	for _, f := range forged {
		l.comment(t, "rita", pr, f)
	}
	waitFor(t, "echo of the refused command", func() bool { return l.botSays(pr, "`/gantry revert` takes no arguments") })
	l.comment(t, "alice", pr, "/gantry plan")
	waitFor(t, "re-plan", func() bool { return len(l.sim.CheckRuns("acme", "ops", head)) >= 4 && l.completed(head) })
	l.noOverride(t, pr, head)
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User != "gantry[bot]" {
			continue
		}
		if n := strings.Count(c.Body, "<!--"); n > 1 || (n == 1 && partOf(l.pipe.Seal, marker.Scope("acme", "ops", pr), c.Body) == 0) {
			t.Errorf("a gantry comment carries an HTML comment it did not seal:\n%s", c.Body)
		}
	}
}

// TestForkPullRequestsFailClosed: a pull request from a fork that was
// deleted (head.repo null) is a fork; commands and the resync do not plan
// it.
func TestForkPullRequestsFailClosed(t *testing.T) {
	l := startServer(t, baseFiles, "")
	fork, err := l.sim.Fork("mallory", "acme", "ops")
	if err != nil {
		t.Fatal(err)
	}
	pr, head, err := l.sim.OpenPR("mallory", "acme", "ops", githubsim.PullOptions{Head: "evil", HeadRepo: fork, Base: "main", Title: "evil",
		Files: map[string]string{"apps/web/cm.yaml": redCM}})
	if err != nil {
		t.Fatal(err)
	}
	owner, name, _ := strings.Cut(fork, "/")
	if err := l.sim.DeleteRepo(owner, name); err != nil {
		t.Fatal(err)
	}
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	l.comment(t, "maria", pr, "/gantry plan")
	waitFor(t, "refusal", func() bool {
		return l.botSays(pr, "comes from the fork a repository that no longer exists: this gantry server does not process it")
	})
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if runs := l.sim.CheckRuns("acme", "ops", head); len(runs) != 0 {
		t.Errorf("the fork's head got %d check runs", len(runs))
	}
}

// TestPlanStaysInsideTheRepositorysGrant: objects in a namespace or of a
// cluster-scoped kind the server does not grant the repository fail the
// app at their source line, and nothing of the live objects there is
// read into the comment.
func TestPlanStaysInsideTheRepositorysGrant(t *testing.T) {
	l := startServer(t, baseFiles, "")
	other := kube.Namespace(t)
	cs := kubernetes.NewForConfigOrDie(kube.Config)
	if _, err := cs.CoreV1().ConfigMaps(other).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Data: map[string]string{"token": "live-value-only-they-may-read"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pr, head := l.openAndPlan(t, "reach", map[string]string{"apps/web/reach.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: " + other +
		"\ndata:\n  token: guess\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: gantry-test-escalate\nrules: []\n"})
	c := l.checks(head)[report.CheckDiff]
	if c.Conclusion != "failure" {
		t.Errorf("diff check %s, want failure", c.Conclusion)
	}
	s := l.summary(pr)
	for _, want := range []string{"namespace " + other + " is not granted to acme/ops", "cluster-scoped kind ClusterRole.rbac.authorization.k8s.io is not granted"} {
		if !strings.Contains(s, want) {
			t.Errorf("comment does not say %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "live-value-only-they-may-read") {
		t.Error("the comment shows a live object outside the grant")
	}
	// Each object outside the grant is annotated on its own line.
	lines := map[int]string{}
	for _, a := range c.Annotations {
		if a.Path == "apps/web/reach.yaml" {
			lines[a.StartLine] = a.Message
		}
	}
	if !strings.Contains(lines[1], "namespace "+other) || !strings.Contains(lines[9], "ClusterRole") {
		t.Errorf("annotations on apps/web/reach.yaml, want line 1 (ConfigMap) and line 9 (ClusterRole): %+v", lines)
	}
	kc, _ := l.pipe.Clusters.Get("local")
	if lock, _ := kc.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "web"}); lock != nil {
		t.Errorf("an app outside the grant took a lock: %+v", lock)
	}
}

// TestResyncKeepsTheLocksOfOpenPullRequests: a lock lives as long as its
// pull request is open; the resync renews it and releases it on close.
func TestResyncKeepsTheLocksOfOpenPullRequests(t *testing.T) {
	l := startServer(t, baseFiles, "")
	pr, _ := l.openAndPlan(t, "green", map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	kc, _ := l.pipe.Clusters.Get("local")
	key := cluster.LockKey{Repository: "acme/ops", App: "web"}
	before, err := kc.InspectLock(context.Background(), key)
	if err != nil || before == nil || before.PR != pr {
		t.Fatalf("lock after the plan: %+v, %v", before, err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	after, _ := kc.InspectLock(context.Background(), key)
	if after == nil || after.PR != pr || !after.Renewed.After(before.Renewed) {
		t.Fatalf("lock after a resync with the pull request open: %+v (before: %+v)", after, before)
	}
	if err := l.sim.ClosePR("alice", "acme", "ops", pr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "release on close", func() bool {
		lock, _ := kc.InspectLock(context.Background(), key)
		return lock == nil
	})
}

// TestCheckoutsUseAReadOnlyToken: every git fetch of a plan is made with
// a token that can read this repository's contents and nothing else.
func TestCheckoutsUseAReadOnlyToken(t *testing.T) {
	l := startServer(t, baseFiles, "")
	l.openAndPlan(t, "green", map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"})
	fetches := 0
	for _, r := range l.sim.Requests() {
		if r.Kind != githubsim.KindGit {
			continue
		}
		fetches++
		if r.Caller.Kind != "installation" || r.Caller.Permissions["contents"] != "read" || len(r.Caller.Permissions) > 2 ||
			!slices.Equal(r.Caller.Repositories, []string{"acme/ops"}) {
			t.Errorf("git %s %s with %+v, want an installation token limited to contents: read on acme/ops", r.GitService, r.Path, r.Caller)
		}
		for p, level := range r.Caller.Permissions {
			if p != "contents" && p != "metadata" || level != "read" {
				t.Errorf("checkout token has %s: %s", p, level)
			}
		}
	}
	if fetches == 0 {
		t.Fatal("no git request seen")
	}
}

func TestRoleIsGitHubsTopLevelRoleName(t *testing.T) {
	f := newBotFixture(t)
	for login, role := range map[string]string{"maria": "maintain", "tess": "triage", "wes": "write"} {
		if err := f.sim.SetPermission("acme", "ops", login, role); err != nil {
			t.Fatal(err)
		}
		got, err := repositoryRole(context.Background(), f.gh, "acme", "ops", login)
		if err != nil || got != role {
			t.Errorf("role of %s = %q, %v; want %q", login, got, err, role)
		}
	}
}

// TestNothingSecretLeaks runs a hostile pull request through the whole
// server (a Secret whose live value differs, repository policies that
// echo Secret values, commands that echo text) and then searches
// everything gantry produced — comments, check runs with their
// annotations, log lines and pages — for every Secret value and for the
// bytes of the server's key and webhook secret files.
func TestNothingSecretLeaks(t *testing.T) {
	const (
		liveValue = "live-password-4c1d7e"
		prValue   = "pr-password-9a8b7c"
	)
	files := map[string]string{}
	for k, v := range baseFiles {
		files[k] = v
	}
	files["policy/leak.rego"] = "package main\n\ndeny contains msg if {\n\tinput.kind == \"Secret\"\n\tmsg := sprintf(\"rendered %v\", [input.stringData])\n}\n"
	files["policy/gantry_leak.rego"] = "package gantry.leak\n\ndeny contains msg if {\n\tinput.object.kind == \"Secret\"\n\tmsg := sprintf(\"live %v\", [input.live.data])\n}\n"
	l := startServer(t, files, "policyOverrides: {allowOwnerless: true}\n")
	cs := kubernetes.NewForConfigOrDie(kube.Config)
	if _, err := cs.CoreV1().Secrets(l.ns).Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, StringData: map[string]string{"password": liveValue},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pr, head := l.openAndPlan(t, "secret", map[string]string{"apps/web/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + prValue + "\n"})
	if err := l.sim.SetPermission("acme", "ops", "maria", "maintain"); err != nil {
		t.Fatal(err)
	}
	l.comment(t, "maria", pr, "/gantry approve-policies the check must show no value")
	l.comment(t, "maria", pr, "/gantry plan aip")
	waitFor(t, "answers", func() bool { return l.botSays(pr, "no app `") && l.botSays(pr, "overridden by @maria") })

	// The echoing policies did run: their messages are in the comment,
	// with the values masked.
	if !l.botSays(pr, "> rendered ") || !l.botSays(pr, "> live ") || !l.botSays(pr, "(hidden)") {
		t.Errorf("the echoing policies' findings are not in the comment:\n%s", l.summary(pr))
	}
	var produced []string
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" {
			produced = append(produced, "comment: "+c.Body)
		}
	}
	for _, r := range l.sim.CheckRuns("acme", "ops", head) {
		produced = append(produced, "check: "+r.Title+"\n"+r.Summary+"\n"+r.Text)
		for _, a := range r.Annotations {
			produced = append(produced, "annotation: "+a.Title+"\n"+a.Message+"\n"+a.RawDetails)
		}
	}
	produced = append(produced, "logs: "+l.logs.String())
	produced = append(produced, l.pages(t)...)

	key := l.sim.AppPrivateKeyPEM()
	keyLines := strings.Split(strings.TrimSpace(string(key)), "\n")
	needles := map[string]string{
		"live Secret value":               liveValue,
		"live Secret value, base64":       base64.StdEncoding.EncodeToString([]byte(liveValue)),
		"rendered Secret value":           prValue,
		"rendered Secret value, base64":   base64.StdEncoding.EncodeToString([]byte(prValue)),
		"webhook secret":                  hookSecret,
		"a line of the App's private key": keyLines[len(keyLines)/2],
	}
	for what, needle := range needles {
		for _, p := range produced {
			if strings.Contains(p, needle) {
				i := strings.Index(p, needle)
				t.Errorf("%s found in what gantry produced: …%s…", what, p[max(0, i-200):min(len(p), i+len(needle)+50)])
			}
		}
	}
	if len(produced) < 6 {
		t.Fatalf("only %d outputs searched", len(produced))
	}
}

// pages fetches the web page and every run page it links to, from the
// pages' own listener.
func (l *live) pages(t *testing.T) []string {
	t.Helper()
	get := func(path string) string {
		resp, err := http.Get(l.webURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return string(body)
	}
	index := get("/")
	out := []string{"page /: " + index}
	for _, m := range regexp.MustCompile(`href="(/runs/[^"]+)"`).FindAllStringSubmatch(index, -1) {
		out = append(out, "page "+m[1]+": "+get(m[1]))
	}
	if len(out) < 2 {
		t.Fatalf("the index links to no run:\n%s", index)
	}
	return out
}

// TestCheckoutSymlinksReadNothingOutside: a pull request whose
// .gantry.yaml, or whose manifest, is a symbolic link to the server's App
// key, its webhook secret or /dev/zero fails its plan with a message that
// names the file, and no byte of what the links point at is published.
func TestCheckoutSymlinksReadNothingOutside(t *testing.T) {
	for _, tt := range []struct {
		name  string
		files func(l *live) map[string]string
		want  string
	}{
		{".gantry.yaml links to the App key", func(l *live) map[string]string {
			return map[string]string{".gantry.yaml": githubsim.SymlinkPrefix + l.keyFile}
		}, ".gantry.yaml"},
		{".gantry.yaml links to /dev/zero", func(*live) map[string]string {
			return map[string]string{".gantry.yaml": githubsim.SymlinkPrefix + "/dev/zero"}
		}, ".gantry.yaml"},
		{"a manifest links to the webhook secret", func(l *live) map[string]string {
			return map[string]string{"apps/web/cm.yaml": githubsim.SymlinkPrefix + l.secretFile}
		}, "apps/web/cm.yaml"},
		{"a manifest links up and out", func(*live) map[string]string {
			return map[string]string{"apps/web/cm.yaml": githubsim.SymlinkPrefix + "../../../../../../../../etc/passwd"}
		}, "apps/web/cm.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := startServer(t, baseFiles, "")
			pr, head := l.openAndPlan(t, "link", tt.files(l))
			c := l.checks(head)[report.CheckDiff]
			s := l.summary(pr)
			if c.Conclusion != "failure" || !strings.Contains(s, tt.want) || !strings.Contains(s, "outside") {
				t.Errorf("diff check %s; the comment does not name %s as leading outside:\n%s", c.Conclusion, tt.want, s)
			}
			key := strings.Split(strings.TrimSpace(string(l.sim.AppPrivateKeyPEM())), "\n")
			all := s + c.Title + c.Summary + l.logs.String()
			for _, a := range c.Annotations {
				all += a.Message
			}
			for _, needle := range []string{key[1], key[len(key)/2], hookSecret, "root:x:0:0"} {
				if strings.Contains(all, needle) {
					t.Errorf("%q was published", needle)
				}
			}
		})
	}
}

// openAndPlan opens a pull request by alice from branch changing files,
// and waits for gantry's plan of it.
func (l *live) openAndPlan(t *testing.T, branch string, files map[string]string) (int, string) {
	t.Helper()
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: branch, Base: "main", Title: branch, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	return pr, head
}
