package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

// receiver is a local HTTP endpoint that records what it gets and answers
// from a script: answers[i] for the i-th request, the last one after.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	answers []answer
	// hold, when set, is waited on by every request after it is recorded.
	hold  chan struct{}
	seen  chan struct{} // one value per request, when non-nil
	paths map[string]int
}

type answer struct {
	status     int
	retryAfter string
}

type received struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answers ...answer) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		i := len(r.got)
		r.got = append(r.got, received{path: req.URL.Path, header: req.Header.Clone(), body: body})
		a := answer{status: http.StatusOK}
		if len(r.answers) > 0 {
			a = r.answers[min(i, len(r.answers)-1)]
		}
		hold, seen := r.hold, r.seen
		r.mu.Unlock()
		if seen != nil {
			seen <- struct{}{}
		}
		if hold != nil {
			<-hold
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func slackTo(t *testing.T, url string) config.Notification {
	return config.Notification{Slack: &config.SlackTarget{URLFile: writeFile(t, "slack-url", url+"\n")}}
}

func webhookTo(t *testing.T, url, secret string) config.Notification {
	return config.Notification{Webhook: &config.WebhookTarget{URL: url, SecretFile: writeFile(t, "secret", secret+"\n")}}
}

// waits records the waits a Notifier asked for, taking none of them.
type waits struct {
	mu sync.Mutex
	ds []time.Duration
}

func (w *waits) wait(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ds = append(w.ds, d)
	return nil
}

// start makes a Notifier whose retries wait for nothing (the waits it
// asked for are recorded) and logs into the returned buffer.
func start(t *testing.T, cfg []config.Notification, opts Options) (*Notifier, *waits, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	n, err := NewWithOptions(cfg, slog.New(slog.NewTextHandler(logs, nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	w := &waits{}
	n.wait = w.wait
	return n, w, logs
}

func closeNow(t *testing.T, n *Notifier) {
	t.Helper()
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

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

var at = time.Date(2026, 11, 29, 17, 0, 0, 0, time.UTC)

var failed = Event{Kind: ApplyFailed, Repository: "acme/ops", App: "web", Cluster: "prod", Commit: "0123456789abcdef0123",
	PR: 12, URL: "https://github.com/acme/ops/pull/12", Message: "Deployment/prod/web not healthy after 5m: 0 of 3 replicas ready", At: at}

func TestSlackBodyIsOneParagraphWithALink(t *testing.T) {
	r := newReceiver(t)
	n, _, _ := start(t, []config.Notification{slackTo(t, r.URL+"/services/T0/B0/secret")}, Options{})
	n.Send(failed)
	closeNow(t, n)
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"text": ":x: *gantry: apply failed* in app `web` of acme/ops on cluster `prod` at `0123456789ab`." +
		" Deployment/prod/web not healthy after 5m: 0 of 3 replicas ready. <https://github.com/acme/ops/pull/12|pull request #12>"}
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("slack body (-want +got):\n%s", d)
	}
	if got[0].path != "/services/T0/B0/secret" || got[0].header.Get("Content-Type") != "application/json" {
		t.Errorf("posted to %s as %q", got[0].path, got[0].header.Get("Content-Type"))
	}
	if got[0].header.Get(SignatureHeader) != "" {
		t.Error("a Slack delivery carries gantry's signature header")
	}
}

func TestWebhookBodyIsSignedWithTheSecret(t *testing.T) {
	r := newReceiver(t)
	n, _, _ := start(t, []config.Notification{webhookTo(t, r.URL+"/hook", "s3cret")}, Options{})
	n.Send(failed)
	closeNow(t, n)
	got := r.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	sig := got[0].header.Get(SignatureHeader)
	if !hmac.Equal([]byte(sig), []byte(Sign([]byte("s3cret"), got[0].body))) {
		t.Errorf("signature %q does not verify with the secret", sig)
	}
	if hmac.Equal([]byte(sig), []byte(Sign([]byte("s3cret\n"), got[0].body))) || hmac.Equal([]byte(sig), []byte(Sign([]byte("other"), got[0].body))) {
		t.Error("the signature verifies with another secret (the file's newline must be trimmed)")
	}
	var p WebhookPayload
	if err := json.Unmarshal(got[0].body, &p); err != nil {
		t.Fatal(err)
	}
	want := WebhookPayload{Event: "apply-failed", Repository: "acme/ops", App: "web", Cluster: "prod", Commit: failed.Commit,
		PR: 12, URL: failed.URL, Message: failed.Message, At: at}
	if d := cmp.Diff(want, p); d != "" {
		t.Errorf("payload (-want +got):\n%s", d)
	}
	if got[0].header.Get(EventHeader) != "apply-failed" || len(got[0].header.Get(DeliveryHeader)) != 32 {
		t.Errorf("headers %v", got[0].header)
	}
}

func TestRetriesA503ThenSucceeds(t *testing.T) {
	r := newReceiver(t, answer{status: 503}, answer{status: 502}, answer{status: 200})
	n, w, _ := start(t, []config.Notification{webhookTo(t, r.URL, "k")}, Options{Backoff: time.Second, MaxBackoff: time.Minute})
	n.Send(failed)
	closeNow(t, n)
	got := r.requests()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	// A receiver drops retries by the delivery id: the same on each.
	if id := got[0].header.Get(DeliveryHeader); got[1].header.Get(DeliveryHeader) != id || got[2].header.Get(DeliveryHeader) != id || !bytes.Equal(got[0].body, got[2].body) {
		t.Error("the attempts of one delivery differ in id or body")
	}
	if d := cmp.Diff(Stats{Sent: 1, Retries: 2}, n.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	// Exponential backoff between attempts.
	if d := cmp.Diff([]time.Duration{time.Second, 2 * time.Second}, w.ds); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}
}

func TestGivesUpAfterTheAttempts(t *testing.T) {
	r := newReceiver(t, answer{status: 500})
	n, _, logs := start(t, []config.Notification{webhookTo(t, r.URL, "k")}, Options{Attempts: 4})
	n.Send(failed)
	closeNow(t, n)
	if got := len(r.requests()); got != 4 {
		t.Errorf("%d attempts, want 4", got)
	}
	if d := cmp.Diff(Stats{Failed: 1, Retries: 3}, n.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if !strings.Contains(logs.String(), "attempt 4 of 4") {
		t.Errorf("the failure is not logged with its attempts:\n%s", logs)
	}
}

func TestNoRetryOnA400(t *testing.T) {
	for _, status := range []int{400, 404, 410, 301} {
		r := newReceiver(t, answer{status: status}, answer{status: 200})
		n, _, _ := start(t, []config.Notification{webhookTo(t, r.URL, "k")}, Options{})
		n.Send(failed)
		closeNow(t, n)
		if got := len(r.requests()); got != 1 {
			t.Errorf("%d: %d attempts, want 1", status, got)
		}
		if d := cmp.Diff(Stats{Failed: 1}, n.Stats()); d != "" {
			t.Errorf("%d: stats (-want +got):\n%s", status, d)
		}
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, tt := range []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"capped", "86400", time.Minute},
		{"unreadable: backoff", "soon", 3 * time.Second},
		{"absent: backoff", "", 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newReceiver(t, answer{status: 429, retryAfter: tt.retryAfter}, answer{status: 200})
			n, w, _ := start(t, []config.Notification{slackTo(t, r.URL)}, Options{Backoff: 3 * time.Second, MaxRetryAfter: time.Minute})
			n.Send(failed)
			closeNow(t, n)
			if got := len(r.requests()); got != 2 {
				t.Errorf("%d attempts, want 2", got)
			}
			if d := cmp.Diff([]time.Duration{tt.want}, w.ds); d != "" {
				t.Errorf("waits (-want +got):\n%s", d)
			}
			if n.Stats().Sent != 1 {
				t.Errorf("stats %+v", n.Stats())
			}
		})
	}
}

func TestMatchRoutesEventsToTheirTargets(t *testing.T) {
	r := newReceiver(t)
	secret := writeFile(t, "secret", "k")
	to := func(path string, m config.NotificationMatch, events ...string) config.Notification {
		return config.Notification{Match: m, Events: events, Webhook: &config.WebhookTarget{URL: r.URL + path, SecretFile: secret}}
	}
	cfg := []config.Notification{
		to("/all", config.NotificationMatch{}),
		to("/acme-web", config.NotificationMatch{Repositories: []string{"acme/*"}, Apps: []string{"web-*"}}),
		to("/drift-only", config.NotificationMatch{Repositories: []string{"ACME/ops"}}, "drift"),
		to("/other", config.NotificationMatch{Repositories: []string{"other/*"}}),
	}
	tests := []struct {
		ev   Event
		want []string
	}{
		{Event{Kind: Drift, Repository: "acme/ops", App: "web-eu"}, []string{"/acme-web", "/all", "/drift-only"}},
		{Event{Kind: ApplyFailed, Repository: "acme/ops", App: "web-eu"}, []string{"/acme-web", "/all"}},
		{Event{Kind: RevertOpened, Repository: "acme/ops", App: "api"}, []string{"/all"}},
		{Event{Kind: Drift, Repository: "acme/infra", App: "web"}, []string{"/all"}},
		{Event{Kind: ApplyFailed, Repository: "other/x", App: "web-1"}, []string{"/all", "/other"}},
	}
	for _, tt := range tests {
		r.mu.Lock()
		r.got = nil
		r.mu.Unlock()
		n, _, _ := start(t, cfg, Options{})
		n.Send(tt.ev)
		closeNow(t, n)
		var got []string
		for _, q := range r.requests() {
			got = append(got, q.path)
		}
		if d := cmp.Diff(tt.want, sorted(got)); d != "" {
			t.Errorf("%s %s/%s went to (-want +got):\n%s", tt.ev.Kind, tt.ev.Repository, tt.ev.App, d)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestAFullQueueDropsWithoutBlocking(t *testing.T) {
	r := newReceiver(t)
	r.hold, r.seen = make(chan struct{}), make(chan struct{}, 10)
	n, _, logs := start(t, []config.Notification{webhookTo(t, r.URL, "k")}, Options{QueueSize: 1, Workers: 1})
	n.Send(failed)
	<-r.seen // the one worker is busy with the first delivery
	// The receiver holds the worker: one more fits the queue, the rest are
	// dropped, and Send returns each time (a blocking Send hangs here).
	for range 4 {
		n.Send(failed)
	}
	if d := n.Stats().Dropped; d != 3 {
		t.Errorf("dropped %d, want 3", d)
	}
	close(r.hold)
	closeNow(t, n)
	if d := cmp.Diff(Stats{Sent: 2, Dropped: 3}, n.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
	if got := strings.Count(logs.String(), "notification dropped: the queue is full"); got != 3 {
		t.Errorf("%d drop log lines, want 3:\n%s", got, logs)
	}
	// After Close nothing is queued, and Send still returns.
	n.Send(failed)
	if n.Stats().Dropped != 4 {
		t.Errorf("a Send after Close was not dropped: %+v", n.Stats())
	}
}

func TestCloseGivesUpWhenItsContextEnds(t *testing.T) {
	r := newReceiver(t)
	r.hold, r.seen = make(chan struct{}), make(chan struct{}, 10)
	defer close(r.hold)
	n, _, _ := start(t, []config.Notification{webhookTo(t, r.URL, "k")}, Options{Workers: 1})
	n.Send(failed)
	n.Send(failed)
	<-r.seen
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Close(ctx); err == nil {
		t.Fatal("Close returned nil although deliveries were still held")
	}
	// Both abandoned deliveries count as failed.
	if d := cmp.Diff(Stats{Failed: 2}, n.Stats()); d != "" {
		t.Errorf("stats (-want +got):\n%s", d)
	}
}

func TestMentionAndLinkInjectionIsEscaped(t *testing.T) {
	hostile := Event{Kind: Drift, Repository: "acme/ops", App: "web`<!here>", Cluster: "prod<@U123>",
		Commit: "abc", PR: 3, URL: "javascript:alert(1)",
		Message: "edited by <!channel> & <https://evil.example|your bank>\n\n@everyone " + strings.Repeat("x", 5000)}
	text := SlackText(hostile)
	for _, bad := range []string{"<!", "<@", "<https://evil", "javascript:", "\n"} {
		if strings.Contains(text, bad) {
			t.Errorf("slack text contains %q:\n%s", bad, text)
		}
	}
	for _, want := range []string{"&lt;!channel&gt; &amp; &lt;https://evil.example|your bank&gt; @everyone", "`web'&lt;!here&gt;`", "`prod&lt;@U123&gt;`", "(pull request #3)"} {
		if !strings.Contains(text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, text)
		}
	}
	if n := len([]rune(text)); n > maxMessage+400 {
		t.Errorf("slack text is %d runes: the message is not bounded", n)
	}
	// A URL with a | cannot relabel the link.
	if text := SlackText(Event{Kind: Drift, URL: "https://github.com/a|<!channel>"}); strings.Contains(text, "|<") || strings.Contains(text, "<!") {
		t.Errorf("link relabelled: %s", text)
	}
	// The webhook gets plain, bounded text; its URL only when http(s).
	tg := &target{}
	body, err := tg.body(hostile)
	if err != nil {
		t.Fatal(err)
	}
	var p WebhookPayload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.Message, "\n") || len([]rune(p.Message)) != maxMessage+1 || !strings.HasSuffix(p.Message, "…") || p.URL != "" {
		t.Errorf("webhook message %d runes, url %q: %.80q", len([]rune(p.Message)), p.URL, p.Message)
	}
}

func TestTheSlackURLIsNeverLogged(t *testing.T) {
	// A receiver that fails, and one that is not there at all.
	r := newReceiver(t, answer{status: 500})
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	for _, u := range []string{r.URL + "/services/T0/B0/XYZSECRET", gone.URL + "/services/T0/B0/XYZSECRET"} {
		n, _, logs := start(t, []config.Notification{slackTo(t, u)}, Options{Attempts: 2})
		n.Send(failed)
		closeNow(t, n)
		if n.Stats().Failed != 1 {
			t.Errorf("stats %+v", n.Stats())
		}
		if strings.Contains(logs.String(), "XYZSECRET") || !strings.Contains(logs.String(), "notifications[0] (slack)") {
			t.Errorf("log leaks the URL or does not name the target:\n%s", logs)
		}
	}
}

func TestNoNotificationsSendsNothing(t *testing.T) {
	n, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.Send(failed)
	closeNow(t, n)
	if n.Stats() != (Stats{}) {
		t.Errorf("stats %+v", n.Stats())
	}
}
