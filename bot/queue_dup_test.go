package bot

import (
	"context"
	"testing"
	"time"
)

// TestQueueSamePlanWhileItRunsRunsOnce: a plan for the head a running
// plan is for (the new leader's resync and a webhook both ask) is not
// queued; a command's plan of that head, or another head, still is.
func TestQueueSamePlanWhileItRunsRunsOnce(t *testing.T) {
	r := newRecorder()
	q := NewQueue(r.run, 2, nil)
	q.Start(context.Background())
	defer q.Shutdown(context.Background())
	q.Enqueue(plan(1, "a"))
	waitBegin(t, r, "acme/ops#1@a")
	if q.Enqueue(plan(1, "a")) {
		t.Error("the running plan's head was queued again")
	}
	cmd := plan(1, "a")
	cmd.CommentID = 7
	if !q.Enqueue(cmd) {
		t.Error("a /gantry plan of the running head was refused")
	}
	close(r.release)
	waitBegin(t, r, "acme/ops#1@a") // the command's plan
	waitFor(t, "idle", func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.lanes) == 0 })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.started) != 2 {
		t.Errorf("ran %v, want the plan and the command's plan", r.started)
	}
}

// TestQueueLateDeliveryOfAHeadTheResyncPlannedIsIgnored: the resync plans
// a head whose delivery was lost; when that delivery arrives after the
// plan ended, it would plan the head again and post a second set of
// check runs. It is ignored. A delivery for another head, and a command's
// plan of the same head, still run.
func TestQueueLateDeliveryOfAHeadTheResyncPlannedIsIgnored(t *testing.T) {
	r := newRecorder()
	close(r.release)
	q := NewQueue(r.run, 1, nil)
	q.Start(context.Background())
	defer q.Shutdown(context.Background())
	resynced := plan(1, "a")
	resynced.PRFiltered = true
	q.Enqueue(resynced)
	waitFor(t, "the resync's plan", func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.lanes) == 0 })
	late := plan(1, "a")
	late.PRFiltered, late.DeliveryID, late.Received = true, "d-1", time.Now()
	if q.Enqueue(late) {
		t.Error("the late delivery of a head the resync planned was queued")
	}
	other := late
	other.HeadSHA, other.DeliveryID = "b", "d-2"
	if !q.Enqueue(other) {
		t.Error("a delivery of another head was refused")
	}
	cmd := plan(1, "a")
	cmd.CommentID = 7
	if !q.Enqueue(cmd) {
		t.Error("a /gantry plan of the head was refused")
	}
}
