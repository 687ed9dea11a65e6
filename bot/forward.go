package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-github/v60/github"
)

// forwardedHeader marks a delivery one replica forwarded to another: it
// is never forwarded again, so two replicas with different views of a
// shard cannot pass a delivery back and forth. It grants nothing: the
// receiver verifies the signature as for any delivery.
const forwardedHeader = "X-Gantry-Forwarded-By"

// forwardTimeout bounds one forward; GitHub gives up on a delivery after
// 10 seconds.
const forwardTimeout = 8 * time.Second

// forwardHeaders are the request headers a forwarded delivery keeps.
var forwardHeaders = []string{"Content-Type", github.EventTypeHeader, github.DeliveryIDHeader, github.SHA256SignatureHeader, "X-GitHub-Hook-ID", "User-Agent"}

// forwarder posts deliveries to other replicas; it follows no redirect,
// so a delivery goes only where a shard's Lease says.
var forwarder = &http.Client{Timeout: forwardTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// forward hands a verified delivery to the replica holding its
// repository's shard and answers with that replica's answer. It declines
// (the delivery is handled here) without sharding, for a delivery
// already forwarded, one without a repository, one whose shard is held
// here or by no live replica, and when the holder cannot be reached: the
// job then runs here if this replica holds the shard by then, and the
// holder's resync covers it otherwise.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, body []byte) bool {
	m := s.shards.Load()
	if m == nil || r.Header.Get(forwardedHeader) != "" {
		return false
	}
	var p struct {
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if json.Unmarshal(body, &p) != nil || p.Repository.FullName == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	h, ok := m.holderOf(ctx, p.Repository.FullName)
	if !ok {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.address+"/webhooks", bytes.NewReader(body))
	if err != nil {
		return false
	}
	for _, k := range forwardHeaders {
		if v := r.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set(forwardedHeader, m.id)
	log := s.log.With("delivery", headerExcerpt(r.Header.Get(github.DeliveryIDHeader)), "repository", p.Repository.FullName, "holder", h.id)
	resp, err := forwarder.Do(req)
	if err != nil {
		log.Warn("delivery not forwarded to its shard's holder: handled here", "err", err)
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 500 {
		// Stopping, or broken: handled here rather than lost.
		log.Warn("delivery refused by its shard's holder: handled here", "status", resp.StatusCode)
		return false
	}
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	log.Info("delivery forwarded to its shard's holder", "status", resp.StatusCode)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
	return true
}

// advertiseURL is the base URL other replicas reach this one at: the
// webhook listener's address, with the host name for an unspecified host.
func advertiseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host, _ = os.Hostname()
	}
	return "http://" + net.JoinHostPort(host, port)
}
