package config

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// DefaultSystemNamespace holds gantry's records in each cluster.
const DefaultSystemNamespace = "gantry-system"

// DefaultLeaseDuration is how long a leader's Lease holds without renewal:
// the longest a replica waits to take over from a leader that died.
const DefaultLeaseDuration = 15 * time.Second

// LeaderElection makes replicas of gantry elect one leader on a Lease in
// the state cluster: only the leader takes webhooks and runs pipelines;
// the others report not ready until they lead.
type LeaderElection struct {
	// Enabled turns election on; required with more than one replica.
	// Default: false (one replica, always the leader).
	Enabled bool `yaml:"enabled"`
	// LeaseDuration bounds the takeover after a leader dies. Default:
	// DefaultLeaseDuration; at least 2s.
	LeaseDuration Duration `yaml:"leaseDuration"`
}

func validateLeaderElection(d *decoder, s *Server) {
	if ns := s.State.Namespace; ns != "" && len(validation.IsDNS1123Label(ns)) > 0 {
		d.errAt("state.namespace", "%q is not a namespace name: %s", ns, strings.Join(validation.IsDNS1123Label(ns), "; "))
	}
	le := s.State.LeaderElection
	if le.Enabled && s.State.Cluster == "" && s.DefaultCluster == "" && len(s.Clusters) != 1 {
		d.errAt("state.leaderElection.enabled", "needs a state cluster (state.cluster or defaultCluster) to hold the Lease")
	}
	if d.has("state.leaderElection.leaseDuration") && le.LeaseDuration.D() < 2*time.Second {
		d.errAt("state.leaderElection.leaseDuration", "%s is too short: at least 2s", le.LeaseDuration.D())
	}
}

func (s *Server) defaultLeaderElection() {
	if s.State.Namespace == "" {
		s.State.Namespace = DefaultSystemNamespace
	}
	if s.State.LeaderElection.LeaseDuration == 0 {
		s.State.LeaderElection.LeaseDuration = Duration(DefaultLeaseDuration)
	}
}
