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

// Render isolation modes (render.isolation).
const (
	// RenderInProcess renders in the server's own process.
	RenderInProcess = "none"
	// RenderInWorker renders each app of a pull request in a
	// `gantry render-worker` process of its own: no network, an empty
	// environment, memory and CPU limits.
	RenderInWorker = "process"
	// RenderInSidecar renders each app of a pull request through a
	// `gantry render-worker --listen` sidecar's unix socket, which renders
	// it in a worker process as RenderInWorker does.
	RenderInSidecar = "sidecar"
)

// Default render worker limits.
const (
	DefaultWorkerMemoryMiB = 1024
	DefaultWorkerCPU       = 60 * time.Second
)

// RenderWorker bounds one render worker process.
type RenderWorker struct {
	// MemoryMiB caps the worker's data memory (RLIMIT_DATA: heap and
	// other writable mappings), in MiB. Not RLIMIT_AS: the Go runtime
	// reserves far more address space than it uses. Default:
	// DefaultWorkerMemoryMiB; at least 256 (the runtime's start needs
	// about 100).
	MemoryMiB int `yaml:"memoryMiB"`
	// CPU caps the worker's CPU time (RLIMIT_CPU), whole seconds.
	// Default: DefaultWorkerCPU.
	CPU Duration `yaml:"cpu"`
	// Socket is the sidecar's unix socket (isolation: sidecar); the
	// sidecar sets the limits itself.
	Socket string `yaml:"socket"`
}

// validateShards checks state.shards and render.isolation.
func validateShards(d *decoder, s *Server) {
	if s.State.Shards < 0 || s.State.Shards > 1024 {
		d.errAt("state.shards", "%d is out of range: 1 to 1024", s.State.Shards)
	}
	if s.State.Shards > 1 {
		if s.State.LeaderElection.Enabled {
			d.errAt("state.leaderElection.enabled", "shards replace leader election: with state.shards > 1 every replica works on the shards it holds; remove leaderElection.enabled")
		}
		if s.State.Cluster == "" && s.DefaultCluster == "" && len(s.Clusters) != 1 {
			d.errAt("state.shards", "needs a state cluster (state.cluster or defaultCluster) to hold the shards' Leases")
		}
	}
	switch s.Render.Isolation {
	case "", RenderInProcess, RenderInWorker:
	case RenderInSidecar:
		if s.Render.Worker.Socket == "" {
			d.errAt("render.isolation", "sidecar needs render.worker.socket, the sidecar's unix socket")
		}
	default:
		d.errAt("render.isolation", "%q is not one of %s, %s, %s", s.Render.Isolation, RenderInProcess, RenderInWorker, RenderInSidecar)
	}
	if w := s.Render.Worker; d.has("render.worker.memoryMiB") && w.MemoryMiB < 256 {
		d.errAt("render.worker.memoryMiB", "%d is too small: at least 256", w.MemoryMiB)
	}
	if w := s.Render.Worker; d.has("render.worker.cpu") && w.CPU.D() < time.Second {
		d.errAt("render.worker.cpu", "%s is too short: at least 1s", w.CPU.D())
	}
}
