package bot

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a RunFunc that blocks each job until released and records
// what ran, what was cancelled and how many ran at once.
type recorder struct {
	mu        sync.Mutex
	started   []string
	cancelled map[string]error
	perLane   map[string]int
	maxLane   int
	now, max  int32
	release   chan struct{}
	began     chan string
	// cancelHold, when set, keeps a cancelled job from returning until it
	// is closed: its worker stays busy while a test queues more.
	cancelHold chan struct{}
}

func newRecorder() *recorder {
	return &recorder{cancelled: map[string]error{}, perLane: map[string]int{}, release: make(chan struct{}), began: make(chan string, 100)}
}

func (r *recorder) run(ctx context.Context, j Job) error {
	id := j.Lane() + "@" + j.HeadSHA
	n := atomic.AddInt32(&r.now, 1)
	defer atomic.AddInt32(&r.now, -1)
	r.mu.Lock()
	r.started = append(r.started, id)
	r.perLane[j.Lane()]++
	r.maxLane = max(r.maxLane, r.perLane[j.Lane()])
	if n > r.max {
		r.max = n
	}
	r.mu.Unlock()
	defer func() { r.mu.Lock(); r.perLane[j.Lane()]--; r.mu.Unlock() }()
	r.began <- id
	select {
	case <-r.release:
		return nil
	case <-ctx.Done():
		r.mu.Lock()
		r.cancelled[id] = context.Cause(ctx)
		r.mu.Unlock()
		if r.cancelHold != nil {
			<-r.cancelHold
		}
		return ctx.Err()
	}
}

func plan(pr int, sha string) Job {
	return Job{Kind: JobPlan, Owner: "acme", Repo: "ops", PR: pr, HeadSHA: sha}
}

// push is a plan of a synchronize: its head replaced before.
func push(j Job, before string) Job {
	j.Before = before
	return j
}

func waitBegin(t *testing.T, r *recorder, want string) {
	t.Helper()
	select {
	case got := <-r.began:
		if got != want {
			t.Fatalf("started %s, want %s", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never started", want)
	}
}

func TestQueueNewerHeadCancelsOlder(t *testing.T) {
	r := newRecorder()
	// a, cancelled by b, returns only once c is queued too: otherwise its
	// worker may start b before c arrives (then c cancels b, which is
	// right, but not what this test is about).
	r.cancelHold = make(chan struct{})
	q := NewQueue(r.run, 2, nil)
	q.Start(context.Background())
	q.Enqueue(plan(1, "a"))
	waitBegin(t, r, "acme/ops#1@a")
	if !q.Enqueue(push(plan(1, "b"), "a")) {
		t.Fatal("newer head refused")
	}
	if !q.Enqueue(push(plan(1, "c"), "b")) {
		t.Fatal("newest head refused")
	}
	if q.Enqueue(push(plan(1, "c"), "b")) {
		t.Fatal("duplicate delivery of the same head queued twice")
	}
	close(r.cancelHold)
	waitBegin(t, r, "acme/ops#1@c") // b was dropped unrun: c superseded it
	close(r.release)
	q.Shutdown(context.Background())
	r.mu.Lock()
	defer r.mu.Unlock()
	if !errors.Is(r.cancelled["acme/ops#1@a"], ErrSuperseded) {
		t.Errorf("older run's cause = %v, want ErrSuperseded", r.cancelled["acme/ops#1@a"])
	}
	for _, s := range r.started {
		if s == "acme/ops#1@b" {
			t.Errorf("stale head b ran: %v", r.started)
		}
	}
}

func TestQueueLanesAreSerialAndWorkersBounded(t *testing.T) {
	r := newRecorder()
	q := NewQueue(r.run, 3, nil)
	q.Start(context.Background())
	for pr := 1; pr <= 6; pr++ {
		q.Enqueue(plan(pr, "x"))
		q.Enqueue(Job{Kind: JobCommand, Owner: "acme", Repo: "ops", PR: pr, CommentID: int64(pr)})
	}
	for range 3 {
		<-r.began
	}
	time.Sleep(50 * time.Millisecond) // give a wrong queue the chance to start a fourth
	if n := atomic.LoadInt32(&r.now); n != 3 {
		t.Fatalf("%d jobs running, want exactly 3 workers busy", n)
	}
	go func() {
		for range r.began {
		}
	}()
	close(r.release)
	if left := q.Shutdown(withTimeout(t)); len(left) > 12 {
		t.Fatalf("left %d", len(left))
	}
	if r.max > 3 {
		t.Errorf("%d jobs ran at once, want at most 3", r.max)
	}
	if r.maxLane > 1 {
		t.Errorf("%d jobs of one pull request ran at once, want 1", r.maxLane)
	}
}

func withTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestQueueShutdownReturnsUnfinishedWork(t *testing.T) {
	r := newRecorder()
	q := NewQueue(r.run, 1, nil)
	q.Start(context.Background())
	q.Enqueue(plan(1, "a"))
	waitBegin(t, r, "acme/ops#1@a")
	q.Enqueue(plan(2, "b"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	left := q.Shutdown(ctx) // the running job never finishes by itself
	if len(left) != 2 {
		t.Fatalf("left %+v, want the waiting and the cancelled job", left)
	}
	if !errors.Is(r.cancelled["acme/ops#1@a"], ErrShutdown) {
		t.Errorf("cause %v, want ErrShutdown", r.cancelled["acme/ops#1@a"])
	}
	if q.Enqueue(plan(3, "c")) {
		t.Error("queue took a job after shutdown")
	}
}

// TestQueueNewerWorkInAWaitingLaneRunsOnce: newer plans and applies
// replace the waiting ones of their lane without queueing the lane twice
// (which ran a lane with nothing pending), and a superseding apply keeps
// the oldest push's before, so it covers every merged pull request.
func TestQueueNewerWorkInAWaitingLaneRunsOnce(t *testing.T) {
	var mu sync.Mutex
	var ran []Job
	gate := make(chan struct{})
	q := NewQueue(func(ctx context.Context, j Job) error {
		if j.Kind == JobInstallation {
			<-gate // holds the only worker while the lanes fill
		}
		mu.Lock()
		ran = append(ran, j)
		mu.Unlock()
		return nil
	}, 1, nil)
	q.Start(context.Background())
	q.Enqueue(Job{Kind: JobInstallation, InstallationID: 1})
	apply := func(before, head string) Job {
		return Job{Kind: JobApply, Owner: "acme", Repo: "ops", BaseRef: "main", Before: before, HeadSHA: head}
	}
	for _, j := range []Job{plan(1, "a"), push(plan(1, "b"), "a"), push(plan(1, "c"), "b"), apply("0", "1"), apply("1", "2"), apply("2", "3")} {
		if !q.Enqueue(j) {
			t.Fatalf("%s %s refused", j.Kind, j.HeadSHA)
		}
	}
	if q.Enqueue(apply("2", "3")) {
		t.Error("a duplicate apply was queued")
	}
	close(gate)
	waitFor(t, "idle", func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.lanes) == 0 })
	q.Shutdown(context.Background())
	mu.Lock()
	defer mu.Unlock()
	var got []string
	for _, j := range ran {
		got = append(got, string(j.Kind)+":"+j.Before+">"+j.HeadSHA)
	}
	want := []string{"installation:>", "plan:b>c", "apply:0>3"}
	if len(got) != len(want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ran %v, want %v", got, want)
		}
	}
}

// TestQueueOlderHeadDeliveredLateIsStale: deliveries arrive out of order.
// A synchronize naming the head it replaced makes that head's plan stale,
// whenever it arrives; arriving later proves nothing, so a plan of a head
// of unknown order neither cancels nor replaces a newer one.
func TestQueueOlderHeadDeliveredLateIsStale(t *testing.T) {
	r := newRecorder()
	q := NewQueue(r.run, 1, nil)
	q.Start(context.Background())
	q.Enqueue(plan(1, "c"))
	waitBegin(t, r, "acme/ops#1@c")
	if !q.Enqueue(push(plan(1, "b"), "a")) {
		t.Fatal("a head of unknown order refused")
	}
	if q.Enqueue(push(plan(1, "a"), "z")) {
		t.Fatal("the plan of a replaced head a was queued")
	}
	if !q.Enqueue(push(plan(1, "d"), "c")) {
		t.Fatal("newer head d refused")
	}
	waitBegin(t, r, "acme/ops#1@b") // c was cancelled by d; b's order is unknown, it runs
	close(r.release)
	waitBegin(t, r, "acme/ops#1@d")
	q.Shutdown(context.Background())
	r.mu.Lock()
	defer r.mu.Unlock()
	if !errors.Is(r.cancelled["acme/ops#1@c"], ErrSuperseded) {
		t.Errorf("c's cause = %v, want ErrSuperseded", r.cancelled["acme/ops#1@c"])
	}
	if _, ok := r.cancelled["acme/ops#1@d"]; ok {
		t.Errorf("the newest head d was cancelled")
	}
}
