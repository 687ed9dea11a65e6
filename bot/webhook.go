package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
)

// MaxWebhookBody is the largest delivery accepted; GitHub caps payloads
// at 25 MB.
const MaxWebhookBody = 25 << 20

// The event label of a delivery whose signature was not verified: nothing
// an unauthenticated sender writes reaches a metric.
const eventUnverified = "unverified"

// The event label of a verified delivery of an event gantry does not name.
const eventOther = "other"

// metricEvents are the event names that become metric labels as they are;
// every other verified event is counted as "other".
var metricEvents = map[string]bool{
	"ping": true, "pull_request": true, "issue_comment": true, "push": true,
	"check_run": true, "check_suite": true, "installation": true, "installation_repositories": true,
}

// The outcomes a delivery is counted under.
const (
	outcomeRejected  = "rejected"  // bad method, headers, size, body or signature
	outcomeDuplicate = "duplicate" // a delivery id seen before, by any replica
	outcomeIgnored   = "ignored"   // verified, but nothing to do
	outcomeQueued    = "queued"    // the queue accepted the job
	outcomeRefused   = "refused"   // the queue refused the job (same job waiting, or shutting down)
	outcomeForwarded = "forwarded" // handed to the replica holding its repository's shard
)

// eventLabel is the metric label of a verified delivery's event header.
func eventLabel(event string) string {
	if metricEvents[event] {
		return event
	}
	return eventOther
}

// DeliveryRecorder remembers webhook delivery ids where every replica sees
// them; *cluster.Client is one.
type DeliveryRecorder interface {
	// RecordDelivery records id and reports whether it was new.
	RecordDelivery(ctx context.Context, id string) (bool, error)
}

// Webhook is the POST /webhooks handler: it checks the signature before
// anything else, ignores duplicate deliveries, routes the event and
// answers 202 at once; the work happens in the queue. The body's read
// deadline is the http.Server's ReadTimeout (see HTTPTimeouts).
type Webhook struct {
	// Secret is the webhook secret shared with GitHub.
	Secret []byte
	// Route configures routing.
	Route RouteConfig
	// Enqueue hands a job to the queue and reports whether it took it.
	Enqueue func(Job) bool
	// Forward, when set, may hand a verified delivery to the replica
	// that works on its repository, answering w itself; it reports
	// whether it did. Nil: every delivery is handled here.
	Forward func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// Deliveries records delivery ids across replicas. Nil: this
	// process's memory only, which catches GitHub's retries to one replica
	// but not to two.
	Deliveries DeliveryRecorder
	// RecordTimeout bounds recording a delivery in Deliveries; past it the
	// delivery is judged by this process's memory. Default: 5s.
	RecordTimeout time.Duration
	// Log receives one line per delivery.
	Log *slog.Logger
	// Observe, when set, counts each delivery by event and outcome. The
	// event is one of a fixed set of names, "other", or "unverified" for a
	// delivery rejected before its signature was verified; the outcome is
	// rejected, duplicate, ignored, queued or refused.
	Observe func(event, outcome string)

	once sync.Once
	seen *recentSet
}

func (h *Webhook) init() {
	h.once.Do(func() {
		h.seen = newRecentSet(10000, time.Hour)
		if h.Log == nil {
			h.Log = slog.New(slog.DiscardHandler)
		}
		if h.Observe == nil {
			h.Observe = func(string, string) {}
		}
		if h.RecordTimeout <= 0 {
			h.RecordTimeout = 5 * time.Second
		}
	})
}

// headerExcerpt is at most the first 64 bytes of an unauthenticated
// header for a log line, quoted when it holds anything but printable
// ASCII.
func headerExcerpt(v string) string {
	const max = 64
	cut := ""
	if len(v) > max {
		v, cut = v[:max], "…"
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			// Not a plain token: shown quoted, so it cannot pass for
			// another field or line.
			return strconv.QuoteToASCII(v) + cut
		}
	}
	return v + cut
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	reject := func(code int, msg string) {
		h.Observe(eventUnverified, outcomeRejected)
		http.Error(w, msg, code)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(http.StatusMethodNotAllowed, "webhooks are POSTed")
		return
	}
	event, delivery := r.Header.Get(github.EventTypeHeader), r.Header.Get(github.DeliveryIDHeader)
	if event == "" || delivery == "" {
		reject(http.StatusBadRequest, "missing X-GitHub-Event or X-GitHub-Delivery header")
		return
	}
	// Until the signature is verified, the headers are anyone's words:
	// logged only as short quoted excerpts.
	unverified := h.Log.With("delivery", headerExcerpt(delivery), "event", headerExcerpt(event), "remote", r.RemoteAddr)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooBig):
			unverified.Warn("webhook rejected: body too large", "limit", MaxWebhookBody)
			reject(http.StatusRequestEntityTooLarge, "payload too large")
		case errors.As(err, &netErr) && netErr.Timeout():
			unverified.Warn("webhook rejected: body not received in time")
			reject(http.StatusRequestTimeout, "body not received in time")
		default:
			reject(http.StatusBadRequest, "read body")
		}
		return
	}
	// ValidateSignature compares in constant time.
	if err := github.ValidateSignature(r.Header.Get(github.SHA256SignatureHeader), body, h.Secret); err != nil {
		unverified.Warn("webhook rejected: bad signature")
		reject(http.StatusUnauthorized, "invalid signature")
		return
	}
	// Verified, and not yet recorded: the replica it is forwarded to
	// recognises duplicates itself.
	if h.Forward != nil && h.Forward(w, r, body) {
		h.Observe(eventLabel(event), outcomeForwarded)
		return
	}
	label := eventLabel(event)
	log := h.Log.With("delivery", headerExcerpt(delivery), "event", headerExcerpt(event))
	// A delivery is known by what was signed, not by its id: the
	// X-GitHub-Delivery header is not signed, so a captured delivery
	// replayed under a new id is still a duplicate.
	if !h.firstSeen(r.Context(), log, signedDigest(event, body)) {
		log.Info("duplicate delivery ignored")
		h.Observe(label, outcomeDuplicate)
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "duplicate delivery")
		return
	}
	parsed, err := github.ParseWebHook(event, body)
	if err != nil {
		log.Info("event ignored", "reason", err.Error())
		h.Observe(label, outcomeIgnored)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "ignored: event not handled")
		return
	}
	d := Route(parsed, h.Route)
	if d.Job == nil {
		log.Info("event ignored", "reason", d.Ignore)
		h.Observe(label, outcomeIgnored)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "ignored: %s\n", d.Ignore)
		return
	}
	d.Job.DeliveryID = delivery
	d.Job.Received = time.Now()
	if !h.Enqueue(*d.Job) {
		log.Info("job not queued (the same job is waiting, its head was replaced, or shutting down)", jobAttrs(withoutDelivery(*d.Job))...)
		h.Observe(label, outcomeRefused)
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "not queued: %s for %s is already waiting or stale, or gantry is shutting down\n", d.Job.Kind, d.Job.Lane())
		return
	}
	log.Info("job queued", jobAttrs(withoutDelivery(*d.Job))...)
	h.Observe(label, outcomeQueued)
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "queued %s for %s\n", d.Job.Kind, d.Job.Lane())
}

// signedDigest names a verified delivery by its event and signed body.
func signedDigest(event string, body []byte) string {
	sum := sha256.Sum256(append([]byte(event+"\n"), body...))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// firstSeen records a verified delivery and reports whether no replica
// saw it before. This process's memory answers first; then the shared
// record. When the shared record cannot be reached, memory alone decides:
// a duplicate plan costs less than a lost one.
func (h *Webhook) firstSeen(ctx context.Context, log *slog.Logger, delivery string) bool {
	if !h.seen.add(delivery) {
		return false
	}
	if h.Deliveries == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, h.RecordTimeout)
	defer cancel()
	isNew, err := h.Deliveries.RecordDelivery(ctx, delivery)
	if err != nil {
		log.Warn("delivery not recorded for the other replicas; judged by this one's memory", "err", err)
		return true
	}
	return isNew
}

// recentSet remembers recently seen delivery ids, bounded in size and age.
type recentSet struct {
	mu    sync.Mutex
	max   int
	ttl   time.Duration
	at    map[string]time.Time
	order []string
}

func newRecentSet(max int, ttl time.Duration) *recentSet {
	return &recentSet{max: max, ttl: ttl, at: map[string]time.Time{}}
}

// add records id and reports whether it was new.
func (s *recentSet) add(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for len(s.order) > 0 && (len(s.order) >= s.max || now.Sub(s.at[s.order[0]]) > s.ttl) {
		delete(s.at, s.order[0])
		s.order = s.order[1:]
	}
	if _, ok := s.at[id]; ok {
		return false
	}
	s.at[id] = now
	s.order = append(s.order, id)
	return true
}
