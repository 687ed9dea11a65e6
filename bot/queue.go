package bot

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// ErrSuperseded is the cancellation cause of a run whose pull request got a
// newer head: its result would be stale before it was posted.
var ErrSuperseded = errors.New("superseded by a newer head commit")

// ErrShutdown is the cancellation cause of runs still going when the
// shutdown grace period ends.
var ErrShutdown = errors.New("gantry is shutting down")

// RunFunc does one job. Its context is cancelled with ErrSuperseded or
// ErrShutdown (see context.Cause) when the job must stop.
type RunFunc func(ctx context.Context, j Job) error

// Queue runs jobs with one serial lane per pull request (or base branch),
// at most Workers at once across lanes. A plan for a newer head of the
// same pull request cancels the running plan and replaces any waiting one.
type Queue struct {
	run     RunFunc
	workers int
	log     *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	lanes   map[string]*lane
	ready   []string // lanes with work and nothing running, oldest first
	closed  bool
	running sync.WaitGroup
	base    context.Context
	cancel  context.CancelCauseFunc
	// resynced are the heads the resync queued plans of, by lane and
	// head, with when: a pull request event for one of them arriving
	// later is the delivery the resync stood in for.
	resynced map[string]time.Time
}

// resyncedFor is how long a head the resync planned absorbs its late
// delivery; resyncedMax bounds the heads remembered.
const (
	resyncedFor = 15 * time.Minute
	resyncedMax = 10000
)

type lane struct {
	pending []Job
	active  *Job
	stop    context.CancelCauseFunc
	// older are the heads of this pull request known to be superseded:
	// each plan's Before (the head a push replaced). Deliveries arrive
	// out of order, so only this, not arrival, says which head is newer.
	older map[string]bool
}

// NewQueue makes a queue that runs jobs with run on workers goroutines.
func NewQueue(run RunFunc, workers int, log *slog.Logger) *Queue {
	if workers < 1 {
		workers = 1
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	q := &Queue{run: run, workers: workers, log: log, lanes: map[string]*lane{}}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Start runs the workers until Shutdown.
func (q *Queue) Start(ctx context.Context) {
	q.base, q.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	for range q.workers {
		q.running.Add(1)
		go q.work()
	}
}

// Enqueue adds a job to its lane. It returns false when the queue is shut
// down, when the same job (kind and head) is already waiting, when the
// same plan is running, or when it is a plan of a head a push already
// replaced.
func (q *Queue) Enqueue(j Job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	key := j.Lane()
	l := q.lanes[key]
	if l == nil {
		l = &lane{}
		q.lanes[key] = l
	}
	same := func(p Job) bool {
		return p.Kind == j.Kind && p.HeadSHA == j.HeadSHA && p.CommentID == j.CommentID && slices.Equal(p.Apps, j.Apps)
	}
	if slices.ContainsFunc(l.pending, same) {
		return false
	}
	// A plan of the head already running publishes what this one would:
	// running it again after (a resync and a late webhook for one head,
	// as at the start of a leader's term) would publish its check runs
	// twice.
	if j.Kind == JobPlan && l.active != nil && same(*l.active) {
		return false
	}
	if j.Kind == JobPlan && j.CommentID == 0 && len(j.Apps) == 0 {
		if late := q.lateDelivery(j); late {
			q.log.Info("ignoring a late delivery: the resync already planned this head", jobAttrs(j)...)
			return false
		}
	}
	// A lane with work and nothing running is already in ready.
	queued := l.active == nil && len(l.pending) > 0
	switch j.Kind {
	case JobPlan:
		// A plan of a head a push replaced is stale; so are the plans
		// of heads this one replaced. A plan whose order is not known
		// (no Before) runs, and finds out from GitHub (see PlanReport).
		if j.Before != "" {
			if l.older == nil {
				l.older = map[string]bool{}
			}
			l.older[j.Before] = true
		}
		if l.older[j.HeadSHA] {
			q.log.Info("ignoring the plan of a replaced head", jobAttrs(j)...)
			return false
		}
		l.pending = slices.DeleteFunc(l.pending, func(p Job) bool {
			stale := p.Kind == JobPlan && l.older[p.HeadSHA]
			if stale {
				q.log.Info("dropping stale plan", append(jobAttrs(p), "newer", shortSHA(j.HeadSHA))...)
			}
			return stale
		})
		if l.active != nil && l.active.Kind == JobPlan && l.older[l.active.HeadSHA] {
			q.log.Info("cancelling stale plan", append(jobAttrs(*l.active), "newer", shortSHA(j.HeadSHA))...)
			l.stop(ErrSuperseded)
		}
	case JobApply:
		// A newer head of the branch holds every older one: it replaces
		// the applies still waiting (never the one running, which is not
		// cut short), and covers their pushes, so their merged pull
		// requests hear of it.
		oldest := ""
		l.pending = slices.DeleteFunc(l.pending, func(p Job) bool {
			if p.Kind != JobApply {
				return false
			}
			q.log.Info("superseding a waiting apply", append(jobAttrs(p), "newer", shortSHA(j.HeadSHA))...)
			if oldest == "" {
				oldest = p.Before
			}
			return true
		})
		if oldest != "" {
			j.Before = oldest
		}
	}
	l.pending = append(l.pending, j)
	if l.active == nil && !queued {
		q.ready = append(q.ready, key)
		q.cond.Signal()
	}
	return true
}

// lateDelivery says whether j, a plan of a pull request's head, is one
// the resync already queued (when j is a delivery), and remembers j when
// the resync queues it. Call with q.mu held.
func (q *Queue) lateDelivery(j Job) bool {
	key := j.Lane() + "@" + j.HeadSHA
	now := time.Now()
	if j.DeliveryID != "" {
		at, ok := q.resynced[key]
		return ok && now.Sub(at) < resyncedFor
	}
	if j.Received.IsZero() && j.PRFiltered {
		if q.resynced == nil {
			q.resynced = map[string]time.Time{}
		}
		if len(q.resynced) >= resyncedMax {
			for k, at := range q.resynced {
				if now.Sub(at) >= resyncedFor {
					delete(q.resynced, k)
				}
			}
		}
		if len(q.resynced) < resyncedMax {
			q.resynced[key] = now
		}
	}
	return false
}

// Holds says whether a job of j's kind for j's lane and head is running
// or waiting here: the resync leaves such work alone, and takes over work
// whose check runs were left in progress by a replica that died.
func (q *Queue) Holds(j Job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.lanes[j.Lane()]
	if l == nil {
		return false
	}
	same := func(p Job) bool { return p.Kind == j.Kind && p.HeadSHA == j.HeadSHA }
	return (l.active != nil && same(*l.active)) || slices.ContainsFunc(l.pending, same)
}

// next blocks until a lane is ready, marks its first job active and
// returns it; ok is false when the queue is shut down.
func (q *Queue) next() (key string, j Job, ctx context.Context, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.ready) == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return "", Job{}, nil, false
	}
	key, q.ready = q.ready[0], q.ready[1:]
	l := q.lanes[key]
	j, l.pending = l.pending[0], l.pending[1:]
	l.active = &j
	ctx, l.stop = context.WithCancelCause(q.base)
	return key, j, ctx, true
}

// finish clears a lane's active job and queues the lane again if it has
// more work.
func (q *Queue) finish(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.lanes[key]
	l.stop(nil)
	l.active, l.stop = nil, nil
	switch {
	case len(l.pending) > 0 && !q.closed:
		q.ready = append(q.ready, key)
		q.cond.Signal()
	case len(l.pending) == 0:
		delete(q.lanes, key)
	}
}

func (q *Queue) work() {
	defer q.running.Done()
	for {
		key, j, ctx, ok := q.next()
		if !ok {
			return
		}
		err := q.run(ctx, j)
		switch {
		case err != nil && context.Cause(ctx) != nil && ctx.Err() != nil:
			q.log.Info("job stopped", append(jobAttrs(j), "cause", context.Cause(ctx))...)
		case err != nil:
			q.log.Error("job failed", append(jobAttrs(j), "err", err)...)
		}
		q.finish(key)
	}
}

// Waiting counts the jobs queued and not yet started.
func (q *Queue) Waiting() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, l := range q.lanes {
		n += len(l.pending)
	}
	return n
}

// Shutdown stops taking jobs, lets running ones finish until ctx ends,
// then cancels them with ErrShutdown. It returns the jobs that never ran
// and those it cancelled, so the caller can record them (resync picks them
// up again after a restart).
func (q *Queue) Shutdown(ctx context.Context) []Job {
	q.mu.Lock()
	q.closed = true
	var left []Job
	for _, l := range q.lanes {
		left = append(left, l.pending...)
		l.pending = nil
	}
	q.ready = nil
	q.cond.Broadcast()
	q.mu.Unlock()

	done := make(chan struct{})
	go func() { q.running.Wait(); close(done) }()
	select {
	case <-done:
		return left
	case <-ctx.Done():
	}
	q.mu.Lock()
	for _, l := range q.lanes {
		if l.active != nil {
			left = append(left, *l.active)
			l.stop(ErrShutdown)
		}
	}
	q.mu.Unlock()
	if q.cancel != nil {
		q.cancel(ErrShutdown)
	}
	<-done
	return left
}
