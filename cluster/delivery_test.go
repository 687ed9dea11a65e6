package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestDeliveryRecordedOnceAcrossReplicas proves that of several clients
// (replicas, each with its own connection) recording the same delivery id
// at once, exactly one is told it is new.
func TestDeliveryRecordedOnceAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	id := fmt.Sprintf("72d3162e-cc78-11e3-81ab-4c9367dc0958-%d", time.Now().UnixNano())
	const replicas = 4
	var wg sync.WaitGroup
	results := make([]bool, replicas)
	errs := make([]error, replicas)
	for i := range replicas {
		c := newClient(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.RecordDelivery(ctx, id)
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if results[i] {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d replicas were told the delivery is new, want exactly 1", fresh)
	}
	if isNew, err := newClient(t).RecordDelivery(ctx, id); err != nil || isNew {
		t.Errorf("recording it again: new=%v, %v; want a duplicate", isNew, err)
	}
	if other, err := newClient(t).RecordDelivery(ctx, id+"-other"); err != nil || !other {
		t.Errorf("another delivery: new=%v, %v; want new", other, err)
	}
}

func TestDeliveryNameIsAFixedSizeName(t *testing.T) {
	for _, id := range []string{"", "a", "../../etc", "UPPER CASE", string(make([]byte, 10000)), "\xff\xfe"} {
		n := DeliveryName(id)
		if len(n) != len(DeliveryPrefix)+40 || !dnsSubdomain(n) {
			t.Errorf("DeliveryName(%.20q) = %q: not a fixed-size lower-case name", id, n)
		}
	}
	if DeliveryName("a") == DeliveryName("b") {
		t.Error("two ids share a record")
	}
}

func dnsSubdomain(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// TestSweepDeletesOnlyOldDeliveryRecords proves the sweep keeps records
// younger than the TTL and deletes older ones, after which the delivery is
// new again.
func TestSweepDeletesOnlyOldDeliveryRecords(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	id := fmt.Sprintf("sweep-%d", time.Now().UnixNano())
	if isNew, err := c.RecordDelivery(ctx, id); err != nil || !isNew {
		t.Fatalf("first record: new=%v, %v", isNew, err)
	}
	if _, err := c.SweepDeliveries(ctx, DeliveryOptions{TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if isNew, err := c.RecordDelivery(ctx, id); err != nil || isNew {
		t.Fatalf("after a sweep with a long TTL: new=%v, %v; want the record kept", isNew, err)
	}
	n, err := c.SweepDeliveries(ctx, DeliveryOptions{TTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("sweep deleted %d records, want at least 1", n)
	}
	if isNew, err := c.RecordDelivery(ctx, id); err != nil || !isNew {
		t.Errorf("after the record was swept: new=%v, %v; want new", isNew, err)
	}
}
