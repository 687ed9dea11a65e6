package bot

import (
	"context"
	"testing"
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
