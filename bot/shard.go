package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/ptr"

	"github.com/gantryops/gantry/cluster"
	"github.com/gantryops/gantry/pause"
)

// ErrShardLost is the cancellation cause of the jobs of a shard this
// replica no longer holds: the shard's new holder takes them over (its
// resync finds their checks in progress).
var ErrShardLost = errors.New("its shard moved to another replica")

// Labels and annotations of the sharding Leases. Every Lease gantry uses
// for sharding carries shardingLabel: "replica" on a replica's heartbeat,
// "shards-N" on the N shards' Leases, so one List reads them all.
const (
	shardingLabel     = "gantry.dev/sharding"
	addressAnnotation = "gantry.dev/address"
	replicaLeasePre   = "gantry-replica-"
)

// ShardOf is the shard of a repository ("owner/name", case-insensitive)
// among shards: FNV-1a of its lower-cased name, modulo shards. Every
// replica computes the same shard for a repository.
func ShardOf(repository string, shards int) int {
	if shards <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(repository)))
	return int(h.Sum32() % uint32(shards))
}

// fairShare is how many shards one replica may hold: shards divided by
// the live replicas, rounded up, so that together they hold them all.
func fairShare(shards, replicas int) int {
	replicas = max(replicas, 1)
	return (shards + replicas - 1) / replicas
}

// shardLeaseName names shard i of n: the count is part of the name, so
// Leases of another shard count never pass for these.
func shardLeaseName(i, n int) string { return fmt.Sprintf("gantry-shard-%d-%d", n, i) }

// preference orders shards for one replica (rendezvous hashing): each
// replica prefers a different order, so replicas starting together reach
// for different free shards rather than racing for the same ones.
func preference(replica string, shard int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(replica))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(shard)))
	return h.Sum64()
}

// shardState is one shard as a replica sees it.
type shardState struct {
	Index int
	// Mine: this replica holds it.
	Mine bool
	// Free: no live replica holds it (never taken, released, or its
	// holder stopped renewing it for a Lease duration).
	Free bool
}

// planShards decides what replica me does with the shards it sees,
// given the live replicas (me included): it releases the shards it holds
// past its fair share (those it prefers least) and takes free ones up to
// its fair share (those it prefers most). A replica never takes a shard
// another live replica holds: a dead one's shards become free when their
// Leases expire.
func planShards(me string, view []shardState, replicas int) (take, release []int) {
	fair := fairShare(len(view), replicas)
	var mine, free []int
	for _, s := range view {
		switch {
		case s.Mine:
			mine = append(mine, s.Index)
		case s.Free:
			free = append(free, s.Index)
		}
	}
	byPreference := func(a, b int) int { return cmp.Compare(preference(me, b), preference(me, a)) }
	slices.SortFunc(mine, byPreference)
	slices.SortFunc(free, byPreference)
	if len(mine) > fair {
		release = slices.Clone(mine[fair:])
		slices.Sort(release)
		return nil, release
	}
	n := min(fair-len(mine), len(free))
	take = slices.Clone(free[:n])
	slices.Sort(take)
	return take, nil
}

// validAddress is a holder's address from its Lease when it is a plain
// http(s) base URL, "" otherwise: a Lease is read back from the cluster,
// and a delivery is only ever sent to a URL of that shape.
func validAddress(a string) string {
	u, err := url.Parse(a)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// shardTerm is this replica's hold of one shard.
type shardTerm struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	renewed time.Time // the last successful write of its Lease
}

// holder is who holds a shard, as its Lease says.
type holder struct {
	id, address string
}

// observation is when this replica first saw a Lease at a version: a
// Lease expires when it has not changed for its duration on this
// replica's clock, so clocks of different machines never compare.
type observation struct {
	version string
	at      time.Time
}

// leaseClock keeps the observations of Leases by name.
type leaseClock map[string]observation

// observe records l's version as seen now, unless it was seen before.
func (c leaseClock) observe(l *coordinationv1.Lease, now time.Time) {
	if o, ok := c[l.Name]; !ok || o.version != l.ResourceVersion {
		c[l.Name] = observation{version: l.ResourceVersion, at: now}
	}
}

// expired reports whether l has not changed for d, or for its own
// duration when that is longer (a Lease of another configuration).
func (c leaseClock) expired(l *coordinationv1.Lease, now time.Time, d time.Duration) bool {
	own := time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0)) * time.Second
	return now.Sub(c[l.Name].at) > max(d, own)
}

// live reports whether l is held and has not expired.
func (c leaseClock) live(l *coordinationv1.Lease, now time.Time, d time.Duration) bool {
	return ptr.Deref(l.Spec.HolderIdentity, "") != "" && !c.expired(l, now, d)
}

// rival is a live Lease of another way of dividing the work: a shard of
// another count, or the leader election's Lease (shards 1).
type rival struct {
	shards        int
	lease, holder string
}

// shardCountOf is the shard count a sharding Lease belongs to, 0 for a
// heartbeat or a label gantry does not write.
func shardCountOf(l *coordinationv1.Lease) int {
	k, ok := strings.CutPrefix(l.Labels[shardingLabel], "shards-")
	n, err := strconv.Atoi(k)
	if !ok || err != nil || n < 1 {
		return 0
	}
	return n
}

// yieldTo decides what a replica sharding n ways does beside live
// rivals: it takes no shard while any is live, so a rollout that changes
// state.shards, or turns sharding on, waits for the old replicas'
// Leases; and it gives up the shards it holds to the leader election and
// to a larger count, so that of two schemes started together exactly one
// runs.
func yieldTo(n int, rivals []rival) (wait, yield bool) {
	for _, r := range rivals {
		wait = true
		if r.shards == 1 || r.shards > n {
			yield = true
		}
	}
	return wait, yield
}

// awaitNoShards returns once no replica holds a shard Lease (of any
// count), or with ctx's error: the leader election starts after the
// replicas of a sharded configuration stopped, never beside them.
func awaitNoShards(ctx context.Context, leases coordinationv1client.LeaseInterface, d time.Duration, log *slog.Logger) error {
	clock := leaseClock{}
	said := ""
	for {
		list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: shardingLabel})
		if err == nil {
			now := time.Now()
			var held []string
			for i := range list.Items {
				l := &list.Items[i]
				if shardCountOf(l) == 0 {
					continue
				}
				clock.observe(l, now)
				if clock.live(l, now, d) {
					held = append(held, l.Name)
				}
			}
			if len(held) == 0 {
				if said != "" {
					log.Info("the sharded replicas stopped: joining the leader election")
				}
				return nil
			}
			if w := strings.Join(held, ", "); w != said {
				said = w
				log.Warn("waiting for the replicas of a sharded configuration (state.shards) to stop before joining the leader election", "leases", held)
			}
		} else if ctx.Err() == nil {
			log.Warn("leader election: list the sharding Leases", "err", err)
		}
		if err := pause.For(ctx, max(d/5, 100*time.Millisecond)); err != nil {
			return err
		}
	}
}

// shardSet holds this replica's shards: it keeps a heartbeat Lease, takes
// and releases shard Leases towards a fair share, renews those it holds,
// and gives each held shard a context its jobs run under.
type shardSet struct {
	leases  coordinationv1client.LeaseInterface
	n       int
	id      string
	address string
	// d is a Lease's duration; every tick is a fifth of it.
	d   time.Duration
	log *slog.Logger
	// acquired is called with the shards just taken (their resync).
	acquired func(ctx context.Context, shards []int)
	// heldGauge reports how many shards this replica holds.
	heldGauge func(int)

	mu      sync.Mutex
	held    map[int]*shardTerm
	holders map[int]holder // shards other live replicas hold
	seen    leaseClock
	// rivals are what the last tick waited for, to log a change once.
	rivals string
}

// run ticks until ctx ends, then releases every shard and the heartbeat
// so that the other replicas take over at once.
func (m *shardSet) run(ctx context.Context) {
	t := time.NewTicker(max(m.d/5, 100*time.Millisecond))
	defer t.Stop()
	for {
		if err := m.tick(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("shards: coordination", "err", err)
		}
		select {
		case <-ctx.Done():
			m.stop()
			return
		case <-t.C:
		}
	}
}

// tick reads every sharding Lease once and acts: heartbeat, expiry,
// losses, renewals, releases, takes.
func (m *shardSet) tick(ctx context.Context) error {
	list, err := m.leases.List(ctx, metav1.ListOptions{LabelSelector: shardingLabel})
	if err != nil {
		m.dropOverdue()
		return fmt.Errorf("list the sharding Leases: %w", err)
	}
	now := time.Now()
	byName := map[string]*coordinationv1.Lease{}
	var rivals []rival
	for i := range list.Items {
		l := &list.Items[i]
		byName[l.Name] = l
		m.seen.observe(l, now)
		if k := shardCountOf(l); k != 0 && k != m.n && m.seen.live(l, now, m.d) {
			rivals = append(rivals, rival{shards: k, lease: l.Name, holder: ptr.Deref(l.Spec.HolderIdentity, "")})
		}
	}
	leader, err := m.leases.Get(ctx, cluster.LeaderLease, metav1.GetOptions{})
	switch {
	case err == nil:
		m.seen.observe(leader, now)
		if m.seen.live(leader, now, m.d) {
			rivals = append(rivals, rival{shards: 1, lease: leader.Name, holder: ptr.Deref(leader.Spec.HolderIdentity, "")})
		}
	case !apierrors.IsNotFound(err):
		m.dropOverdue()
		return fmt.Errorf("read the leader election's Lease: %w", err)
	}
	expired := func(l *coordinationv1.Lease) bool { return m.seen.expired(l, now, m.d) }

	var errs []error
	errs = append(errs, m.heartbeat(ctx, byName[replicaLeasePre+m.id]))
	replicas := 1
	for _, l := range list.Items {
		if l.Labels[shardingLabel] != "replica" || l.Name == replicaLeasePre+m.id {
			continue
		}
		if !expired(&l) {
			replicas++
			continue
		}
		// A dead replica's heartbeat: deleted, unless it beat since.
		_ = m.leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &l.ResourceVersion}})
		delete(m.seen, l.Name)
	}

	m.mu.Lock()
	view := make([]shardState, m.n)
	holders := map[int]holder{}
	for i := range m.n {
		view[i].Index = i
		l := byName[shardLeaseName(i, m.n)]
		who := ""
		if l != nil {
			who = ptr.Deref(l.Spec.HolderIdentity, "")
		}
		switch {
		case who == m.id && m.held[i] != nil:
			view[i].Mine = true
		case who == "" || expired(l) || who == m.id:
			// who == m.id without a term: a hold this process does not
			// know (it cannot be its own: ids are new per process).
			view[i].Free = true
		default:
			holders[i] = holder{id: who, address: validAddress(l.Annotations[addressAnnotation])}
		}
		if t := m.held[i]; t != nil && !view[i].Mine {
			m.lose(i, "another replica holds its Lease")
		}
	}
	m.holders = holders
	m.mu.Unlock()

	take, release := planShards(m.id, view, replicas)
	if wait, yield := yieldTo(m.n, rivals); wait {
		take = nil
		if yield {
			release = nil
			for _, v := range view {
				if v.Mine {
					release = append(release, v.Index)
				}
			}
		}
		m.noteRivals(rivals, yield)
	} else {
		m.noteRivals(nil, false)
	}
	for _, i := range release {
		errs = append(errs, m.release(ctx, i, byName[shardLeaseName(i, m.n)]))
	}
	for i := range m.n {
		if view[i].Mine && !slices.Contains(release, i) {
			errs = append(errs, m.renew(ctx, i, byName[shardLeaseName(i, m.n)]))
		}
	}
	var got []int
	for _, i := range take {
		ok, err := m.take(ctx, i, byName[shardLeaseName(i, m.n)])
		errs = append(errs, err)
		if ok {
			got = append(got, i)
		}
	}
	m.dropOverdue()
	m.mu.Lock()
	held := len(m.held)
	m.mu.Unlock()
	if m.heldGauge != nil {
		m.heldGauge(held)
	}
	if len(got) > 0 {
		m.log.Info("shards taken", "shards", got, "held", held, "replicas", replicas, "identity", m.id)
		if m.acquired != nil {
			m.acquired(ctx, got)
		}
	}
	return errors.Join(errs...)
}

// noteRivals logs, once per change, what this replica waits for.
func (m *shardSet) noteRivals(rivals []rival, yield bool) {
	var parts []string
	for _, r := range rivals {
		parts = append(parts, fmt.Sprintf("%s (%d shards, held by %s)", r.lease, r.shards, r.holder))
	}
	now := strings.Join(parts, ", ")
	if now == m.rivals {
		return
	}
	m.rivals = now
	switch {
	case now == "":
		m.log.Info("shards: no replica of another configuration holds work: taking shards", "identity", m.id)
	case yield:
		m.log.Warn("shards: replicas of another configuration (state.shards or the leader election) hold work: this replica gives up its shards and waits", "rivals", now, "identity", m.id)
	default:
		m.log.Warn("shards: replicas of another configuration (state.shards or the leader election) hold work: this replica waits for them to stop", "rivals", now, "identity", m.id)
	}
}

// spec is a Lease spec held by this replica from now.
func (m *shardSet) spec(l *coordinationv1.Lease, acquire bool) {
	now := metav1.NewMicroTime(time.Now())
	l.Spec.HolderIdentity = &m.id
	l.Spec.LeaseDurationSeconds = ptr.To(int32(max(m.d/time.Second, 1)))
	l.Spec.RenewTime = &now
	if acquire {
		l.Spec.AcquireTime = &now
		l.Spec.LeaseTransitions = ptr.To(ptr.Deref(l.Spec.LeaseTransitions, 0) + 1)
	}
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[addressAnnotation] = m.address
}

// heartbeat writes this replica's own Lease: live replicas are those
// whose heartbeat moves.
func (m *shardSet) heartbeat(ctx context.Context, l *coordinationv1.Lease) error {
	if l == nil {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: replicaLeasePre + m.id, Labels: map[string]string{shardingLabel: "replica"}}}
		m.spec(l, true)
		_, err := m.leases.Create(ctx, l, metav1.CreateOptions{FieldManager: cluster.FieldManager})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("Lease/%s create: %w", l.Name, err)
		}
		return nil
	}
	m.spec(l, false)
	if _, err := m.leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("Lease/%s renew: %w", l.Name, err)
	}
	return nil
}

// take writes shard i's Lease as held by this replica; ok is false when
// another replica wrote it first.
func (m *shardSet) take(ctx context.Context, i int, l *coordinationv1.Lease) (ok bool, err error) {
	name := shardLeaseName(i, m.n)
	if l == nil {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{shardingLabel: "shards-" + strconv.Itoa(m.n)}}}
		m.spec(l, true)
		_, err = m.leases.Create(ctx, l, metav1.CreateOptions{FieldManager: cluster.FieldManager})
	} else {
		m.spec(l, true)
		_, err = m.leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: cluster.FieldManager})
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		return false, nil // another replica was first
	}
	if err != nil {
		return false, fmt.Errorf("Lease/%s take: %w", name, err)
	}
	tctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	m.mu.Lock()
	m.held[i] = &shardTerm{ctx: tctx, cancel: cancel, renewed: time.Now()}
	m.mu.Unlock()
	return true, nil
}

// renew moves shard i's renew time. A conflict means another replica
// wrote the Lease: the next tick reads who holds it.
func (m *shardSet) renew(ctx context.Context, i int, l *coordinationv1.Lease) error {
	m.spec(l, false)
	if _, err := m.leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: cluster.FieldManager}); err != nil {
		return fmt.Errorf("Lease/%s renew: %w", l.Name, err)
	}
	m.mu.Lock()
	if t := m.held[i]; t != nil {
		t.renewed = time.Now()
	}
	m.mu.Unlock()
	return nil
}

// release stops shard i's jobs and frees its Lease for another replica.
func (m *shardSet) release(ctx context.Context, i int, l *coordinationv1.Lease) error {
	m.mu.Lock()
	m.lose(i, "released for balance")
	m.mu.Unlock()
	if l == nil {
		return nil
	}
	l.Spec.HolderIdentity = ptr.To("")
	if _, err := m.leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: cluster.FieldManager}); err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("Lease/%s release: %w", l.Name, err)
	}
	return nil
}

// lose ends this replica's hold of shard i: its jobs are cancelled with
// ErrShardLost. Call with m.mu held.
func (m *shardSet) lose(i int, why string) {
	t := m.held[i]
	if t == nil {
		return
	}
	delete(m.held, i)
	t.cancel(ErrShardLost)
	m.log.Warn("shard lost: its jobs are cancelled for its next holder", "shard", i, "reason", why, "identity", m.id)
}

// dropOverdue gives up, on this side, the shards whose Lease could not be
// renewed for two thirds of its duration (the API server unreachable): by
// the time the Lease expires their jobs have stopped.
func (m *shardSet) dropOverdue() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, t := range m.held {
		if time.Since(t.renewed) > m.d*2/3 {
			m.lose(i, "its Lease could not be renewed in time")
		}
	}
}

// stop cancels every shard's jobs and frees the Leases and the heartbeat.
func (m *shardSet) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.mu.Lock()
	var held []int
	for i := range m.held {
		held = append(held, i)
		m.lose(i, "shutting down")
	}
	m.mu.Unlock()
	for _, i := range held {
		if l, err := m.leases.Get(ctx, shardLeaseName(i, m.n), metav1.GetOptions{}); err == nil && ptr.Deref(l.Spec.HolderIdentity, "") == m.id {
			_ = m.release(ctx, i, l)
		}
	}
	_ = m.leases.Delete(ctx, replicaLeasePre+m.id, metav1.DeleteOptions{})
	if m.heldGauge != nil {
		m.heldGauge(0)
	}
}

// holds says whether this replica holds repository's shard.
func (m *shardSet) holds(repository string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[ShardOf(repository, m.n)] != nil
}

// holderOf is the live replica holding repository's shard when it is
// another one whose Lease gives a valid address: from the last tick's
// view or, when that knows no holder (this replica's view may be a tick
// behind a take), from the shard's Lease read now.
func (m *shardSet) holderOf(ctx context.Context, repository string) (holder, bool) {
	i := ShardOf(repository, m.n)
	m.mu.Lock()
	h, known := m.holders[i]
	mine := m.held[i] != nil
	m.mu.Unlock()
	if mine {
		return holder{}, false
	}
	if !known && m.leases != nil {
		l, err := m.leases.Get(ctx, shardLeaseName(i, m.n), metav1.GetOptions{})
		if err != nil {
			return holder{}, false
		}
		h = holder{id: ptr.Deref(l.Spec.HolderIdentity, ""), address: validAddress(l.Annotations[addressAnnotation])}
	}
	if h.id == "" || h.id == m.id || h.address == "" {
		return holder{}, false
	}
	return h, true
}

// jobContext is the context a job of repository runs under: cancelled
// with ErrShardLost when this replica loses the shard. ok is false when
// it does not hold the shard: the job is left to the holder.
func (m *shardSet) jobContext(ctx context.Context, repository string) (context.Context, func(), bool) {
	m.mu.Lock()
	t := m.held[ShardOf(repository, m.n)]
	m.mu.Unlock()
	if t == nil {
		return ctx, func() {}, false
	}
	jctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(t.ctx, func() { cancel(context.Cause(t.ctx)) })
	return jctx, func() { stop(); cancel(nil) }, true
}
