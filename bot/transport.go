package bot

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gantryops/gantry/pause"
)

// Transport makes gantry a good GitHub API citizen: it retries server
// errors with backoff, waits out secondary rate limits as GitHub's
// Retry-After says, waits for a primary limit's reset when it is near,
// and answers repeated GETs from an ETag cache through conditional
// requests (a 304 costs no rate limit).
type Transport struct {
	// Base does the requests. Default: http.DefaultTransport.
	Base http.RoundTripper
	// Retries is how many times a request is retried. Default: 4.
	Retries int
	// MaxWait caps one wait (Retry-After, a reset, a backoff); a longer
	// one fails the request with the reason instead. Default: 60s.
	MaxWait time.Duration
	// Log receives one line per retry.
	Log *slog.Logger
	// sleep waits d or until ctx ends; tests shorten it.
	sleep func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	etags     map[string]cached
	remaining int // last X-RateLimit-Remaining seen, -1 when unknown
}

type cached struct {
	etag   string
	header http.Header
	body   []byte
}

// maxCached bounds the ETag cache.
const maxCached = 2000

// RateLimitError is returned when GitHub's primary rate limit is spent
// and resets later than Transport.MaxWait.
type RateLimitError struct{ Reset time.Time }

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("GitHub API rate limit exhausted until %s", e.Reset.UTC().Format(time.RFC3339))
}

// Remaining is the last rate-limit budget GitHub reported, or -1.
func (t *Transport) Remaining() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.etags == nil {
		return -1
	}
	return t.remaining
}

func (t *Transport) init() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.etags == nil {
		t.etags = map[string]cached{}
		t.remaining = -1
	}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	retries, maxWait, sleep := t.Retries, t.MaxWait, t.sleep
	if retries == 0 {
		retries = 4
	}
	if maxWait == 0 {
		maxWait = 60 * time.Second
	}
	if sleep == nil {
		sleep = pause.For
	}
	log := t.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	key := ""
	if req.Method == http.MethodGet && req.Header.Get("If-None-Match") == "" {
		key = req.Header.Get("Accept") + " " + req.URL.String()
		t.mu.Lock()
		c, ok := t.etags[key]
		t.mu.Unlock()
		if ok {
			req = req.Clone(req.Context())
			req.Header.Set("If-None-Match", c.etag)
		}
	}

	for attempt := 0; ; attempt++ {
		r := req
		if attempt > 0 && req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("%s %s: replay body: %w", req.Method, req.URL.Path, err)
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := base.RoundTrip(r)
		if err != nil {
			if attempt < retries && req.Context().Err() == nil && (req.Body == nil || req.GetBody != nil) {
				wait := backoff(attempt)
				log.Warn("GitHub request failed, retrying", "method", req.Method, "path", req.URL.Path, "err", err, "wait", wait)
				if sleep(req.Context(), wait) == nil {
					continue
				}
			}
			return nil, err
		}
		t.track(resp)
		if resp.StatusCode == http.StatusNotModified && key != "" {
			t.mu.Lock()
			c, ok := t.etags[key]
			t.mu.Unlock()
			if ok {
				resp.Body.Close()
				return cachedResponse(req, resp, c), nil
			}
		}
		wait, why := t.retryAfter(req, resp, attempt)
		if why == "" || attempt >= retries {
			if key != "" && resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != "" {
				return t.remember(key, resp)
			}
			return resp, nil
		}
		if wait > maxWait {
			if strings.Contains(why, "primary") {
				resp.Body.Close()
				return nil, &RateLimitError{Reset: time.Now().Add(wait)}
			}
			return resp, nil // let the caller see GitHub's answer
		}
		log.Warn("GitHub asked to retry", "method", req.Method, "path", req.URL.Path, "status", resp.StatusCode, "reason", why, "wait", wait)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if req.Body != nil && req.GetBody == nil {
			return nil, fmt.Errorf("%s %s: %s, and the body cannot be sent again", req.Method, req.URL.Path, why)
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// retryAfter decides whether a response asks for a retry, how long to
// wait and why; why is "" when it does not.
func (t *Transport) retryAfter(req *http.Request, resp *http.Response, attempt int) (time.Duration, string) {
	code := resp.StatusCode
	if code == http.StatusForbidden || code == http.StatusTooManyRequests {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			if s, err := strconv.Atoi(ra); err == nil {
				return time.Duration(s) * time.Second, "secondary rate limit"
			}
		}
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
			wait := time.Until(time.Unix(reset, 0)) + time.Second
			return max(wait, time.Second), "primary rate limit"
		}
		if code == http.StatusForbidden && bodyMentions(resp, "secondary rate limit") {
			return time.Minute >> (4 - min(attempt, 4)), "secondary rate limit"
		}
		return 0, ""
	}
	if code >= 500 && code != http.StatusNotImplemented {
		// A POST answered 500 may have taken effect: only gateway errors
		// are safe to repeat for it.
		if req.Method == http.MethodPost && code == http.StatusInternalServerError {
			return 0, ""
		}
		return backoff(attempt), fmt.Sprintf("server error %d", code)
	}
	return 0, ""
}

// bodyMentions peeks into a small error body and restores it.
func bodyMentions(resp *http.Response, s string) bool {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return strings.Contains(strings.ToLower(string(b)), s)
}

// backoff is exponential with jitter: ~0.5 s, 1 s, 2 s, 4 s, …
func backoff(attempt int) time.Duration {
	d := 500 * time.Millisecond << min(attempt, 6)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)))
}

func (t *Transport) track(resp *http.Response) {
	if v := resp.Header.Get("X-RateLimit-Remaining"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			t.mu.Lock()
			t.remaining = n
			t.mu.Unlock()
		}
	}
}

func (t *Transport) remember(key string, resp *http.Response) (*http.Response, error) {
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if len(t.etags) >= maxCached {
		clear(t.etags)
	}
	t.etags[key] = cached{etag: resp.Header.Get("ETag"), header: resp.Header.Clone(), body: body}
	t.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func cachedResponse(req *http.Request, notModified *http.Response, c cached) *http.Response {
	h := c.header.Clone()
	for _, k := range []string{"X-Ratelimit-Remaining", "X-Ratelimit-Reset", "X-Ratelimit-Limit", "X-Ratelimit-Used"} {
		if v := notModified.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: notModified.Proto,
		ProtoMajor: notModified.ProtoMajor, ProtoMinor: notModified.ProtoMinor,
		Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: req,
	}
}
