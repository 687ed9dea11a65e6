package bot

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"
)

// MaxWebhookBody is the largest delivery accepted; GitHub caps payloads
// at 25 MB.
const MaxWebhookBody = 25 << 20

// Webhook is the POST /webhooks handler: it checks the signature before
// anything else, ignores duplicate deliveries, routes the event and
// answers 202 at once; the work happens in the queue.
type Webhook struct {
	// Secret is the webhook secret shared with GitHub.
	Secret []byte
	// Route configures routing.
	Route RouteConfig
	// Enqueue hands a job to the queue.
	Enqueue func(Job) bool
	// Log receives one line per delivery.
	Log *slog.Logger
	// Observe, when set, counts each delivery by event and outcome
	// (rejected, duplicate, ignored, queued).
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
	})
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhooks are POSTed", http.StatusMethodNotAllowed)
		return
	}
	event, delivery := r.Header.Get(github.EventTypeHeader), r.Header.Get(github.DeliveryIDHeader)
	if event == "" || delivery == "" {
		http.Error(w, "missing X-GitHub-Event or X-GitHub-Delivery header", http.StatusBadRequest)
		return
	}
	log := h.Log.With("delivery", delivery, "event", event)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			log.Warn("webhook rejected: body too large", "limit", MaxWebhookBody)
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	// ValidateSignature compares in constant time.
	if err := github.ValidateSignature(r.Header.Get(github.SHA256SignatureHeader), body, h.Secret); err != nil {
		log.Warn("webhook rejected: bad signature", "remote", r.RemoteAddr)
		h.Observe(event, "rejected")
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	if !h.seen.add(delivery) {
		log.Info("duplicate delivery ignored")
		h.Observe(event, "duplicate")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "duplicate delivery")
		return
	}
	parsed, err := github.ParseWebHook(event, body)
	if err != nil {
		log.Info("event ignored", "reason", err.Error())
		h.Observe(event, "ignored")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "ignored: event not handled")
		return
	}
	d := Route(parsed, h.Route)
	if d.Job == nil {
		log.Info("event ignored", "reason", d.Ignore)
		h.Observe(event, "ignored")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "ignored: %s\n", d.Ignore)
		return
	}
	d.Job.DeliveryID = delivery
	d.Job.Received = time.Now()
	h.Observe(event, "queued")
	if !h.Enqueue(*d.Job) {
		log.Info("job not queued (duplicate or shutting down)", "lane", d.Job.Lane(), "kind", d.Job.Kind)
	} else {
		log.Info("job queued", "lane", d.Job.Lane(), "kind", d.Job.Kind, "head", d.Job.HeadSHA)
	}
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "queued %s for %s\n", d.Job.Kind, d.Job.Lane())
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
