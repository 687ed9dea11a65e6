package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"github.com/gantryops/gantry/config"
)

// HookOutcome is what became of one hook in an apply.
type HookOutcome string

// The outcomes of a hook.
const (
	// HookSucceededOutcome is a Job or Pod that completed, or another
	// object that was created.
	HookSucceededOutcome HookOutcome = "succeeded"
	// HookFailedOutcome is a hook that could not be created, or a Job or
	// Pod that failed or did not complete within the app's health timeout.
	HookFailedOutcome HookOutcome = "failed"
	// HookNotRun is a hook whose stage the apply did not reach (an earlier
	// failure, or an unhealthy app before post hooks).
	HookNotRun HookOutcome = "not run"
)

// HookResult is the outcome of one hook.
type HookResult struct {
	HookPlan
	Result HookOutcome `json:"result"`
	// Duration is the time from deleting the earlier object to the end of
	// the wait for completion.
	Duration time.Duration `json:"durationNanos"`
	// Deleted says the hook object was deleted after it ran, by its
	// delete policy.
	Deleted bool `json:"deleted,omitempty"`
	// Note says why a hook did not run, or what went wrong after it ran.
	Note string `json:"note,omitempty"`
	// Error is why the hook failed, object and phase first: for a Job its
	// failure condition.
	Error string `json:"error,omitempty"`
}

// ErrHookFailed is wrapped by the error Apply returns when a hook failed;
// the ChangeSet's Hooks say which.
var ErrHookFailed = errors.New("hook failed")

// hookPollInterval is how often a running hook's status is read: a hook
// is one object, and a short interval keeps a quick Job from making the
// apply wait a second for nothing.
const hookPollInterval = 200 * time.Millisecond

// runHooks runs the hooks in order, one at a time as Helm does, stopping
// at the first failure; the hooks after it are returned as not run.
func (c *Client) runHooks(ctx context.Context, app config.App, plans []HookPlan, byKey map[string]hookObject, timeout time.Duration) ([]HookResult, error) {
	out := make([]HookResult, 0, len(plans))
	for i, hp := range plans {
		ho := byKey[hp.Object.Key()]
		r := c.runHook(ctx, app, ho, hp, timeout)
		out = append(out, r)
		if r.Result == HookFailedOutcome {
			for _, rest := range plans[i+1:] {
				out = append(out, HookResult{HookPlan: rest, Result: HookNotRun, Note: "hook " + hp.Object.String() + " failed before it"})
			}
			return out, fmt.Errorf("%s: %w", r.Error, ErrHookFailed)
		}
	}
	return out, nil
}

// hookObject is a planned hook object with its annotations read.
type hookObject struct {
	p    *planned
	hook *Hook
}

// runHook deletes any earlier object of the hook and waits until it is
// gone, creates the hook, waits for a Job or Pod to complete, and applies
// the delete policy. A hook is never patched: a Job's template is
// immutable, and Helm and Argo CD recreate hooks too.
func (c *Client) runHook(ctx context.Context, app config.App, ho hookObject, hp HookPlan, timeout time.Duration) (r HookResult) {
	start := time.Now()
	r = HookResult{HookPlan: hp, Result: HookSucceededOutcome}
	defer func() { r.Duration = time.Since(start) }()
	p := ho.p
	fail := func(op string, err error) HookResult {
		msg, _ := failure(&ObjectError{Ref: p.ref, Op: op, Err: err}, secretValues(p.desired, p.live))
		r.Result, r.Error = HookFailedOutcome, fmt.Sprintf("hook %s: %s", hp.Phase, msg)
		return r
	}
	switch {
	case p.conflict != "":
		return fail("run hook", fmt.Errorf("%w: %s", ErrOwnedElsewhere, p.conflict))
	case p.err != nil:
		r.Result, r.Error = HookFailedOutcome, fmt.Sprintf("hook %s: %v", hp.Phase, p.err)
		return r
	case p.mapping == nil:
		return fail("run hook", fmt.Errorf("kind not served: %s", p.pending))
	}
	res := c.resource(p.mapping, p.ref.Namespace)
	if err := deleteAndWait(ctx, res, p.ref.Name, timeout); err != nil {
		return fail("delete earlier hook", err)
	}
	created, err := res.Apply(ctx, p.ref.Name, p.desired, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fail("create hook", err)
	}
	if why := completion(ctx, res, created, timeout); why != "" {
		r.Result, r.Error = HookFailedOutcome, fmt.Sprintf("hook %s %s failed: %s", hp.Phase, p.ref, why)
	}
	if (r.Result == HookSucceededOutcome && ho.hook.has(HookSucceeded)) || (r.Result == HookFailedOutcome && ho.hook.has(HookFailed)) {
		if err := deleteHook(ctx, res, created); err != nil {
			r.Note = joinNotes(r.Note, fmt.Sprintf("%s delete by policy failed: %v", p.ref, err))
		} else {
			r.Deleted = true
		}
	}
	return r
}

// deleteAndWait deletes the object name, if it exists, and waits until it
// is gone, so the hook is created afresh and not patched.
func deleteAndWait(ctx context.Context, res dynamic.ResourceInterface, name string, timeout time.Duration) error {
	old, err := res.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := deleteHook(ctx, res, old); err != nil {
		return err
	}
	err = wait.PollUntilContextTimeout(ctx, hookPollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		return u.GetUID() != old.GetUID(), nil
	})
	if err != nil {
		return fmt.Errorf("still there after %s: %w", timeout, err)
	}
	return nil
}

// deleteHook deletes exactly the object u (its UID), in the background so
// a Job's pods go with it.
func deleteHook(ctx context.Context, res dynamic.ResourceInterface, u *unstructured.Unstructured) error {
	bg := metav1.DeletePropagationBackground
	uid := u.GetUID()
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	if uid != "" {
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err := res.Delete(ctx, u.GetName(), opts)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone already, or another object took its name: not ours to delete.
		return nil
	}
	return err
}

// completion waits for a Job or a Pod hook to finish and returns why it
// failed, or "" when it succeeded; other kinds succeed once created.
func completion(ctx context.Context, res dynamic.ResourceInterface, created *unstructured.Unstructured, timeout time.Duration) string {
	gvk := created.GroupVersionKind()
	isJob := gvk.Group == "batch" && gvk.Kind == "Job"
	isPod := gvk.Group == "" && gvk.Kind == "Pod"
	if !isJob && !isPod {
		return ""
	}
	var why string
	err := wait.PollUntilContextTimeout(ctx, hookPollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		u, err := res.Get(ctx, created.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			why = "deleted before it completed"
			return true, nil
		}
		if err != nil {
			return false, nil // transient: read again
		}
		if u.GetUID() != created.GetUID() {
			why = "replaced by another object before it completed"
			return true, nil
		}
		done, w := finished(u)
		why = w
		return done, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err().Error()
		}
		return fmt.Sprintf("not complete after the health timeout (%s)", timeout)
	}
	return why
}

// finished reports whether a Job or Pod has finished and, when it failed,
// why: the Job's Failed condition, or the Pod's phase and its containers'
// exit.
func finished(u *unstructured.Unstructured) (done bool, why string) {
	if u.GetKind() == "Job" {
		for _, c := range conditions(u) {
			if c.Status != "True" {
				continue
			}
			switch c.Type {
			case "Complete":
				return true, ""
			case "Failed":
				return true, strings.TrimSpace(fmt.Sprintf("condition Failed: %s: %s", c.Reason, c.Message))
			}
		}
		return false, ""
	}
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	switch phase {
	case "Succeeded":
		return true, ""
	case "Failed":
		reason, _, _ := unstructured.NestedString(u.Object, "status", "reason")
		msg, _, _ := unstructured.NestedString(u.Object, "status", "message")
		return true, strings.TrimSpace(fmt.Sprintf("Pod phase Failed: %s %s", reason, msg))
	}
	return false, ""
}

// notRun lists plans as not run, with why.
func notRun(plans []HookPlan, why string) []HookResult {
	out := make([]HookResult, len(plans))
	for i, hp := range plans {
		out[i] = HookResult{HookPlan: hp, Result: HookNotRun, Note: why}
	}
	return out
}

// hooksAt returns the plans of stage s, and for StageSync of wave w only.
func hooksAt(plans []HookPlan, s HookStage, w int, byKey map[string]hookObject) []HookPlan {
	var out []HookPlan
	for _, hp := range plans {
		if stageOf(hp.Phase) != s {
			continue
		}
		if s == StageSync && byKey[hp.Object.Key()].hook.Weight != w {
			continue
		}
		out = append(out, hp)
	}
	return out
}
