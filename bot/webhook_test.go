package bot

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
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
