package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gantryops/gantry/config"
)

// Headers of a generic webhook delivery.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
	// body under the configured secret, as GitHub signs its webhooks.
	SignatureHeader = "X-Gantry-Signature-256"
	// EventHeader names the event kind.
	EventHeader = "X-Gantry-Event"
	// DeliveryHeader is the same on every attempt of one delivery, so a
	// receiver can drop a retry it already took.
	DeliveryHeader = "X-Gantry-Delivery"
)

// target is one configured notification.
type target struct {
	name   string // for logs: never the URL of a Slack webhook
	slack  bool
	url    string
	secret []byte
	match  config.NotificationMatch
	events []string
}

func newTarget(i int, c config.Notification) (*target, error) {
	t := &target{match: c.Match, events: c.Events}
	switch {
	case c.Slack != nil:
		u, err := config.ReadNotifyFile(c.Slack.URLFile)
		if err != nil {
			return nil, fmt.Errorf("notifications[%d].slack.urlFile: %w", i, err)
		}
		t.name, t.slack, t.url = fmt.Sprintf("notifications[%d] (slack)", i), true, u
	case c.Webhook != nil:
		s, err := config.ReadNotifyFile(c.Webhook.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("notifications[%d].webhook.secretFile: %w", i, err)
		}
		host := ""
		if u, err := url.Parse(c.Webhook.URL); err == nil {
			host = u.Host
		}
		t.name, t.url, t.secret = fmt.Sprintf("notifications[%d] (webhook %s)", i, host), c.Webhook.URL, []byte(s)
	default:
		return nil, fmt.Errorf("notifications[%d]: no slack or webhook target", i)
	}
	if _, err := url.Parse(t.url); err != nil {
		// Not %w: url.Error would repeat the URL.
		return nil, fmt.Errorf("%s: the URL does not parse", t.name)
	}
	return t, nil
}

// takes reports whether ev is for this target.
func (t *target) takes(ev Event) bool {
	if len(t.events) > 0 && !slices.Contains(t.events, string(ev.Kind)) {
		return false
	}
	return t.match.Takes(ev.Repository, ev.App)
}

// WebhookPayload is the JSON body of a generic webhook delivery.
type WebhookPayload struct {
	Event      string    `json:"event"`
	Repository string    `json:"repository"`
	App        string    `json:"app"`
	Cluster    string    `json:"cluster"`
	Commit     string    `json:"commit,omitempty"`
	PR         int       `json:"pr,omitempty"`
	URL        string    `json:"url,omitempty"`
	Message    string    `json:"message"`
	At         time.Time `json:"at"`
}

// SlackPayload is the JSON body of an incoming-webhook delivery.
type SlackPayload struct {
	Text string `json:"text"`
}

func (t *target) body(ev Event) ([]byte, error) {
	if t.slack {
		return json.Marshal(SlackPayload{Text: SlackText(ev)})
	}
	return json.Marshal(WebhookPayload{
		Event: string(ev.Kind), Repository: plain(ev.Repository, maxName), App: plain(ev.App, maxName),
		Cluster: plain(ev.Cluster, maxName), Commit: plain(ev.Commit, maxName), PR: ev.PR, URL: link(ev.URL),
		Message: plain(ev.Message, maxMessage), At: ev.At.UTC(),
	})
}

func (t *target) request(ctx context.Context, d delivery, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request to %s: the URL is not usable", t.name)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gantry")
	if !t.slack {
		req.Header.Set(EventHeader, string(d.ev.Kind))
		req.Header.Set(DeliveryHeader, d.id)
		req.Header.Set(SignatureHeader, Sign(t.secret, body))
	}
	return req, nil
}

// Sign is the SignatureHeader value of body under secret, for receivers
// to compare (with hmac.Equal) against the header they got.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// drainClose reads a little of an answer, so the connection can be
// reused, and closes it.
func drainClose(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}
