package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestLocks(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	key := LockKey{Repository: testRepo, App: newApp("").Name}
	release, err := c.TakeLock(ctx, key, "acme/gitops#1", 1)
	if err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if _, err := c.TakeLock(ctx, key, "acme/gitops#2", 2); !errors.As(err, &locked) || locked.Lock.PR != 1 {
		t.Fatalf("second holder: %v, want locked by #1", err)
	}
	if _, err := c.TakeLock(ctx, key, "acme/gitops#1", 1); err != nil {
		t.Fatalf("renewal by the holder: %v", err)
	}
	l, err := newClient(t).InspectLock(ctx, key)
	if err != nil || l == nil || l.Holder != "acme/gitops#1" || l.PR != 1 || l.Repository != testRepo || l.App != key.App {
		t.Fatalf("inspect from another replica: %+v, %v", l, err)
	}
	if err := c.ReleaseLock(ctx, key, "acme/gitops#2"); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, key); l == nil {
		t.Fatal("a release by a non-holder released the lock")
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, key); l != nil {
		t.Fatalf("released lock still held: %+v", l)
	}
	if _, err := c.TakeLock(ctx, key, "acme/gitops#4", 4); err != nil {
		t.Fatalf("taking a released lock: %v", err)
	}
	locks, err := c.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range locks {
		found = found || (l.Key() == key && l.PR == 4)
	}
	if !found {
		t.Errorf("Locks %+v lacks %s held by #4", locks, key)
	}
}

// A lock lives as long as its pull request is open: however long ago its
// holder was last seen, another pull request cannot take it.
func TestLockNeverExpires(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	key := LockKey{Repository: testRepo, App: newApp("").Name}
	if _, err := c.TakeLock(ctx, key, "acme/gitops#1", 1); err != nil {
		t.Fatal(err)
	}
	// Last seen a year ago, with the one-hour duration an older gantry set.
	leases := cluster.Client.CoordinationV1().Leases(DefaultClientOptions().SystemNamespace)
	lease, err := leases.Get(ctx, key.name(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lease.Spec.LeaseDurationSeconds != nil {
		t.Errorf("a lock's Lease has a duration: %d s", *lease.Spec.LeaseDurationSeconds)
	}
	old := metav1.NewMicroTime(time.Now().AddDate(-1, 0, 0).Truncate(time.Second))
	lease.Spec.RenewTime, lease.Spec.AcquireTime, lease.Spec.LeaseDurationSeconds = &old, &old, ptr.To[int32](3600)
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if _, err := c.TakeLock(ctx, key, "acme/gitops#2", 2); !errors.As(err, &locked) || locked.Lock.PR != 1 {
		t.Fatalf("another holder after a year: %v, want locked by #1", err)
	}
	if l, err := c.InspectLock(ctx, key); err != nil || l == nil || l.PR != 1 {
		t.Fatalf("inspect: %+v, %v; want held by #1", l, err)
	}
	locks, err := c.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, l := range locks {
		listed = listed || l.Key() == key
	}
	if !listed {
		t.Errorf("Locks %+v lacks the lock last seen a year ago", locks)
	}
	// A resync finding the pull request open records it as seen; a renewal
	// by someone else does nothing.
	if err := c.RenewLock(ctx, key, "acme/gitops#2"); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, key); l == nil || !l.Renewed.Equal(old.Time) || l.Holder != "acme/gitops#1" {
		t.Fatalf("after a renewal by a non-holder: %+v, want renewed %s by #1", l, old.Time)
	}
	if err := c.RenewLock(ctx, key, "acme/gitops#1"); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, key); l == nil || !l.Renewed.After(old.Time) || !l.Acquired.Equal(old.Time) {
		t.Fatalf("after the holder's renewal: %+v, want renewed after %s, acquired unchanged", l, old.Time)
	}
}

// Two repositories with an app of the same name have two locks; the
// repository's name is compared case-insensitively.
func TestLocksArePerRepository(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	app := newApp("").Name
	a, b := LockKey{Repository: "acme/gitops", App: app}, LockKey{Repository: "other/gitops", App: app}
	if _, err := c.TakeLock(ctx, a, "acme/gitops#1", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TakeLock(ctx, b, "other/gitops#1", 1); err != nil {
		t.Fatalf("the same app of another repository: %v", err)
	}
	var locked *LockedError
	upper := LockKey{Repository: "ACME/GitOps", App: app}
	if _, err := c.TakeLock(ctx, upper, "ACME/GitOps#2", 2); !errors.As(err, &locked) || locked.Lock.Holder != "acme/gitops#1" {
		t.Fatalf("the same repository spelt in capitals: %v, want locked by acme/gitops#1", err)
	}
	if err := c.ReleaseLock(ctx, b, ""); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, a); l == nil || l.Holder != "acme/gitops#1" {
		t.Fatalf("unlocking another repository's app released this one: %+v", l)
	}
	if _, err := c.TakeLock(ctx, LockKey{App: app}, "x#1", 1); !errors.Is(err, ErrNoRepository) {
		t.Errorf("lock without a repository: %v, want ErrNoRepository", err)
	}
}

func TestLockContentionAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	key := LockKey{Repository: testRepo, App: newApp("").Name}
	const replicas = 8
	var wg sync.WaitGroup
	results := make([]error, replicas)
	for i := range replicas {
		c := newClient(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = c.TakeLock(ctx, key, fmt.Sprintf("replica-%d", i), 100+i)
		}()
	}
	wg.Wait()
	winners := 0
	for _, err := range results {
		var locked *LockedError
		switch {
		case err == nil:
			winners++
		case errors.As(err, &locked):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d replicas hold the lock, want exactly 1: %v", winners, results)
	}
}

// TestRenewLockBesideAPlanTakingItAgain: the resync renews a lock while
// its pull request's plan takes it again, each writing the same Lease;
// the renewal retries on the conflict rather than failing the resync.
func TestRenewLockBesideAPlanTakingItAgain(t *testing.T) {
	ctx := context.Background()
	key := LockKey{Repository: testRepo, App: newApp("").Name}
	const holder = "acme/gitops#7"
	plan, resync := newClient(t), newClient(t)
	if _, err := plan.TakeLock(ctx, key, holder, 7); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var takeErr, renewErr error
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 60 {
			if _, err := plan.TakeLock(ctx, key, holder, 7); err != nil && takeErr == nil {
				takeErr = err
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 60 {
			if err := resync.RenewLock(ctx, key, holder); err != nil && renewErr == nil {
				renewErr = err
			}
		}
	}()
	wg.Wait()
	if takeErr != nil || renewErr != nil {
		t.Fatalf("take again: %v; renew: %v", takeErr, renewErr)
	}
}
