package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/config"
)

// HTTPTimeouts bound how long one connection may hold a server goroutine,
// so that a client sending its headers or its body slowly, or never
// reading the answer, is cut off.
type HTTPTimeouts struct {
	// ReadHeader bounds reading a request's headers.
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included. GitHub gives up
	// on a delivery after 10 seconds; the default leaves room for a 25 MB
	// body at about 7 Mbit/s.
	Read time.Duration
	// Write bounds writing the answer, from the end of the request's
	// headers; the slowest answer is a page listing the clusters' locks.
	Write time.Duration
	// Idle bounds how long a kept-alive connection waits for its next
	// request.
	Idle time.Duration
}

// DefaultHTTPTimeouts returns the timeouts `gantry serve` uses.
func DefaultHTTPTimeouts() HTTPTimeouts {
	return HTTPTimeouts{ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 90 * time.Second}
}

func (t HTTPTimeouts) withDefaults() HTTPTimeouts {
	d := DefaultHTTPTimeouts()
	for _, f := range []struct{ v, def *time.Duration }{{&t.ReadHeader, &d.ReadHeader}, {&t.Read, &d.Read}, {&t.Write, &d.Write}, {&t.Idle, &d.Idle}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// newHTTPServer serves h with every timeout of t set.
func newHTTPServer(h http.Handler, t HTTPTimeouts) *http.Server {
	t = t.withDefaults()
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle}
}

// Listeners are the sockets Run serves on. A nil one is opened from the
// configuration: Webhook on listen, Web on web.listen.
type Listeners struct {
	// Webhook serves /webhooks, /healthz, /readyz, and /metrics when
	// metrics.listener is webhook.
	Webhook net.Listener
	// Web serves the pages, and /metrics when metrics.listener is web.
	// Ignored (and closed) when the pages are disabled.
	Web net.Listener
}

// Handler serves the webhook listener: POST /webhooks, /healthz, /readyz
// and, when so configured, /metrics. Nothing else: the pages are on a
// listener of their own (WebHandler).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/webhooks", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A follower takes no work: the leader's resync picks up a
		// delivery refused here during a switch.
		if !s.ready.Load() {
			http.Error(w, "not the leader: this replica takes no webhooks", http.StatusServiceUnavailable)
			return
		}
		s.hook.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	if s.metricsOn() == config.MetricsOnWebhook {
		mux.Handle("GET /metrics", requireToken(s.metricsToken, s.metricsHandler()))
	}
	return mux
}

// WebHandler serves the pages' listener: the pages of recent runs and
// locks and, when so configured, /metrics. With a web token every request
// must present it, so nothing (not even which run ids exist) is learnt
// without it; /metrics takes the metrics token when one is set.
func (s *Server) WebHandler() http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("GET /{$}", s.index)
	pages.HandleFunc("GET /runs/{id}", s.runPage)
	guarded := requireToken(s.webToken, pageHeaders(pages))
	if s.metricsOn() != config.MetricsOnWeb {
		return guarded
	}
	token := s.metricsToken
	if len(token) == 0 {
		token = s.webToken
	}
	metrics := requireToken(token, s.metricsHandler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			metrics.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})
}

// metricsOn is the listener /metrics is served on.
func (s *Server) metricsOn() string {
	if s.cfg.Metrics.Listener == "" {
		return config.DefaultMetricsListener
	}
	return s.cfg.Metrics.Listener
}

// Run serves the webhook listener and, unless disabled, the pages'
// listener until ctx ends; then it stops taking webhooks, lets running
// jobs finish for up to grace, and logs the jobs it leaves to the next
// resync. It refuses to serve the pages without a token on a listener
// that other machines can reach.
func (s *Server) Run(ctx context.Context, ls Listeners, grace time.Duration) (err error) {
	var opened []net.Listener
	defer func() {
		if err != nil {
			for _, ln := range opened {
				_ = ln.Close()
			}
		}
	}()
	hookLn := ls.Webhook
	if hookLn == nil {
		if hookLn, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("listen: listen on %s: %w", s.cfg.Listen, err)
		}
	}
	opened = append(opened, hookLn)
	webLn := ls.Web
	if s.cfg.Web.Disabled {
		if webLn != nil {
			_ = webLn.Close()
		}
		webLn = nil
	} else {
		if webLn == nil {
			addr := s.cfg.Web.Listen
			if addr == "" {
				addr = config.DefaultWebListen
			}
			if webLn, err = net.Listen("tcp", addr); err != nil {
				return fmt.Errorf("web.listen: listen on %s: %w", addr, err)
			}
		}
		opened = append(opened, webLn)
		if len(s.webToken) == 0 && !localOnly(webLn.Addr()) {
			return fmt.Errorf("web.tokenFile: missing: the pages' listener %s is reachable from other machines, and the pages show full diffs; give a token file, listen on loopback or set web.disabled: true", webLn.Addr())
		}
	}

	servers := []*http.Server{newHTTPServer(s.Handler(), s.timeouts)}
	lns := []net.Listener{hookLn}
	if webLn != nil {
		servers = append(servers, newHTTPServer(s.WebHandler(), s.timeouts))
		lns = append(lns, webLn)
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() { errc <- srv.Serve(lns[i]) }()
	}
	if s.advertise == "" {
		s.advertise = advertiseURL(hookLn.Addr())
	}
	lost, err := s.startWork(ctx)
	if err != nil {
		for _, srv := range servers {
			_ = srv.Close()
		}
		return err
	}
	web := "disabled"
	if webLn != nil {
		web = webLn.Addr().String()
	}
	s.log.Info("gantry serving", "addr", hookLn.Addr().String(), "web", web, "metrics", s.metricsOn(), "github", s.cfg.GitHub.URL, "bot", s.route.BotLogin)
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-lost:
		if ctx.Err() == nil {
			serveErr = errLostLeadership
		}
	case <-ctx.Done():
	}
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	for _, j := range s.queue.Shutdown(sctx) {
		s.log.Warn("job left for the next resync", jobAttrs(j)...)
	}
	if s.pipe.Notify != nil {
		if err := s.pipe.Notify.Close(sctx); err != nil {
			s.log.Warn("notifications left unsent at shutdown", "err", err)
		}
	}
	return serveErr
}

// localOnly reports whether a listener's address accepts connections from
// this machine only.
func localOnly(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return config.LoopbackOnly(a.String())
}

// readToken reads a bearer token file named by field; no file, no token.
func readToken(field, file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: read token: %w", field, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return nil, fmt.Errorf("%s: token file %s is empty", field, file)
	}
	return []byte(tok), nil
}

// deliveryRecorder is where the webhook records delivery ids: the state
// cluster's system namespace, or nil (this process's memory) when the
// configuration names no state cluster.
func (s *Server) deliveryRecorder() DeliveryRecorder {
	if s.cfg.State.Cluster == "" {
		s.log.Warn("no state cluster (state.cluster or defaultCluster): duplicate deliveries are caught per replica only")
		return nil
	}
	return &clusterDeliveries{clusters: s.pipe.Clusters, name: s.cfg.State.Cluster}
}

// clusterDeliveries records deliveries in a configured cluster, reached
// on first use so that a cluster that is down at start-up delays nothing.
type clusterDeliveries struct {
	clusters *Clusters
	name     string
}

func (d *clusterDeliveries) RecordDelivery(ctx context.Context, id string) (bool, error) {
	c, err := d.clusters.Get(d.name)
	if err != nil {
		return false, fmt.Errorf("state cluster: %w", err)
	}
	return c.RecordDelivery(ctx, id)
}

// sweepDeliveries deletes old delivery records now and every hour, until
// ctx ends.
func (s *Server) sweepDeliveries(ctx context.Context) {
	if s.cfg.State.Cluster == "" {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		c, err := s.pipe.Clusters.Get(s.cfg.State.Cluster)
		if err == nil {
			var n int
			n, err = c.SweepDeliveries(ctx, cluster.DefaultDeliveryOptions())
			if n > 0 {
				s.log.Info("old delivery records deleted", "cluster", s.cfg.State.Cluster, "count", n)
			}
		}
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("sweep delivery records", "cluster", s.cfg.State.Cluster, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
