package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestLocks(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	app := newApp("").Name
	release, err := c.TakeLock(ctx, app, "acme/gitops#1", 1, DefaultLockOptions())
	if err != nil {
		t.Fatal(err)
	}
	var locked *LockedError
	if _, err := c.TakeLock(ctx, app, "acme/gitops#2", 2, DefaultLockOptions()); !errors.As(err, &locked) || locked.Lock.PR != 1 {
		t.Fatalf("second holder: %v, want locked by #1", err)
	}
	if _, err := c.TakeLock(ctx, app, "acme/gitops#1", 1, DefaultLockOptions()); err != nil {
		t.Fatalf("renewal by the holder: %v", err)
	}
	l, err := newClient(t).InspectLock(ctx, app)
	if err != nil || l == nil || l.Holder != "acme/gitops#1" || l.PR != 1 || !l.Expires.After(time.Now().Add(50*time.Minute)) {
		t.Fatalf("inspect from another replica: %+v, %v", l, err)
	}
	if err := c.ReleaseLock(ctx, app, "acme/gitops#2"); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, app); l == nil {
		t.Fatal("a release by a non-holder released the lock")
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.InspectLock(ctx, app); l != nil {
		t.Fatalf("released lock still held: %+v", l)
	}
	// An expired lock can be taken by another holder.
	if _, err := c.TakeLock(ctx, app, "acme/gitops#3", 3, LockOptions{TTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if _, err := c.TakeLock(ctx, app, "acme/gitops#4", 4, DefaultLockOptions()); err != nil {
		t.Fatalf("taking an expired lock: %v", err)
	}
	locks, err := c.Locks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range locks {
		found = found || (l.App == app && l.PR == 4)
	}
	if !found {
		t.Errorf("Locks %+v lacks %s held by #4", locks, app)
	}
}

func TestLockContentionAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	app := newApp("").Name
	const replicas = 8
	var wg sync.WaitGroup
	results := make([]error, replicas)
	for i := range replicas {
		c := newClient(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = c.TakeLock(ctx, app, fmt.Sprintf("replica-%d", i), 100+i, DefaultLockOptions())
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
