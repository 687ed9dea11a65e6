package bot

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/gantryops/gantry/fixtures/githubsim"
)

// tokenAuth adds an installation token, as ghinstallation does.
type tokenAuth struct {
	token string
	base  http.RoundTripper
}

func (a tokenAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "token "+a.token)
	return a.base.RoundTrip(r)
}

// counting counts the requests that reach the network.
type counting struct {
	mu    sync.Mutex
	n     int
	codes []int
	base  http.RoundTripper
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	c.mu.Lock()
	c.n++
	if resp != nil {
		c.codes = append(c.codes, resp.StatusCode)
	}
	c.mu.Unlock()
	return resp, err
}

type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	w.d = append(w.d, d)
	w.mu.Unlock()
	return nil
}

func simClient(t *testing.T) (*githubsim.Server, *github.Client, *Transport, *counting, *waits) {
	t.Helper()
	sim := githubsim.New(githubsim.Options{T: t}).Start()
	if _, err := sim.CreateRepo("acme", "ops", githubsim.RepoOptions{Files: map[string]string{"README.md": "hi\n"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sim.OpenPR("alice", "acme", "ops", githubsim.PullOptions{Head: "change", Base: "main", Title: "change",
		Files: map[string]string{"README.md": "hello\n"}}); err != nil {
		t.Fatal(err)
	}
	tok, err := sim.InstallationToken("acme")
	if err != nil {
		t.Fatal(err)
	}
	net := &counting{base: http.DefaultTransport}
	w := &waits{}
	tr := &Transport{Base: tokenAuth{tok, net}, sleep: w.sleep}
	gh, err := github.NewClient(&http.Client{Transport: tr}).WithEnterpriseURLs(sim.URL()+"/", sim.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	return sim, gh, tr, net, w
}

func TestTransportRetries(t *testing.T) {
	tests := []struct {
		name      string
		fault     githubsim.Fault
		method    string
		wantErr   bool
		wantCalls int
		wantWait  time.Duration // the first wait, when exact
	}{
		{"502 then success", githubsim.ServerError(502).Times(2), "GET", false, 3, 0},
		{"secondary rate limit honours Retry-After", githubsim.SecondaryRateLimit(7 * time.Second).Times(1), "GET", false, 2, 7 * time.Second},
		{"500 on a POST is not repeated", githubsim.ServerError(500).Times(1), "POST", true, 1, 0},
		{"503 on a POST is repeated", githubsim.ServerError(503).Times(1), "POST", false, 2, 0},
		{"persistent 502 gives up", githubsim.ServerError(502), "GET", true, 5, 0},
		{"422 is not retried", githubsim.ValidationError(githubsim.FieldError{Resource: "Issue", Field: "body", Code: "invalid"}).Times(1), "POST", true, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, gh, _, net, w := simClient(t)
			ctx := context.Background()
			route := "/repos/{owner}/{repo}"
			if tt.method == "POST" {
				route = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
			}
			sim.InjectFault(tt.fault.On(tt.method, route))
			var err error
			if tt.method == "GET" {
				_, _, err = gh.Repositories.Get(ctx, "acme", "ops")
			} else {
				_, _, err = gh.Issues.CreateComment(ctx, "acme", "ops", 1, &github.IssueComment{Body: github.String("x")})
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if net.n != tt.wantCalls {
				t.Errorf("%d requests reached GitHub (%v), want %d", net.n, net.codes, tt.wantCalls)
			}
			if tt.wantWait != 0 && (len(w.d) == 0 || w.d[0] != tt.wantWait) {
				t.Errorf("waits %v, want first %v", w.d, tt.wantWait)
			}
		})
	}
}

func TestTransportPrimaryRateLimit(t *testing.T) {
	sim, gh, _, _, w := simClient(t)
	sim.InjectFault(githubsim.PrimaryRateLimit(time.Hour).On("GET", "/repos/{owner}/{repo}"))
	_, _, err := gh.Repositories.Get(context.Background(), "acme", "ops")
	var rl *RateLimitError
	if !errors.As(err, &rl) || time.Until(rl.Reset) < 50*time.Minute {
		t.Fatalf("err = %v, want RateLimitError resetting in about an hour", err)
	}
	if len(w.d) != 0 {
		t.Errorf("waited %v for a reset an hour away", w.d)
	}
}

func TestTransportConditionalRequests(t *testing.T) {
	_, gh, tr, net, _ := simClient(t)
	ctx := context.Background()
	first, _, err := gh.Repositories.Get(ctx, "acme", "ops")
	if err != nil {
		t.Fatal(err)
	}
	before := tr.Remaining()
	second, resp, err := gh.Repositories.Get(ctx, "acme", "ops")
	if err != nil {
		t.Fatal(err)
	}
	if net.codes[len(net.codes)-1] != http.StatusNotModified {
		t.Fatalf("second GET answered %v, want a 304 from the ETag", net.codes)
	}
	if resp.StatusCode != http.StatusOK || second.GetFullName() != first.GetFullName() || second.GetFullName() == "" {
		t.Errorf("cached answer %d %q, want 200 %q", resp.StatusCode, second.GetFullName(), first.GetFullName())
	}
	if after := tr.Remaining(); after != before {
		t.Errorf("a 304 cost rate limit: remaining %d -> %d", before, after)
	}
}
