// Package notify tells people what gantry did not want to happen: drift
// found, an apply that failed, a revert pull request opened. Events go to
// Slack-compatible incoming webhooks or to generic HTTP webhooks signed with
// HMAC-SHA256, chosen per repository and app by the server configuration.
//
// Sending never blocks a pipeline: events wait in a bounded queue, are
// delivered by a few workers with bounded retries, and are dropped (and
// counted) when the queue is full.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gantryops/gantry/config"
	"github.com/gantryops/gantry/pause"
)

// Kind is what happened.
type Kind string

// The kinds of Event, as the configuration's events name them.
const (
	Drift        Kind = config.NotifyDrift
	ApplyFailed  Kind = config.NotifyApplyFailed
	RevertOpened Kind = config.NotifyRevertOpened
)

// Event is one thing to tell. Repository, App, Cluster and Message may
// come from a repository or a cluster: they are untrusted text, bounded and
// escaped before they are sent.
type Event struct {
	Kind       Kind
	Repository string // owner/name
	App        string
	Cluster    string
	Commit     string // the commit applied, or the drifted app's last applied one
	PR         int    // the pull request concerned (the revert or drift PR, or the merged one); 0 when none
	URL        string // where to look: the pull request, the check run or the page
	Message    string // one paragraph: what went wrong
	At         time.Time
}

// Stats are the deliveries' counters since New, for /metrics.
type Stats struct {
	// Sent is deliveries a target accepted (2xx).
	Sent uint64
	// Failed is deliveries given up on: a 4xx other than 429, or every
	// attempt failed.
	Failed uint64
	// Dropped is deliveries not queued because the queue was full or the
	// notifier closed.
	Dropped uint64
	// Retries is attempts after the first.
	Retries uint64
}

// Options tune delivery; DefaultOptions suits a server.
type Options struct {
	// QueueSize bounds the deliveries waiting; past it Send drops, so a
	// target that is down cannot hold memory or a pipeline.
	QueueSize int
	// Workers deliver in parallel, so one slow target delays the others
	// less.
	Workers int
	// Attempts per delivery, the first included.
	Attempts int
	// Backoff is the wait before the first retry; it doubles per retry up
	// to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxRetryAfter caps a target's Retry-After, so a hostile or confused
	// receiver cannot park a worker for hours.
	MaxRetryAfter time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// Client sends the requests; nil means one that follows no redirects
	// (a redirected POST would lose its body and signature).
	Client *http.Client
}

// DefaultOptions are the server's: 5 attempts over about half a minute.
func DefaultOptions() Options {
	return Options{QueueSize: 256, Workers: 2, Attempts: 5, Backoff: 2 * time.Second, MaxBackoff: 30 * time.Second,
		MaxRetryAfter: time.Minute, Timeout: 10 * time.Second}
}

// Notifier routes events to the configured targets and delivers them in
// the background. Its methods are safe for concurrent use.
type Notifier struct {
	targets []*target
	log     *slog.Logger
	opts    Options
	client  *http.Client
	// wait sleeps d or until ctx ends; tests replace it to see the waits
	// without taking them.
	wait func(ctx context.Context, d time.Duration) error

	mu     sync.RWMutex // guards closed against queue's close
	closed bool
	queue  chan delivery
	ctx    context.Context // ends when Close gives up waiting
	cancel context.CancelFunc
	done   sync.WaitGroup

	sent, failed, dropped, retries atomic.Uint64
}

// delivery is one event for one target.
type delivery struct {
	t  *target
	ev Event
	id string
}

// New reads the targets' URL and secret files and starts the workers.
// With no notifications configured it returns a Notifier that sends
// nothing, so callers need no nil checks.
func New(cfg []config.Notification, log *slog.Logger) (*Notifier, error) {
	return NewWithOptions(cfg, log, DefaultOptions())
}

// NewWithOptions is New with delivery tuned.
func NewWithOptions(cfg []config.Notification, log *slog.Logger, opts Options) (*Notifier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	def := DefaultOptions()
	if opts.QueueSize <= 0 {
		opts.QueueSize = def.QueueSize
	}
	if opts.Workers <= 0 {
		opts.Workers = def.Workers
	}
	if opts.Attempts <= 0 {
		opts.Attempts = def.Attempts
	}
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	n := &Notifier{log: log, opts: opts, client: client, wait: pause.For, queue: make(chan delivery, opts.QueueSize)}
	for i, c := range cfg {
		t, err := newTarget(i, c)
		if err != nil {
			return nil, err
		}
		n.targets = append(n.targets, t)
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		n.done.Add(1)
		go n.work()
	}
	return n, nil
}

// Send queues ev for every target whose match and events take it, and
// returns at once: when the queue is full the delivery is dropped, logged
// and counted, never waited for.
func (n *Notifier) Send(ev Event) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	for _, t := range n.targets {
		if !t.takes(ev) {
			continue
		}
		d := delivery{t: t, ev: ev, id: newDeliveryID()}
		if n.closed {
			n.drop(d, "the notifier is closed")
			continue
		}
		select {
		case n.queue <- d:
		default:
			n.drop(d, "the queue is full")
		}
	}
}

func (n *Notifier) drop(d delivery, why string) {
	n.dropped.Add(1)
	n.log.Warn("notification dropped: "+why, "target", d.t.name, "event", string(d.ev.Kind),
		"repository", d.ev.Repository, "app", d.ev.App)
}

// Close stops taking events and waits for the queued ones to be delivered,
// or until ctx ends: then deliveries in progress are abandoned and
// ctx's error returned.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	if !n.closed {
		n.closed = true
		close(n.queue)
	}
	n.mu.Unlock()
	drained := make(chan struct{})
	go func() { n.done.Wait(); close(drained) }()
	select {
	case <-drained:
		n.cancel()
		return nil
	case <-ctx.Done():
		n.cancel()
		<-drained
		return fmt.Errorf("close notifier: %w", ctx.Err())
	}
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	return Stats{Sent: n.sent.Load(), Failed: n.failed.Load(), Dropped: n.dropped.Load(), Retries: n.retries.Load()}
}

func (n *Notifier) work() {
	defer n.done.Done()
	for d := range n.queue {
		if n.ctx.Err() != nil {
			n.failed.Add(1)
			continue
		}
		if err := n.deliver(n.ctx, d); err != nil {
			n.failed.Add(1)
			n.log.Warn("notification not delivered", "target", d.t.name, "event", string(d.ev.Kind),
				"repository", d.ev.Repository, "app", d.ev.App, "delivery", d.id, "err", err)
			continue
		}
		n.sent.Add(1)
	}
}

// deliver sends d, retrying what may succeed later: network errors, 5xx
// and 429, after the target's Retry-After or an exponential backoff.
func (n *Notifier) deliver(ctx context.Context, d delivery) error {
	body, err := d.t.body(d.ev)
	if err != nil {
		return err
	}
	backoff := n.opts.Backoff
	var last error
	for attempt := 1; ; attempt++ {
		wait, err := n.attempt(ctx, d, body)
		if err == nil {
			return nil
		}
		last = fmt.Errorf("attempt %d of %d: %w", attempt, n.opts.Attempts, err)
		var permanent *permanentError
		if errors.As(err, &permanent) || attempt >= n.opts.Attempts {
			return last
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (abandoned: %w)", last, ctx.Err())
		}
		if wait < 0 {
			wait = backoff
			backoff = min(backoff*2, max(n.opts.MaxBackoff, n.opts.Backoff))
		}
		n.retries.Add(1)
		if err := n.wait(ctx, wait); err != nil {
			return fmt.Errorf("%w (then: %w)", last, err)
		}
	}
}

// permanentError is an answer that retrying will not change.
type permanentError struct{ status int }

func (e *permanentError) Error() string {
	return fmt.Sprintf("answered %d %s; not retried", e.status, http.StatusText(e.status))
}

// attempt makes one request. retryAfter is the wait the target asked for,
// or -1 when it named none.
func (n *Notifier) attempt(ctx context.Context, d delivery, body []byte) (retryAfter time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, n.opts.Timeout)
	defer cancel()
	req, err := d.t.request(ctx, d, body)
	if err != nil {
		return -1, err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		// A *url.Error repeats the URL, which for Slack is the credential.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return -1, fmt.Errorf("POST to %s: %w", d.t.name, err)
	}
	drainClose(resp)
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return -1, nil
	case s == http.StatusTooManyRequests || s >= 500:
		return n.retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("%s answered %d %s", d.t.name, s, http.StatusText(s))
	default:
		return -1, &permanentError{status: s}
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at MaxRetryAfter; -1 when absent or unreadable.
func (n *Notifier) retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return -1
	}
	var d time.Duration
	if secs, err := parseSeconds(h); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(h); err == nil {
		d = max(time.Until(at), 0)
	} else {
		return -1
	}
	if n.opts.MaxRetryAfter > 0 {
		d = min(d, n.opts.MaxRetryAfter)
	}
	return d
}

func parseSeconds(s string) (int64, error) {
	var v int64
	if s == "" || len(s) > 9 {
		return 0, errors.New("not a number of seconds")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number of seconds")
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}
