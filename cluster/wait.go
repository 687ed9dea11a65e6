package cluster

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// WaitOptions tune the wait for health.
type WaitOptions struct {
	// Timeout bounds the wait; objects not healthy by then are reported
	// unhealthy.
	Timeout time.Duration
	// Interval between two reads of the objects' status.
	Interval time.Duration
	// Events is the number of most recent events reported per unhealthy
	// object.
	Events int
	// Progress, when set, is called whenever the objects' statuses change
	// during the wait, so a person watching sees which objects are ready
	// and why the others are not, instead of silence until the timeout.
	Progress func(WaitProgress)
}

// WaitProgress is the state of a wait in progress.
type WaitProgress struct {
	// Elapsed is the time waited so far, of Timeout.
	Elapsed time.Duration
	Timeout time.Duration
	// Ready is the number of objects healthy so far, of Total.
	Ready int
	Total int
	// Pending are the objects not ready yet, with their kstatus status
	// and message; no conditions, pods or events.
	Pending []ObjectHealth
}

// DefaultWaitOptions returns the wait of a caller without an app: five
// minutes, like the app's default HealthTimeout. Apply waits as long as
// the app's healthTimeout says.
func DefaultWaitOptions() WaitOptions {
	return WaitOptions{Timeout: 5 * time.Minute, Interval: time.Second, Events: 5}
}

// Health is the result of a wait.
type Health struct {
	// Healthy is true when every object reached kstatus Current.
	Healthy bool `json:"healthy"`
	// Timeout is the bound the wait had: the app's healthTimeout unless
	// the caller set another.
	Timeout time.Duration `json:"timeoutNanos,omitempty"`
	// TimedOut says the wait ended at Timeout with objects still in
	// progress (rather than every object healthy or failed).
	TimedOut bool `json:"timedOut,omitempty"`
	// Ready is the number of objects that did.
	Ready int `json:"ready"`
	// Unhealthy are the others, with why.
	Unhealthy []ObjectHealth `json:"unhealthy,omitempty"`
}

// ObjectHealth says why one object is not healthy.
type ObjectHealth struct {
	Object ObjectRef `json:"object"`
	// Status is the kstatus status: InProgress, Failed, NotFound,
	// Terminating or Unknown.
	Status string `json:"status"`
	// Message is kstatus' summary, e.g. "Ready: 0/2".
	Message string `json:"message,omitempty"`
	// Conditions are the object's status conditions.
	Conditions []Condition `json:"conditions,omitempty"`
	// Pods lists, for a workload, its pods that are not ready and why.
	Pods []string `json:"pods,omitempty"`
	// Events are the most recent events of the object and its pods.
	Events []string `json:"events,omitempty"`
}

// Condition is one status condition.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Wait waits until every object in refs is healthy by kstatus (rollouts
// complete, Jobs succeeded, CRDs established) or failed, or the timeout
// passes. An unhealthy outcome is data (Health.Healthy false); the error
// is for a wait that could not run.
func (c *Client) Wait(ctx context.Context, refs []ObjectRef, opts WaitOptions) (*Health, error) {
	def := DefaultWaitOptions()
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	if opts.Interval <= 0 {
		opts.Interval = def.Interval
	}
	if opts.Events <= 0 {
		opts.Events = def.Events
	}
	type state struct {
		ref    ObjectRef
		obj    *unstructured.Unstructured
		result *status.Result
	}
	states := make(map[string]*state, len(refs))
	for _, r := range refs {
		states[r.Key()] = &state{ref: r, result: &status.Result{Status: status.NotFoundStatus, Message: "not found"}}
	}
	settled := func(s *state) bool {
		return s.result.Status == status.CurrentStatus || s.result.Status == status.FailedStatus
	}
	start := time.Now()
	deadline := start.Add(opts.Timeout)
	timedOut := false
	var last string
	for {
		var pending []ObjectRef
		for _, s := range states {
			if !settled(s) {
				pending = append(pending, s.ref)
			}
		}
		if len(pending) == 0 {
			break
		}
		live, err := c.readRefs(ctx, pending)
		if err != nil {
			return nil, err
		}
		for _, r := range pending {
			s := states[r.Key()]
			s.obj = live[r.Key()]
			if s.obj == nil {
				s.result = &status.Result{Status: status.NotFoundStatus, Message: "not found"}
				continue
			}
			if res, err := status.Compute(s.obj); err == nil {
				s.result = res
			} else {
				s.result = &status.Result{Status: status.UnknownStatus, Message: err.Error()}
			}
		}
		if opts.Progress != nil {
			p := WaitProgress{Elapsed: time.Since(start), Timeout: opts.Timeout, Total: len(states)}
			for _, s := range states {
				if s.result.Status == status.CurrentStatus {
					p.Ready++
				} else {
					p.Pending = append(p.Pending, ObjectHealth{Object: s.ref, Status: string(s.result.Status), Message: s.result.Message})
				}
			}
			slices.SortFunc(p.Pending, func(a, b ObjectHealth) int { return compareRefs(a.Object, b.Object) })
			if key := fmt.Sprint(p.Ready, p.Pending); key != last {
				last = key
				opts.Progress(p)
			}
		}
		if !time.Now().Before(deadline) {
			timedOut = slices.ContainsFunc(pending, func(r ObjectRef) bool { return !settled(states[r.Key()]) })
			break
		}
		// The last read is at the deadline, not an interval before it.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(opts.Interval, time.Until(deadline))):
		}
	}
	h := &Health{Healthy: true, Timeout: opts.Timeout, TimedOut: timedOut}
	for _, s := range states {
		if s.result.Status == status.CurrentStatus {
			h.Ready++
			continue
		}
		h.Healthy = false
		oh := ObjectHealth{Object: s.ref, Status: string(s.result.Status), Message: s.result.Message}
		if s.obj != nil {
			oh.Conditions = conditions(s.obj)
			oh.Pods, oh.Events = c.why(ctx, s.obj, opts.Events)
		}
		h.Unhealthy = append(h.Unhealthy, oh)
	}
	slices.SortFunc(h.Unhealthy, func(a, b ObjectHealth) int { return compareRefs(a.Object, b.Object) })
	return h, nil
}

// readRefs reads the objects with one LIST per resource and namespace.
func (c *Client) readRefs(ctx context.Context, refs []ObjectRef) (map[string]*unstructured.Unstructured, error) {
	type bucket struct {
		m  *meta.RESTMapping
		ns string
	}
	buckets := map[string]bucket{}
	for _, r := range refs {
		m, err := c.mapping(r.GroupVersionKind())
		if err != nil {
			continue
		}
		buckets[m.Resource.String()+"/"+r.Namespace] = bucket{m, r.Namespace}
	}
	out := map[string]*unstructured.Unstructured{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, b := range buckets {
		g.Go(func() error {
			items, err := c.list(gctx, b.m, b.ns)
			if err != nil {
				return fmt.Errorf("list %s in %q: %w", b.m.Resource.Resource, b.ns, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, u := range items {
				out[RefOf(u).Key()] = u
			}
			return nil
		})
	}
	return out, g.Wait()
}

func conditions(u *unstructured.Unstructured) []Condition {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var out []Condition
	for _, r := range raw {
		m, _ := r.(map[string]any)
		s := func(k string) string { v, _ := m[k].(string); return v }
		out = append(out, Condition{Type: s("type"), Status: s("status"), Reason: s("reason"), Message: s("message")})
	}
	return out
}

// why gathers what explains an unhealthy object: for a workload its pods
// that are not ready, and the n most recent events of the object and of
// the first n of those pods. Errors only leave the explanation shorter.
func (c *Client) why(ctx context.Context, u *unstructured.Unstructured, n int) (pods, events []string) {
	involved := []corev1.ObjectReference{{Kind: u.GetKind(), Name: u.GetName(), UID: u.GetUID()}}
	sel, found, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
	if found && len(sel) > 0 && u.GetNamespace() != "" {
		l, err := c.typed.CoreV1().Pods(u.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(sel).String()})
		if err == nil {
			for _, p := range l.Items {
				if ready, why := podReady(&p); !ready {
					pods = append(pods, fmt.Sprintf("Pod/%s/%s %s: %s", p.Namespace, p.Name, p.Status.Phase, why))
					if len(involved) <= n {
						involved = append(involved, corev1.ObjectReference{Kind: "Pod", Name: p.Name, UID: p.UID})
					}
				}
			}
		}
	}
	// Events of a cluster-scoped object are recorded in the default
	// namespace.
	ns := u.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	var evs []corev1.Event
	for _, o := range involved {
		evs = append(evs, c.eventsOf(ctx, ns, o)...)
	}
	sort.SliceStable(evs, func(i, j int) bool { return lastSeen(evs[i]).After(lastSeen(evs[j])) })
	for i, e := range evs {
		if i == n {
			break
		}
		events = append(events, fmt.Sprintf("%s %s/%s %s: %s", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, strings.TrimSpace(e.Message)))
	}
	return pods, events
}

// eventsOf lists the events of one object in ns, selected by the API
// server on the object's kind, name and, when known, UID (an earlier
// object of the same name had another).
func (c *Client) eventsOf(ctx context.Context, ns string, o corev1.ObjectReference) []corev1.Event {
	f := fields.Set{"involvedObject.kind": o.Kind, "involvedObject.name": o.Name}
	if o.UID != "" {
		f["involvedObject.uid"] = string(o.UID)
	}
	l, err := c.typed.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: f.AsSelector().String()})
	if err != nil {
		return nil
	}
	return l.Items
}

func podReady(p *corev1.Pod) (bool, string) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			if c.Status == corev1.ConditionTrue {
				return true, ""
			}
			return false, strings.TrimSpace(fmt.Sprintf("not ready (%s) %s", c.Reason, c.Message))
		}
	}
	return false, "no Ready condition"
}

func lastSeen(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
