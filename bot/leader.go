package bot

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/tools/leaderelection"
)

// errLostLeadership ends Run when another replica took the lead: the
// process stops, so that its restart joins as a follower with nothing of
// the old term left running.
var errLostLeadership = errors.New("lost the leader election to another replica: stopping")

// startWork starts the queue, the drift watches, the resync and the
// sweeps, and marks the server ready: at once with one replica, and only once elected with
// leader election on, so that followers report not ready and take no
// webhooks. lost is closed when the server stops leading.
func (s *Server) startWork(ctx context.Context) (lost <-chan struct{}, err error) {
	work := func(ctx context.Context) {
		s.queue.Start(ctx)
		s.startWatches(ctx)
		go s.resyncLoop(ctx)
		go s.sweepDeliveries(ctx)
		s.ready.Store(true)
	}
	le := s.cfg.State.LeaderElection
	if s.cfg.State.Shards > 1 {
		return nil, s.startShards(ctx, work)
	}
	if !le.Enabled {
		s.metrics.Leader.Set(1)
		work(ctx)
		return nil, nil
	}
	c, err := s.pipe.Clusters.Get(s.cfg.State.Cluster)
	if err == nil {
		err = c.EnsureSystemNamespace(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("leader election: state cluster: %w", err)
	}
	host, _ := os.Hostname()
	id := host + "-" + rand.Text()[:8]
	d := le.LeaseDuration.D()
	if d == 0 {
		d = 15 * time.Second
	}
	done := make(chan struct{})
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: c.LeaderLock(id), Name: "gantry", ReleaseOnCancel: true,
		LeaseDuration: d, RenewDeadline: d * 2 / 3, RetryPeriod: max(d/8, 250*time.Millisecond),
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				s.log.Info("elected leader: taking webhooks and running pipelines", "identity", id)
				s.metrics.Leader.Set(1)
				// The resync at the start of the term picks up whatever the
				// last leader left.
				work(lctx)
			},
			OnStoppedLeading: func() {
				s.ready.Store(false)
				s.metrics.Leader.Set(0)
				s.log.Warn("no longer the leader", "identity", id)
				close(done)
			},
			OnNewLeader: func(leader string) {
				if leader != id {
					s.log.Info("following", "leader", leader, "identity", id)
				}
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	go func() {
		// Replicas of a sharded configuration still running (a rollout
		// from state.shards above 1) hold the repositories: wait for them.
		if awaitNoShards(ctx, c.SystemLeases(), d, s.log) == nil {
			elector.Run(ctx)
		}
	}()
	return done, nil
}

// startShards joins the replicas sharing the repositories: every replica
// takes webhooks (forwarding those of shards it does not hold) and runs
// the jobs of the shards it holds; a shard just taken is resynced, which
// takes over the work its last holder left in progress.
func (s *Server) startShards(ctx context.Context, work func(context.Context)) error {
	c, err := s.pipe.Clusters.Get(s.cfg.State.Cluster)
	if err == nil {
		err = c.EnsureSystemNamespace(ctx)
	}
	if err != nil {
		return fmt.Errorf("shards: state cluster: %w", err)
	}
	host, _ := os.Hostname()
	d := s.cfg.State.LeaderElection.LeaseDuration.D()
	if d == 0 {
		d = 15 * time.Second
	}
	var m *shardSet
	m = &shardSet{leases: c.SystemLeases(), n: s.cfg.State.Shards, id: replicaID(host), address: s.advertise, d: d, log: s.log,
		held: map[int]*shardTerm{}, seen: leaseClock{},
		heldGauge: func(n int) { s.metrics.ShardsHeld.Set(float64(n)) },
		acquired: func(ctx context.Context, shards []int) {
			go func() {
				taken := func(repo string) bool {
					return slices.Contains(shards, ShardOf(repo, s.cfg.State.Shards)) && m.holds(repo)
				}
				if err := s.resyncOf(ctx, taken); err != nil && ctx.Err() == nil {
					s.log.Warn("resync of the shards taken", "shards", shards, "err", err)
				}
			}()
		}}
	s.shards.Store(m)
	s.log.Info("sharding the repositories", "shards", m.n, "identity", m.id, "address", s.advertise)
	work(ctx)
	go m.run(ctx)
	return nil
}

// replicaID names this process among the replicas: its host name made a
// DNS label (its heartbeat Lease is named after it) and a random suffix,
// new each start.
func replicaID(host string) string {
	h := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, host)
	if len(h) > 40 {
		h = h[:40]
	}
	return strings.Trim(h, "-") + "-" + strings.ToLower(rand.Text()[:8])
}
