package config

import (
	"net"
	"net/netip"
	"strings"
)

// LoopbackOnly reports whether a listen address ("host:port") accepts
// connections from this machine only: "localhost" or a loopback IP. An
// empty host (":8081"), an unspecified IP or any other name listens
// further, and so does an address that does not parse.
func LoopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateEndpoints checks the pages', the metrics' and the state's
// settings. The pages show full diffs, so a listener that is reachable
// from elsewhere without a token is refused here, before anything serves.
func validateEndpoints(d *decoder, s *Server) {
	web := s.Web.Listen
	if web == "" {
		web = DefaultWebListen
	}
	if !s.Web.Disabled {
		_, webPort, err := net.SplitHostPort(web)
		switch {
		case err != nil:
			d.errAt("web.listen", "%q is not a host:port address such as %q", web, DefaultWebListen)
		case s.Web.TokenFile == "" && !LoopbackOnly(web):
			d.errAt("web.tokenFile", "missing: web.listen %q is reachable from other machines, and the pages show full diffs; give a token file, listen on loopback (e.g. %q) or set web.disabled: true", web, DefaultWebListen)
		case samePort(web, webPort, s.Listen):
			d.errAt("web.listen", "%q is the webhook listener's address (listen %q); the pages need a listener of their own", web, s.Listen)
		}
	}
	if s.Web.TokenFile != "" {
		readable(d, "web.tokenFile", s.Web.TokenFile, false)
	}
	oneOf(d, "metrics.listener", s.Metrics.Listener, MetricsListeners)
	if s.Metrics.Listener == MetricsOnWeb && s.Web.Disabled {
		d.errAt("metrics.listener", "%q: the pages' listener is disabled (web.disabled: true)", s.Metrics.Listener)
	}
	if s.Metrics.TokenFile != "" {
		readable(d, "metrics.tokenFile", s.Metrics.TokenFile, false)
	}
	if s.State.Cluster != "" && s.cluster(s.State.Cluster) == nil {
		d.errAt("state.cluster", "%q is not one of the clusters (%s)%s", s.State.Cluster,
			quoteList(s.clusterNames()), didYouMean(s.State.Cluster, s.clusterNames()))
	}
}

// samePort reports whether the pages' address web (with port webPort)
// would collide with the webhook listener's address listen.
func samePort(web, webPort, listen string) bool {
	if listen == "" {
		listen = DefaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port != webPort || port == "0" {
		return false
	}
	webHost, _, _ := net.SplitHostPort(web)
	return host == "" || webHost == "" || host == webHost
}

// defaultEndpoints fills in the pages', the metrics' and the state's
// defaults; it runs after DefaultCluster has its default.
func (s *Server) defaultEndpoints() {
	if s.Web.Listen == "" && !s.Web.Disabled {
		s.Web.Listen = DefaultWebListen
	}
	if s.Metrics.Listener == "" {
		s.Metrics.Listener = DefaultMetricsListener
	}
	if s.State.Cluster == "" {
		s.State.Cluster = s.DefaultCluster
	}
}
