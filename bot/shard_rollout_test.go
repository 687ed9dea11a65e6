package bot

import (
	"context"
	"log/slog"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/gantryops/gantry/cluster"
)

func TestYieldTo(t *testing.T) {
	for _, c := range []struct {
		name        string
		n           int
		rivals      []rival
		wait, yield bool
	}{
		{"alone", 8, nil, false, false},
		{"a smaller count: wait, keep what is held", 8, []rival{{shards: 4}}, true, false},
		{"a larger count: give up", 4, []rival{{shards: 8}}, true, true},
		{"the leader election: give up", 16, []rival{{shards: 1}}, true, true},
		{"several, one larger", 8, []rival{{shards: 2}, {shards: 16}}, true, true},
	} {
		wait, yield := yieldTo(c.n, c.rivals)
		if wait != c.wait || yield != c.yield {
			t.Errorf("%s: yieldTo(%d, %v) = %v, %v; want %v, %v", c.name, c.n, c.rivals, wait, yield, c.wait, c.yield)
		}
	}
}

// TestShardCountChangeWaitsForTheOldReplicas: on the local cluster's API
// server, replicas of a new shard count take nothing while the old
// count's replicas hold shards, and take every shard once those stop; a
// replica holding shards beside a live Lease of a larger count, or the
// leader election's, gives them up; and the leader election waits for
// the sharded replicas to stop.
func TestShardCountChangeWaitsForTheOldReplicas(t *testing.T) {
	ns := kube.Namespace(t)
	leases := kube.Client.CoordinationV1().Leases(ns)
	ctx := context.Background()
	d := 2 * time.Second
	newSet := func(id string, n int) *shardSet {
		return &shardSet{leases: leases, n: n, id: id, address: "http://" + id + ":8080", d: d, log: slog.New(slog.DiscardHandler),
			held: map[int]*shardTerm{}, seen: leaseClock{}}
	}
	held := func(m *shardSet) int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return len(m.held)
	}
	tick := func(sets ...*shardSet) {
		for _, m := range sets {
			if err := m.tick(ctx); err != nil {
				t.Logf("tick %s: %v", m.id, err)
			}
		}
	}
	until := func(what string, cond func() bool, sets ...*shardSet) {
		t.Helper()
		for range 200 {
			tick(sets...)
			if cond() {
				return
			}
			time.Sleep(d / 10)
		}
		t.Fatalf("never: %s", what)
	}

	old := newSet("old", 8)
	until("the old replica holds its 8 shards", func() bool { return held(old) == 8 }, old)

	// The leader election of a rollback to one shard waits too.
	elected := make(chan error, 1)
	ectx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	go func() { elected <- awaitNoShards(ectx, leases, d, slog.New(slog.DiscardHandler)) }()

	// A rollout to 4 shards: the new replica ticks beside the old one for
	// longer than a Lease and takes nothing.
	fresh := newSet("new", 4)
	for range 30 {
		tick(old, fresh)
		time.Sleep(d / 10)
		if h := held(fresh); h != 0 {
			t.Fatalf("the new replica took %d shards while the old one holds its own", h)
		}
		select {
		case err := <-elected:
			t.Fatalf("the leader election started while shards are held (%v)", err)
		default:
		}
	}
	old.stop()
	until("the new replica takes its 4 shards", func() bool { return held(fresh) == 4 }, fresh)
	// The new replica holds shards of a count, so the election still waits.
	select {
	case err := <-elected:
		t.Fatalf("the leader election started while the new replica holds shards (%v)", err)
	default:
	}

	// A replica of a larger count that did not wait (a version before
	// this check) holds a shard: the smaller count gives up its shards.
	rogue := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: shardLeaseName(0, 16), Labels: map[string]string{shardingLabel: "shards-16"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("rogue"), LeaseDurationSeconds: ptr.To(int32(2))}}
	if _, err := leases.Create(ctx, rogue, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	until("the 4-shard replica gives up its shards to the 16-shard one", func() bool { return held(fresh) == 0 }, fresh)
	if err := leases.Delete(ctx, rogue.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	until("the 4-shard replica takes its shards back", func() bool { return held(fresh) == 4 }, fresh)

	// A live leader election's Lease: the sharded replica gives way.
	leader := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: cluster.LeaderLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("leader"), LeaseDurationSeconds: ptr.To(int32(2))}}
	if _, err := leases.Create(ctx, leader, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	until("the sharded replica gives up its shards to the leader", func() bool { return held(fresh) == 0 }, fresh)
	// The leader's Lease stops moving (its holder died): once it expires,
	// the sharded replica takes its shards.
	until("the sharded replica takes its shards after the leader's Lease expired", func() bool { return held(fresh) == 4 }, fresh)

	fresh.stop()
	select {
	case err := <-elected:
		if err != nil {
			t.Fatalf("awaitNoShards: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the leader election never started after every sharded replica stopped")
	}
}
