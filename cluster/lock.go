package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// A lock is a coordination.k8s.io Lease named LockPrefix+app in the
// client's SystemNamespace: every replica sees it, and the Lease's
// resourceVersion makes take and release safe against a concurrent
// replica (an update on a stale version fails with a conflict).
const (
	LockPrefix    = "gantry-lock-"
	prAnnotation  = "gantry.dev/pr"
	lockAppLabel  = AppLabel
	lockKindLabel = "gantry.dev/lock"
)

// Lock is who holds an app's lock and until when.
type Lock struct {
	// App is the locked app.
	App string `json:"app"`
	// Holder identifies the holder, e.g. "acme/gitops#123".
	Holder string `json:"holder"`
	// PR is the pull request number holding the lock, 0 when none.
	PR int `json:"pr,omitempty"`
	// Acquired is when the holder took the lock.
	Acquired time.Time `json:"acquired"`
	// Renewed is when the holder last took it again.
	Renewed time.Time `json:"renewed"`
	// Expires is when another holder may take it without a release.
	Expires time.Time `json:"expires"`
}

// LockedError is returned when another holder has the lock.
type LockedError struct{ Lock Lock }

func (e *LockedError) Error() string {
	pr := ""
	if e.Lock.PR != 0 {
		pr = fmt.Sprintf(" (#%d)", e.Lock.PR)
	}
	return fmt.Sprintf("Lease/%s: app %s is locked by %s%s until %s", LockPrefix+e.Lock.App, e.Lock.App, e.Lock.Holder, pr, e.Lock.Expires.UTC().Format(time.RFC3339))
}

// LockOptions say how long a lock lasts.
type LockOptions struct {
	// TTL is how long the lock holds without renewal. The bot renews the
	// locks of open PRs on every resync by taking them again, so a lock of
	// a PR whose closing was missed expires by itself.
	TTL time.Duration
}

// DefaultLockOptions returns a one-hour lock, renewed by the resync.
func DefaultLockOptions() LockOptions { return LockOptions{TTL: time.Hour} }

// TakeLock takes app's lock for holder (and PR), or renews it when holder
// already has it. It fails with *LockedError when another holder has a
// lock that has not expired. The returned function releases the lock if
// holder still has it.
func (c *Client) TakeLock(ctx context.Context, app, holder string, pr int, opts LockOptions) (release func(context.Context) error, err error) {
	if holder == "" {
		return nil, fmt.Errorf("Lease/%s%s: take lock: empty holder", LockPrefix, app)
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultLockOptions().TTL
	}
	leases := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace)
	now := metav1.NewMicroTime(time.Now())
	secs := int32(opts.TTL / time.Second)
	release = func(ctx context.Context) error { return c.ReleaseLock(ctx, app, holder) }
	for attempt := 0; attempt < 3; attempt++ {
		l, err := leases.Get(ctx, LockPrefix+app, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if err := c.ensureNamespace(ctx, c.opts.SystemNamespace); err != nil {
				return nil, err
			}
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
				Name: LockPrefix + app, Namespace: c.opts.SystemNamespace,
				Labels:      map[string]string{lockAppLabel: app, lockKindLabel: "true"},
				Annotations: map[string]string{prAnnotation: strconv.Itoa(pr)},
			}, Spec: coordinationv1.LeaseSpec{
				HolderIdentity: &holder, LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now,
			}}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("Lease/%s/%s take: %w", l.Namespace, l.Name, err)
			}
			return release, nil
		}
		if err != nil {
			return nil, fmt.Errorf("Lease/%s/%s%s read: %w", c.opts.SystemNamespace, LockPrefix, app, err)
		}
		cur := lockOf(app, l)
		if cur.Holder != "" && cur.Holder != holder && time.Now().Before(cur.Expires) {
			return nil, &LockedError{Lock: cur}
		}
		if cur.Holder != holder {
			l.Spec.AcquireTime = &now
		}
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, &secs, &now
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[prAnnotation] = strconv.Itoa(pr)
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("Lease/%s/%s take: %w", l.Namespace, l.Name, err)
		}
		return release, nil
	}
	// Lost every race: whoever won holds it now.
	if l, err := c.InspectLock(ctx, app); err == nil && l != nil && l.Holder != holder {
		return nil, &LockedError{Lock: *l}
	}
	return nil, fmt.Errorf("Lease/%s/%s%s take: %w", c.opts.SystemNamespace, LockPrefix, app, ErrLockContended)
}

// ErrLockContended is returned when the lock changed under every attempt
// to take it.
var ErrLockContended = errors.New("lock changed during every attempt")

// ReleaseLock releases app's lock if holder has it; an empty holder
// releases it whoever has it (`/gantry unlock`). Releasing a lock that is
// not held is not an error.
func (c *Client) ReleaseLock(ctx context.Context, app, holder string) error {
	leases := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace)
	l, err := leases.Get(ctx, LockPrefix+app, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("Lease/%s/%s%s read: %w", c.opts.SystemNamespace, LockPrefix, app, err)
	}
	if holder != "" && ptr.Deref(l.Spec.HolderIdentity, "") != holder {
		return nil
	}
	err = leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		return fmt.Errorf("Lease/%s/%s release: %w", l.Namespace, l.Name, ErrLockContended)
	}
	if err != nil {
		return fmt.Errorf("Lease/%s/%s release: %w", l.Namespace, l.Name, err)
	}
	return nil
}

// InspectLock returns app's lock, or nil when no one holds it (never taken,
// released, or expired).
func (c *Client) InspectLock(ctx context.Context, app string) (*Lock, error) {
	l, err := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace).Get(ctx, LockPrefix+app, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Lease/%s/%s%s read: %w", c.opts.SystemNamespace, LockPrefix, app, err)
	}
	lk := lockOf(app, l)
	if lk.Holder == "" || !time.Now().Before(lk.Expires) {
		return nil, nil
	}
	return &lk, nil
}

// Locks lists the locks held in the cluster, for the resync and the web
// page.
func (c *Client) Locks(ctx context.Context) ([]Lock, error) {
	l, err := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: lockKindLabel + "=true"})
	if err != nil {
		return nil, fmt.Errorf("list leases in %s: %w", c.opts.SystemNamespace, err)
	}
	var out []Lock
	for i := range l.Items {
		lk := lockOf(l.Items[i].Labels[lockAppLabel], &l.Items[i])
		if lk.Holder != "" && time.Now().Before(lk.Expires) {
			out = append(out, lk)
		}
	}
	return out, nil
}

func lockOf(app string, l *coordinationv1.Lease) Lock {
	lk := Lock{App: app, Holder: ptr.Deref(l.Spec.HolderIdentity, "")}
	lk.PR, _ = strconv.Atoi(l.Annotations[prAnnotation])
	if l.Spec.AcquireTime != nil {
		lk.Acquired = l.Spec.AcquireTime.Time
	}
	if l.Spec.RenewTime != nil {
		lk.Renewed = l.Spec.RenewTime.Time
		lk.Expires = lk.Renewed.Add(time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, 0)) * time.Second)
	}
	return lk
}
