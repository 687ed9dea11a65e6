package bot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

const hookSecret = "webhook-secret-for-tests"

// live is a running gantry server wired to a simulator whose deliveries
// reach it over HTTP, as GitHub's would.
type live struct {
	*e2e
	srv    *Server
	url    string
	webURL string // the pages' listener
	stop   func()
	logs   *syncBuffer
	// keyFile and secretFile are the server's App key and webhook secret.
	keyFile, secretFile string
	// serverYAML is the configuration the test gave, for a restart.
	serverYAML string
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startServer(t testing.TB, files map[string]string, serverYAML string) *live {
	t.Helper()
	return serve(t, newE2E(t, files), serverYAML)
}

// restartServer starts a new server, with nothing in memory, on the
// simulator and cluster of l, after l stopped.
func restartServer(t testing.TB, l *live) *live {
	t.Helper()
	return serve(t, l.e2e, l.serverYAML)
}

func serve(t testing.TB, e *e2e, serverYAML string) *live {
	t.Helper()
	return serveWorkers(t, e, serverYAML, 4)
}

// serveWorkers is serve with a queue of the given number of workers
// (gantry serve --workers).
func serveWorkers(t testing.TB, e *e2e, serverYAML string, workers int) *live {
	t.Helper()
	yamlGiven := serverYAML
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("key.pem", string(e.sim.AppPrivateKeyPEM()))
	secretFile := write("secret", hookSecret+"\n")
	if !strings.Contains(serverYAML, "repositories:") {
		// The test repository may reach the test's namespace, as a
		// platform team would grant it.
		serverYAML += fmt.Sprintf("repositories: [{match: [acme/ops], clusters: [\"*\"], namespaces: [%q]}]\n", e.ns)
	}
	if !regexp.MustCompile(`(?m)^clusters:`).MatchString(serverYAML) {
		serverYAML += fmt.Sprintf("clusters: [{name: local, kubeconfig: %q}]\n", kube.Kubeconfig)
	}
	cfgText := fmt.Sprintf("github: {appID: %d, privateKeyFile: key.pem, webhookSecretFile: secret, url: %q}\nresyncInterval: 1h\n%s",
		e.sim.AppID(), e.sim.URL()+"/api/v3/", serverYAML)
	cfg, err := config.ParseServer(write("gantry.yaml", cfgText), []byte(cfgText), dir)
	if err != nil {
		t.Fatal(err)
	}
	// Every log line is kept, so tests can search what gantry logged.
	logs := &syncBuffer{}
	var logOut io.Writer = logs
	if testing.Verbose() {
		logOut = io.MultiWriter(logs, os.Stderr)
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})) // as gantry serve logs
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := NewServer(ctx, cfg, ServerOptions{Log: log, CacheDir: t.TempDir(), Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	webLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, Listeners{Webhook: ln, Web: webLn}, 10*time.Second) }()
	url := "http://" + ln.Addr().String()
	e.sim.SetWebhook(url+"/webhooks", hookSecret)
	// The resync at start runs before the test acts, so it never races
	// with what the test does.
	if !cfg.State.LeaderElection.Enabled {
		select {
		case <-srv.resynced:
		case <-time.After(time.Minute):
			t.Fatal("the resync at start did not end")
		}
	}
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	l := &live{e2e: e, srv: srv, url: url, webURL: "http://" + webLn.Addr().String(), stop: stop, logs: logs, keyFile: keyFile, secretFile: secretFile, serverYAML: yamlGiven}
	t.Cleanup(l.stop)
	return l
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *live) completed(sha string) bool {
	c := l.checks(sha)
	return c[report.CheckDiff].Status == "completed" && c[report.CheckPolicy].Status == "completed"
}

func (l *live) botSays(pr int, sub string) bool {
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.User == "gantry[bot]" && strings.Contains(c.Body, sub) {
			return true
		}
	}
	return false
}

func TestServeWebhookToComment(t *testing.T) {
	l := startServer(t, baseFiles, "")
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "green", Base: "main", Title: "green",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "checks completed", func() bool { return l.completed(head) })
	if !l.botSays(pr, "### gantry · 1 app changes") {
		t.Errorf("no summary comment:\n%s", l.summary(pr))
	}
	// The probes answer (the pages are on their own listener: web_test.go).
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "gantry_renders_abandoned_total"} {
		resp, err := http.Get(l.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want 200 containing %q:\n%.400s", path, resp.StatusCode, want, body)
		}
	}
	// Closing the pull request releases its lock.
	c, err := l.pipe.Clusters.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	if lock, err := c.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "web"}); err != nil || lock == nil || lock.PR != pr {
		t.Fatalf("lock of web after plan: %+v, %v; want held by #%d", lock, err, pr)
	}
	if err := l.sim.ClosePR("alice", "acme", "ops", pr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "lock released on close", func() bool {
		lock, err := c.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "web"})
		return err == nil && (lock == nil || lock.Holder == "")
	})
}

func TestServeNewerPushCancelsTheOlderRun(t *testing.T) {
	l := startServer(t, baseFiles, "")
	// Slow the first run's file listing so it is still running when the
	// second push arrives.
	remove := l.sim.InjectFault(githubsim.Slow(3*time.Second).On("GET", "/repos/{owner}/{repo}/pulls/{pull_number}/files").Times(1))
	defer remove()
	pr, first, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "colors", Base: "main", Title: "colors",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first run in progress", func() bool { return l.checks(first)[report.CheckDiff].Status == "in_progress" })
	second, err := l.sim.Push("alice", "acme", "ops", "colors", map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: purple\n"}, nil, "purple")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second run completed", func() bool { return l.completed(second) })
	waitFor(t, "first run completed", func() bool { return l.completed(first) })
	if got := l.checks(first)[report.CheckDiff].Conclusion; got != "cancelled" {
		t.Errorf("older head's check: %q, want cancelled", got)
	}
	if got := l.checks(second)[report.CheckDiff].Conclusion; got != "success" {
		t.Errorf("newer head's check: %q, want success", got)
	}
	if s := l.summary(pr); !strings.Contains(s, "color: purple") || strings.Contains(s, "color: green") {
		t.Errorf("comment does not show the newest head only:\n%s", s)
	}
}

func TestServeCommands(t *testing.T) {
	// The repository's own policies have no owners: this server lets
	// maintainers override them.
	l := startServer(t, baseFiles, "policyOverrides: {allowOwnerless: true}\n")
	pr, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "red", Base: "main", Title: "red",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: red\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "plan", func() bool { return l.completed(head) })
	if c := l.checks(head)[report.CheckPolicy]; c.Conclusion != "failure" {
		t.Fatalf("policy check %q, want failure", c.Conclusion)
	}
	for login, role := range map[string]string{"alice": "write", "maria": "maintain", "rita": "read"} {
		if err := l.sim.SetPermission("acme", "ops", login, role); err != nil {
			t.Fatal(err)
		}
	}
	comment := func(login, body string) int64 {
		id, err := l.sim.Comment(login, "acme", "ops", pr, body)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// A typo gets help and a suggestion.
	comment("alice", "/gantry aply")
	waitFor(t, "did you mean", func() bool { return l.botSays(pr, "`/gantry aply` is not a command; did you mean `/gantry apply`?\n") })
	// Someone who may only read cannot override policy.
	comment("rita", "/gantry approve-policies because")
	waitFor(t, "refusal", func() bool { return l.botSays(pr, "@rita `/gantry approve-policies because`: ❌ not allowed") })
	// A maintainer can: the policy check turns green with the reason.
	id := comment("maria", "/gantry approve-policies hotfix for INC-412")
	waitFor(t, "override", func() bool {
		c := l.checks(head)[report.CheckPolicy]
		return c.Conclusion == "success" && strings.Contains(c.Title, "overridden by @maria: hotfix for INC-412")
	})
	found := false
	for _, c := range l.sim.Comments("acme", "ops", pr) {
		if c.ID == id && len(c.Reactions) > 0 && c.Reactions[0] == "eyes" {
			found = true
		}
	}
	if !found {
		t.Error("the command comment got no 👀 reaction")
	}
	// A plan naming an unknown app says so; naming an untouched app plans it too.
	comment("alice", "/gantry plan aip")
	waitFor(t, "unknown app answer", func() bool { return l.botSays(pr, "no app `aip` in .gantry.yaml (did you mean \"api\"?)") })
	comment("alice", "/gantry plan api")
	waitFor(t, "plan with api", func() bool { return l.botSays(pr, "| api | local |") })
	// Unlock releases this PR's lock.
	comment("alice", "/gantry unlock")
	// (api's objects are not in the cluster yet, so planning it locked it.)
	waitFor(t, "unlock answer", func() bool { return l.botSays(pr, "🔓 released `api`, `web`.") })
	// Quoted commands and other bots' comments run nothing.
	before := len(l.sim.Comments("acme", "ops", pr))
	comment("alice", "> /gantry unlock\nas above")
	time.Sleep(500 * time.Millisecond)
	if after := len(l.sim.Comments("acme", "ops", pr)); after != before+1 {
		t.Errorf("a quoted command was answered (%d new comments)", after-before-1)
	}
}

func TestServeResyncRepairsLostDeliveries(t *testing.T) {
	l := startServer(t, baseFiles, "")
	l.sim.SetWebhook("", "") // every delivery is lost
	_, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "lost", Base: "main", Title: "lost",
		Files: map[string]string{"apps/api/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: api-config\ndata:\n  level: debug\n"}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if len(l.checks(head)) != 0 {
		t.Fatal("checks exist although the delivery was lost")
	}
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resync's plan", func() bool { return l.completed(head) })
	// A lock whose pull request closed while deliveries were lost is
	// released by the next resync.
	if err := l.sim.ClosePR("alice", "acme", "ops", 1); err != nil {
		t.Fatal(err)
	}
	c, _ := l.pipe.Clusters.Get("local")
	if lock, _ := c.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "api"}); lock == nil || lock.PR != 1 {
		t.Fatalf("lock before resync: %+v", lock)
	}
	if err := l.srv.resync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lock, _ := c.InspectLock(context.Background(), cluster.LockKey{Repository: "acme/ops", App: "api"}); lock != nil && lock.Holder != "" {
		t.Errorf("lock of a closed pull request survived resync: %+v", lock)
	}
}

func TestNewServerRejectsBadSetup(t *testing.T) {
	sim := githubsim.New(githubsim.Options{T: t, AppSlug: "gantry"}).Start()
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	secret := filepath.Join(dir, "secret")
	cfg := func() *config.Server {
		return &config.Server{GitHub: config.GitHub{URL: sim.URL() + "/api/v3/", AppID: sim.AppID(), PrivateKeyFile: key, WebhookSecretFile: secret}}
	}
	tests := []struct {
		name, key, secret, want string
	}{
		{"bad key", "not a key", "s", "key.pem: GitHub App"},
		{"empty secret", string(sim.AppPrivateKeyPEM()), "  \n", "webhook secret " + secret + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.WriteFile(key, []byte(tt.key), 0o600)
			_ = os.WriteFile(secret, []byte(tt.secret), 0o600)
			_, err := NewServer(context.Background(), cfg(), ServerOptions{CacheDir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	_ = os.Remove(key)
	if _, err := NewServer(context.Background(), cfg(), ServerOptions{}); err == nil || !strings.Contains(err.Error(), "read GitHub App private key") {
		t.Errorf("missing key: %v", err)
	}
}
