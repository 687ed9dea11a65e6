package bot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/bot/report"
	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/fixtures/githubsim"
)

const webToken = "pages-token-for-tests"

// get fetches url with an optional Authorization header.
func get(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// planned starts a server with extra configuration and waits for one
// plan, so that the pages have a run to show.
func planned(t *testing.T, serverYAML string) *live {
	t.Helper()
	l := startServer(t, baseFiles, serverYAML)
	_, head, err := l.sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "green", Base: "main", Title: "green",
		Files: map[string]string{"apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-config\ndata:\n  color: green\n"}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "checks completed", func() bool {
		c := l.checks(head)
		return c[report.CheckDiff].Status == "completed" && c[report.CheckPolicy].Status == "completed"
	})
	waitFor(t, "the run recorded", func() bool { return len(l.srv.runs.list()) > 0 })
	return l
}

var runLink = regexp.MustCompile(`href="(/runs/[^"]+)"`)

// TestPagesAreNotOnTheWebhookPort proves the webhook listener serves no
// page: / and /runs/ID answer 404 there, though the run exists and the
// pages' own listener shows it.
func TestPagesAreNotOnTheWebhookPort(t *testing.T) {
	l := planned(t, "")
	code, index := get(t, l.webURL+"/", "")
	m := runLink.FindStringSubmatch(index)
	if code != http.StatusOK || m == nil {
		t.Fatalf("pages' listener on loopback: GET /: %d, no run link:\n%.400s", code, index)
	}
	if code, page := get(t, l.webURL+m[1], ""); code != http.StatusOK || !strings.Contains(page, "web-config") {
		t.Errorf("pages' listener: GET %s: %d:\n%.400s", m[1], code, page)
	}
	for _, path := range []string{"/", m[1], "/runs/1"} {
		if code, body := get(t, l.url+path, "Bearer "+webToken); code != http.StatusNotFound {
			t.Errorf("webhook port: GET %s: %d, want 404:\n%.200s", path, code, body)
		}
	}
}

// TestPagesNeedTheToken proves that with a web token configured, no page
// is served without it or with a wrong one, and the right one opens them.
func TestPagesNeedTheToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "web-token")
	if err := os.WriteFile(tokenFile, []byte(webToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := planned(t, fmt.Sprintf("web: {tokenFile: %q}\n", tokenFile))
	code, index := get(t, l.webURL+"/", "Bearer "+webToken)
	m := runLink.FindStringSubmatch(index)
	if code != http.StatusOK || m == nil || !strings.Contains(index, "acme/ops#1") {
		t.Fatalf("GET / with the token: %d:\n%.400s", code, index)
	}
	for _, path := range []string{"/", m[1], "/runs/nonexistent"} {
		for _, auth := range []string{"", "Bearer wrong", "Bearer " + webToken + "x", "Bearer " + webToken[:5], "Basic " + webToken, webToken} {
			if code, body := get(t, l.webURL+path, auth); code != http.StatusUnauthorized || strings.Contains(body, "acme/ops") {
				t.Errorf("GET %s with %q: %d, want 401:\n%.200s", path, auth, code, body)
			}
		}
	}
	if code, page := get(t, l.webURL+m[1], "Bearer "+webToken); code != http.StatusOK || !strings.Contains(page, "web-config") {
		t.Errorf("GET %s with the token: %d:\n%.400s", m[1], code, page)
	}
}

// TestMetricsWhereConfigured proves /metrics moves to the pages' listener
// when so configured, and there takes its own token.
func TestMetricsWhereConfigured(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "metrics-token")
	if err := os.WriteFile(tokenFile, []byte("m-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := startServer(t, baseFiles, fmt.Sprintf("metrics: {listener: web, tokenFile: %q}\n", tokenFile))
	if code, _ := get(t, l.url+"/metrics", "Bearer m-token"); code != http.StatusNotFound {
		t.Errorf("webhook port: GET /metrics: %d, want 404", code)
	}
	if code, _ := get(t, l.webURL+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("pages' listener: GET /metrics without the token: %d, want 401", code)
	}
	if code, body := get(t, l.webURL+"/metrics", "Bearer m-token"); code != http.StatusOK || !strings.Contains(body, "gantry_queue_waiting_jobs") {
		t.Errorf("pages' listener: GET /metrics with the token: %d:\n%.200s", code, body)
	}
}

func TestRequireToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "secret page") })
	h := requireToken([]byte("s3cret"), ok)
	for auth, want := range map[string]int{
		"":               http.StatusUnauthorized,
		"Bearer s3cret":  http.StatusOK,
		"Bearer s3cre":   http.StatusUnauthorized,
		"Bearer s3cretx": http.StatusUnauthorized,
		"Bearer ":        http.StatusUnauthorized,
		"s3cret":         http.StatusUnauthorized,
		"Basic s3cret":   http.StatusUnauthorized,
		"bearer s3cret":  http.StatusOK, // the scheme is case-insensitive (RFC 9110)
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Authorization %q: %d, want %d", auth, w.Code, want)
		}
		if w.Code != http.StatusOK && (strings.Contains(w.Body.String(), "secret page") || w.Header().Get("WWW-Authenticate") == "") {
			t.Errorf("Authorization %q: refused without a challenge, or with the page: %q", auth, w.Body.String())
		}
	}
}

func TestRunIDsAreRandom(t *testing.T) {
	l := newRunLog(10)
	seen := map[string]bool{}
	for range 5 {
		l.add(Job{}, report.Report{}, nil)
	}
	for _, r := range l.list() {
		if len(r.ID) < 26 || seen[r.ID] {
			t.Errorf("run id %q: short or repeated", r.ID)
		}
		seen[r.ID] = true
		if _, ok := l.get(r.ID); !ok {
			t.Errorf("run %q not found by its id", r.ID)
		}
	}
	if _, ok := l.get("1"); ok {
		t.Error("a sequential id finds a run")
	}
}

// addrListener is a listener that claims an address; it accepts nothing.
type addrListener struct {
	addr   net.Addr
	closed chan struct{}
}

func (l *addrListener) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l *addrListener) Close() error {
	select {
	case <-l.closed:
	default:
		close(l.closed)
	}
	return nil
}
func (l *addrListener) Addr() net.Addr { return l.addr }

// TestRunRefusesPagesReachableWithoutAToken proves the server will not
// serve the pages on a listener other machines reach unless a token is
// configured, whatever the configuration file said (a --web-listen flag
// or a listener handed in), and names the field to set.
func TestRunRefusesPagesReachableWithoutAToken(t *testing.T) {
	for _, tt := range []struct {
		name string
		ip   net.IP
		want string
	}{
		{"every interface", net.IPv4zero, "web.tokenFile: missing"},
		{"a routable address", net.IPv4(10, 1, 2, 3), "web.tokenFile: missing"},
		{"loopback", net.IPv4(127, 0, 0, 1), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: &config.Server{ResyncInterval: config.Duration(time.Hour)}, log: slog.New(slog.DiscardHandler), queue: NewQueue(func(context.Context, Job) error { return nil }, 1, nil),
				hook: &Webhook{}, runs: newRunLog(1), metrics: NewMetrics(func() int { return 0 }, func() int { return 0 }), pipe: &Pipeline{Clusters: NewClusters(&config.Server{})}}
			hook := &addrListener{addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, closed: make(chan struct{})}
			web := &addrListener{addr: &net.TCPAddr{IP: tt.ip, Port: 2}, closed: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.want == "" {
				cancel()
			}
			defer cancel()
			err := s.Run(ctx, Listeners{Webhook: hook, Web: web}, time.Second)
			if tt.want == "" {
				if err != nil {
					t.Errorf("loopback without a token: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
