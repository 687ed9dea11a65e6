package bot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/cluster"
)

var secret = []byte("It's a Secret to Everybody")

func sign(body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type queued struct {
	mu   sync.Mutex
	jobs []Job
}

func (q *queued) enqueue(j Job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	return true
}

func deliver(h http.Handler, event, delivery string, body []byte, sig string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
	if event != "" {
		r.Header.Set("X-GitHub-Event", event)
	}
	if delivery != "" {
		r.Header.Set("X-GitHub-Delivery", delivery)
	}
	if sig != "" {
		r.Header.Set("X-Hub-Signature-256", sig)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestWebhookRejectsBadDeliveries(t *testing.T) {
	q := &queued{}
	h := &Webhook{Secret: secret, Enqueue: q.enqueue}
	body := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	tests := []struct {
		name           string
		event, id, sig string
		body           []byte
		want           int
	}{
		{"ping", "ping", "d1", sign(body), body, http.StatusAccepted},
		{"no signature", "ping", "d2", "", body, http.StatusUnauthorized},
		{"forged signature", "ping", "d3", sign([]byte("other")), body, http.StatusUnauthorized},
		{"sha1 only", "ping", "d4", "sha1=0123", body, http.StatusUnauthorized},
		{"missing event header", "", "d5", sign(body), body, http.StatusBadRequest},
		{"missing delivery header", "ping", "", sign(body), body, http.StatusBadRequest},
		{"duplicate delivery", "ping", "d1", sign(body), body, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := deliver(h, tt.event, tt.id, tt.body, tt.sig); w.Code != tt.want {
				t.Errorf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), tt.want)
			}
		})
	}
	big := bytes.Repeat([]byte("a"), MaxWebhookBody+1)
	if w := deliver(h, "push", "big", big, sign(big)); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", w.Code)
	}
	r := httptest.NewRequest(http.MethodGet, "/webhooks", nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", w.Code)
	}
	if len(q.jobs) != 0 {
		t.Errorf("jobs queued from rejected deliveries: %+v", q.jobs)
	}
}

// TestWebhookGitHubExamples posts every example delivery GitHub publishes
// for the events gantry handles, signed: each gets 2xx (queued or a
// deliberate ignore), never a panic or a 5xx.
func TestWebhookGitHubExamples(t *testing.T) {
	q := &queued{}
	h := &Webhook{Secret: secret, Enqueue: q.enqueue, Route: RouteConfig{BotLogin: "gantry[bot]"}}
	n := 0
	for _, event := range []string{"pull_request", "issue_comment", "push", "check_run", "check_suite", "installation", "installation_repositories", "ping", "star", "issues"} {
		for i, raw := range webhookExamples(t)[event] {
			body, err := json.Marshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			w := deliver(h, event, fmt.Sprintf("%s-%d", event, i), body, sign(body))
			if w.Code != http.StatusAccepted {
				t.Errorf("%s example %d: status %d: %s", event, i, w.Code, w.Body.String())
			}
			n++
		}
	}
	if n < 50 || len(q.jobs) == 0 {
		t.Fatalf("%d examples posted, %d queued: want the full example set and some jobs", n, len(q.jobs))
	}
}

// installationBody is a delivery the router always turns into a job.
var installationBody = []byte(`{"action":"created","installation":{"id":7},"sender":{"login":"octocat"}}`)

// counted records what Observe is told, as "event/outcome".
type counted struct {
	mu   sync.Mutex
	seen []string
}

func (c *counted) observe(event, outcome string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, event+"/"+outcome)
}

// TestWebhookMetricLabelsComeFromAFixedSet proves that what a sender
// writes in X-GitHub-Event never becomes a label by itself: before the
// signature is verified every delivery counts as "unverified", and after
// it only gantry's own event names appear, the rest as "other".
func TestWebhookMetricLabelsComeFromAFixedSet(t *testing.T) {
	q := &queued{}
	c := &counted{}
	m := NewMetrics(func() int { return 0 }, func() int { return 0 })
	h := &Webhook{Secret: secret, Enqueue: q.enqueue, Observe: func(event, outcome string) {
		c.observe(event, outcome)
		m.Deliveries.WithLabelValues(event, outcome).Inc() // panics on invalid UTF-8
	}}
	ping := []byte(`{"zen":"z","hook_id":1}`)
	deliver(h, "\xff\xfe not utf-8", "l1", ping, sign([]byte("forged")))
	deliver(h, "random-"+strings.Repeat("x", 200), "l2", ping, "")
	deliver(h, "ping", "l3", ping, sign(ping))
	deliver(h, "star", "l4", ping, sign(ping))
	deliver(h, "\xff\xfe", "l5", ping, sign(ping))
	deliver(h, "installation", "l6", installationBody, sign(installationBody))
	deliver(h, "installation", "l6", installationBody, sign(installationBody))
	want := []string{
		"unverified/rejected", "unverified/rejected",
		"ping/ignored", "other/ignored", "other/ignored",
		"installation/queued", "installation/duplicate",
	}
	if diff := cmp.Diff(want, c.seen); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "gantry_webhook_deliveries_total" {
			continue
		}
		for _, metric := range f.GetMetric() {
			for _, l := range metric.GetLabel() {
				if l.GetName() == "event" && !slices.Contains([]string{"unverified", "other", "ping", "installation"}, l.GetValue()) {
					t.Errorf("event label %q", l.GetValue())
				}
			}
		}
	}
}

// TestWebhookCountsQueuedOnlyWhenTheQueueTakesIt proves a job the queue
// refuses is counted as refused, not queued.
func TestWebhookCountsQueuedOnlyWhenTheQueueTakesIt(t *testing.T) {
	c := &counted{}
	h := &Webhook{Secret: secret, Enqueue: func(Job) bool { return false }, Observe: c.observe}
	w := deliver(h, "installation", "r1", installationBody, sign(installationBody))
	if w.Code != http.StatusAccepted || !strings.Contains(w.Body.String(), "not queued") {
		t.Errorf("status %d %q, want 202 saying it was not queued", w.Code, w.Body.String())
	}
	if diff := cmp.Diff([]string{"installation/refused"}, c.seen); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

// TestWebhookCutsOffASlowBody proves a client that sends its headers and
// then dribbles the body cannot hold a connection: the server gives up on
// the request (408) and closes the connection long before the body is
// complete, and nothing is queued.
func TestWebhookCutsOffASlowBody(t *testing.T) {
	q := &queued{}
	srv := newHTTPServer(&Webhook{Secret: secret, Enqueue: q.enqueue}, HTTPTimeouts{Read: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := append(bytes.Repeat([]byte(" "), 1000), installationBody...)
	fmt.Fprintf(conn, "POST /webhooks HTTP/1.1\r\nHost: gantry\r\nX-GitHub-Event: installation\r\nX-GitHub-Delivery: slow\r\n"+
		"X-Hub-Signature-256: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", sign(body), len(body))
	answer := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn) // until the server closes the connection
		answer <- b
	}()
	for i := range body {
		select {
		case got := <-answer:
			if !strings.HasPrefix(string(got), "HTTP/1.1 408") {
				t.Errorf("answer %q, want 408 Request Timeout", got)
			}
			if len(q.jobs) != 0 {
				t.Errorf("a cut-off delivery was queued: %+v", q.jobs)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := conn.Write(body[i : i+1]); err != nil {
			break // the server is gone; its answer is read above
		}
	}
	got := <-answer
	t.Fatalf("the server read the whole dribbled body (%d bytes) and answered %q", len(body), got)
}

// flakyRecorder is a DeliveryRecorder that answers as told.
type flakyRecorder struct {
	isNew bool
	err   error
}

func (f flakyRecorder) RecordDelivery(context.Context, string) (bool, error) { return f.isNew, f.err }

// TestWebhookAsksTheSharedRecord proves the shared record decides a
// delivery this replica has not seen, and that an unreachable record
// falls back to this replica's memory instead of dropping the delivery.
func TestWebhookAsksTheSharedRecord(t *testing.T) {
	tests := []struct {
		name       string
		rec        DeliveryRecorder
		wantQueued int
	}{
		{"seen by another replica", flakyRecorder{isNew: false}, 0},
		{"new everywhere", flakyRecorder{isNew: true}, 1},
		{"record unreachable", flakyRecorder{err: errors.New("connection refused")}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &queued{}
			h := &Webhook{Secret: secret, Enqueue: q.enqueue, Deliveries: tt.rec}
			deliver(h, "installation", "x1", installationBody, sign(installationBody))
			deliver(h, "installation", "x1", installationBody, sign(installationBody))
			if len(q.jobs) != tt.wantQueued {
				t.Errorf("%d jobs queued, want %d", len(q.jobs), tt.wantQueued)
			}
		})
	}
}

// TestWebhookDuplicateAcrossReplicasQueuedOnce posts the same delivery to
// two webhook handlers (two replicas, each with its own connection to one
// real cluster) at once: it is queued once.
func TestWebhookDuplicateAcrossReplicasQueuedOnce(t *testing.T) {
	q := &queued{}
	replicas := make([]*Webhook, 2)
	for i := range replicas {
		c, err := cluster.NewClient(kube.Config, cluster.DefaultClientOptions())
		if err != nil {
			t.Fatal(err)
		}
		replicas[i] = &Webhook{Secret: secret, Enqueue: q.enqueue, Deliveries: c}
	}
	var body []byte
	for round := range 3 {
		id := fmt.Sprintf("replicas-%d-%d", time.Now().UnixNano(), round)
		body = []byte(fmt.Sprintf(`{"action":"created","installation":{"id":%d},"sender":{"login":"octocat"}}`, time.Now().UnixNano()))
		codes := make([]int, len(replicas))
		var wg sync.WaitGroup
		for i, h := range replicas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = deliver(h, "installation", id, body, sign(body)).Code
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if diff := cmp.Diff([]int{http.StatusOK, http.StatusAccepted}, codes); diff != "" {
			t.Errorf("round %d: status codes (-want +got):\n%s", round, diff)
		}
		if len(q.jobs) != round+1 {
			t.Fatalf("round %d: %d jobs queued in all, want %d", round, len(q.jobs), round+1)
		}
	}
	// The delivery id is not signed: the last delivery replayed under a
	// new id, to either replica, is still a duplicate.
	for i, h := range replicas {
		if w := deliver(h, "installation", fmt.Sprintf("replayed-%d-%d", time.Now().UnixNano(), i), body, sign(body)); w.Code != http.StatusOK {
			t.Errorf("replay to replica %d: status %d, want 200 (duplicate)", i, w.Code)
		}
	}
	if len(q.jobs) != 3 {
		t.Errorf("%d jobs after the replays, want 3", len(q.jobs))
	}
}

// FuzzWebhook sends arbitrary headers and bodies through the handler,
// signed or not: it never panics, never queues a job unless the signature
// is valid, and every metric label stays in the fixed set.
func FuzzWebhook(f *testing.F) {
	f.Add("installation", "d1", string(installationBody), true, "")
	f.Add("pull_request", "d2", `{"action":"opened","pull_request":{"number":1,"head":{"sha":"abc","repo":{"id":1}},"base":{"ref":"main","repo":{"id":1}}},"repository":{"name":"r","owner":{"login":"o"}}}`, true, "")
	f.Add("issue_comment", "d3", `{"action":"created","issue":{"number":1,"pull_request":{}},"comment":{"id":1,"body":"/gantry plan","user":{"login":"u"}}}`, false, "sha256=00")
	f.Add("\xff", "\x00", "\xff\xfe", true, "")
	f.Add("ping", "d4", "{}", false, "sha1=abc")
	f.Add(strings.Repeat("e", 300), "d5", "null", true, "")
	events := []string{"unverified", "other", "ping", "pull_request", "issue_comment", "push", "check_run", "check_suite", "installation", "installation_repositories"}
	outcomes := []string{"rejected", "duplicate", "ignored", "queued", "refused"}
	// The real counter: a label that is not valid UTF-8 panics in it.
	m := NewMetrics(func() int { return 0 }, func() int { return 0 })
	f.Fuzz(func(t *testing.T, event, delivery, body string, signIt bool, sig string) {
		var jobs int
		h := &Webhook{Secret: secret, Route: RouteConfig{BotLogin: "gantry[bot]"}, Enqueue: func(Job) bool { jobs++; return true },
			Observe: func(event, outcome string) {
				if !slices.Contains(events, event) || !slices.Contains(outcomes, outcome) {
					t.Errorf("label pair %q/%q is outside the fixed set", event, outcome)
				}
				m.Deliveries.WithLabelValues(event, outcome).Inc()
			}}
		if signIt {
			sig = sign([]byte(body))
		}
		r := httptest.NewRequest(http.MethodPost, "/webhooks", strings.NewReader(body))
		// Header values reach the handler as the wire carries them.
		r.Header["X-Github-Event"] = []string{event}
		r.Header["X-Github-Delivery"] = []string{delivery}
		r.Header["X-Hub-Signature-256"] = []string{sig}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		valid := validSignature(sig, []byte(body))
		if jobs > 0 && !valid {
			t.Fatalf("queued a job from a delivery signed %q", sig)
		}
		if !valid && w.Code != http.StatusUnauthorized && w.Code != http.StatusBadRequest {
			t.Errorf("unsigned delivery answered %d", w.Code)
		}
	})
}

// validSignature is the fuzz test's own oracle: sig is "sha256=" and the
// hex of body's HMAC under the test secret.
func validSignature(sig string, body []byte) bool {
	hexSum, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSum)
	if !ok || err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}
