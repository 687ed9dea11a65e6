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
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/ptr"
)

// A lock is a coordination.k8s.io Lease in the client's SystemNamespace,
// named LockPrefix, the repository's hash and the app (see recordName),
// labelled with the app and the repository's hash and annotated with the
// repository: every replica sees it, two repositories with an app of the
// same name have two locks, and the Lease's resourceVersion makes take and
// release safe against a concurrent replica (an update on a stale version
// fails with a conflict).
//
// A lock never expires: it lives exactly as long as its holder's pull
// request is open, and is released by the pull request's closing,
// `/gantry unlock`, or a resync that finds the pull request closed. The
// Lease has no duration; its renew time is when the holder was last seen
// (a plan, or a resync finding the pull request open), for people to read.
const (
	LockPrefix    = "gantry-lock-"
	prAnnotation  = "gantry.dev/pr"
	lockKindLabel = "gantry.dev/lock"
)

// LockKey names one lock: an app of a repository.
type LockKey struct {
	// Repository is "owner/name", compared case-insensitively.
	Repository string
	// App is the app's name.
	App string
}

// name is the Lease's name.
func (k LockKey) name() string { return recordName(LockPrefix, k.Repository, k.App) }

// String is "owner/name:app", for messages.
func (k LockKey) String() string { return normalRepository(k.Repository) + ":" + k.App }

// Lock is who holds the lock of an app of a repository.
type Lock struct {
	// Repository is the locked app's repository, lower-cased.
	Repository string `json:"repository"`
	// App is the locked app.
	App string `json:"app"`
	// Holder identifies the holder, e.g. "acme/gitops#123".
	Holder string `json:"holder"`
	// PR is the pull request number holding the lock, 0 when none.
	PR int `json:"pr,omitempty"`
	// Acquired is when the holder took the lock.
	Acquired time.Time `json:"acquired"`
	// Renewed is when the holder was last seen: it took the lock again, or
	// a resync found its pull request open. It never makes the lock expire.
	Renewed time.Time `json:"renewed"`
}

// Key returns the lock's key.
func (l Lock) Key() LockKey { return LockKey{Repository: l.Repository, App: l.App} }

// LockedError is returned when another holder has the lock.
type LockedError struct{ Lock Lock }

// Error names the lock and its holder.
func (e *LockedError) Error() string {
	pr := ""
	if e.Lock.PR != 0 {
		pr = fmt.Sprintf(" (#%d)", e.Lock.PR)
	}
	return fmt.Sprintf("Lease/%s: app %s of %s is locked by %s%s", e.Lock.Key().name(), e.Lock.App, e.Lock.Repository, e.Lock.Holder, pr)
}

// ErrLockContended is returned when the lock changed under every attempt
// to take it.
var ErrLockContended = errors.New("lock changed during every attempt")

// checkKey refuses a key without a repository or an app.
func checkKey(k LockKey) error {
	if normalRepository(k.Repository) == "" {
		return fmt.Errorf("lock of app %s: %w", k.App, ErrNoRepository)
	}
	if k.App == "" {
		return fmt.Errorf("lock of repository %s: no app", normalRepository(k.Repository))
	}
	return nil
}

// TakeLock takes key's lock for holder (and PR), or renews it when holder
// already has it. It fails with *LockedError when another holder has the
// lock, however long ago that holder was last seen. The returned function
// releases the lock if holder still has it.
func (c *Client) TakeLock(ctx context.Context, key LockKey, holder string, pr int) (release func(context.Context) error, err error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	ns, name := c.opts.SystemNamespace, key.name()
	if holder == "" {
		return nil, fmt.Errorf("Lease/%s/%s take lock: empty holder", ns, name)
	}
	leases := c.typed.CoordinationV1().Leases(ns)
	now := metav1.NewMicroTime(time.Now())
	release = func(ctx context.Context) error { return c.ReleaseLock(ctx, key, holder) }
	for attempt := 0; attempt < 3; attempt++ {
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if err := c.ensureNamespace(ctx, ns); err != nil {
				return nil, err
			}
			labels := ownerLabels(key.Repository, key.App)
			labels[lockKindLabel] = "true"
			l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: ns, Labels: labels,
				Annotations: map[string]string{prAnnotation: strconv.Itoa(pr), RepositoryAnnotation: normalRepository(key.Repository)},
			}, Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder, AcquireTime: &now, RenewTime: &now}}
			_, err = leases.Create(ctx, l, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("Lease/%s/%s take: %w", ns, name, err)
			}
			return release, nil
		}
		if err != nil {
			return nil, fmt.Errorf("Lease/%s/%s read: %w", ns, name, err)
		}
		cur, err := lockOf(l)
		if err != nil || cur.Key().String() != key.String() {
			return nil, fmt.Errorf("Lease/%s/%s take lock of %s: %w", ns, name, key, errForeignRecord)
		}
		if cur.Holder != "" && cur.Holder != holder {
			return nil, &LockedError{Lock: cur}
		}
		if attempt > 0 && cur.Holder == holder {
			// The write that conflicted with this one left the lock with
			// this holder: the resync renewing it, or another job of the
			// same pull request taking it. It is held.
			return release, nil
		}
		if cur.Holder != holder {
			l.Spec.AcquireTime = &now
		}
		// A Lease written by an older gantry has a duration; a lock has none.
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &holder, nil, &now
		l.Annotations[prAnnotation] = strconv.Itoa(pr)
		_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("Lease/%s/%s take: %w", ns, name, err)
		}
		return release, nil
	}
	// Lost every race: whoever won holds it now.
	if l, err := c.InspectLock(ctx, key); err == nil && l != nil && l.Holder != holder {
		return nil, &LockedError{Lock: *l}
	}
	return nil, fmt.Errorf("Lease/%s/%s take: %w", ns, name, ErrLockContended)
}

// RenewLock records that holder, which has key's lock, is still there (the
// resync found its pull request open): the lock's Renewed time becomes
// now. It does nothing when holder does not have the lock; renewal is
// only what the page shows, never what keeps the lock.
//
// A conflict is another write of the lock at the same moment: the plan
// taking it again (which renews it), another renewal, or a release.
// Whichever it was, nothing is left for this renewal to record.
func (c *Client) RenewLock(ctx context.Context, key LockKey, holder string) error {
	leases, l, err := c.lockLease(ctx, key)
	if err != nil || l == nil || holder == "" || ptr.Deref(l.Spec.HolderIdentity, "") != holder {
		return err
	}
	ns, name := l.Namespace, l.Name
	now := metav1.NewMicroTime(time.Now())
	l.Spec.RenewTime = &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("Lease/%s/%s renew: %w", ns, name, err)
	}
	return nil
}

// lockLease reads key's Lease: nil when there is none.
func (c *Client) lockLease(ctx context.Context, key LockKey) (coordinationv1client.LeaseInterface, *coordinationv1.Lease, error) {
	if err := checkKey(key); err != nil {
		return nil, nil, err
	}
	ns, name := c.opts.SystemNamespace, key.name()
	leases := c.typed.CoordinationV1().Leases(ns)
	l, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return leases, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("Lease/%s/%s read: %w", ns, name, err)
	}
	return leases, l, nil
}

// ReleaseLock releases key's lock if holder has it; an empty holder
// releases it whoever has it (`/gantry unlock`). Releasing a lock that is
// not held is not an error.
func (c *Client) ReleaseLock(ctx context.Context, key LockKey, holder string) error {
	leases, l, err := c.lockLease(ctx, key)
	if err != nil || l == nil || (holder != "" && ptr.Deref(l.Spec.HolderIdentity, "") != holder) {
		return err
	}
	ns, name := l.Namespace, l.Name
	err = leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &l.UID, ResourceVersion: &l.ResourceVersion}})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if apierrors.IsConflict(err) {
		return fmt.Errorf("Lease/%s/%s release: %w", ns, name, ErrLockContended)
	}
	if err != nil {
		return fmt.Errorf("Lease/%s/%s release: %w", ns, name, err)
	}
	return nil
}

// InspectLock returns key's lock, or nil when no one holds it (never
// taken, or released).
func (c *Client) InspectLock(ctx context.Context, key LockKey) (*Lock, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	ns, name := c.opts.SystemNamespace, key.name()
	l, err := c.typed.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Lease/%s/%s read: %w", ns, name, err)
	}
	lk, err := lockOf(l)
	if err != nil || lk.Key().String() != key.String() {
		return nil, fmt.Errorf("Lease/%s/%s inspect lock of %s: %w", ns, name, key, errForeignRecord)
	}
	if lk.Holder == "" {
		return nil, nil
	}
	return &lk, nil
}

// Locks lists the locks held in the cluster, of every repository, for the
// resync and the web page.
func (c *Client) Locks(ctx context.Context) ([]Lock, error) {
	l, err := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: lockKindLabel + "=true"})
	if err != nil {
		return nil, fmt.Errorf("list leases in %s: %w", c.opts.SystemNamespace, err)
	}
	var out []Lock
	for i := range l.Items {
		lk, err := lockOf(&l.Items[i])
		if err != nil {
			continue // not a lock of this gantry: an older one's, or hand-made
		}
		if lk.Holder != "" {
			out = append(out, lk)
		}
	}
	return out, nil
}

// lockOf reads a Lease as a lock. A Lease without the repository
// annotation, or whose labels do not match it, is not one of gantry's
// locks.
func lockOf(l *coordinationv1.Lease) (Lock, error) {
	repo := normalRepository(l.Annotations[RepositoryAnnotation])
	app := l.Labels[AppLabel]
	if repo == "" || app == "" || l.Labels[RepositoryLabel] != RepositoryHash(repo) || l.Name != recordName(LockPrefix, repo, app) {
		return Lock{}, fmt.Errorf("Lease/%s/%s: %w", l.Namespace, l.Name, errForeignRecord)
	}
	lk := Lock{Repository: repo, App: app, Holder: ptr.Deref(l.Spec.HolderIdentity, "")}
	lk.PR, _ = strconv.Atoi(l.Annotations[prAnnotation])
	if l.Spec.AcquireTime != nil {
		lk.Acquired = l.Spec.AcquireTime.Time
	}
	if l.Spec.RenewTime != nil {
		lk.Renewed = l.Spec.RenewTime.Time
	}
	return lk, nil
}
