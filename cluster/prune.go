package cluster

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// pruneTarget is an inventory object no longer rendered.
type pruneTarget struct {
	ref  ObjectRef
	live *unstructured.Unstructured
	uid  types.UID
	// keep says why prune leaves the object in place; empty when it is
	// deleted.
	keep string
}

// pruneTargets returns the objects of inv that are not rendered and still
// exist, each with the reason prune keeps it, if any: the opt-out
// annotation, or another owner (the labels name another app or another
// repository, or the object is not labelled as repo's app's at all). The
// live object of a target kept for another owner is not returned.
func (c *Client) pruneTargets(ctx context.Context, repo, app string, inv *Inventory, rendered []ObjectRef) ([]pruneTarget, error) {
	gone := minus(inv.Objects, rendered)
	out := make([]*pruneTarget, len(gone))
	var mu sync.Mutex
	var firstErr error
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for i, r := range gone {
		g.Go(func() error {
			m, err := c.mapping(r.GroupVersionKind())
			if err != nil {
				// The kind is no longer served (its CRD was removed): nothing
				// left to delete.
				return nil
			}
			u, err := c.resource(m, r.Namespace).Get(gctx, r.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = &ObjectError{Ref: r, Op: "read for prune", Err: err}
				}
				mu.Unlock()
				return nil
			}
			t := &pruneTarget{ref: r, live: normalize(u), uid: u.GetUID()}
			switch {
			case !ownedBy(u, repo, app):
				t.keep, t.live = "owned by "+ownerOf(u, repo, app), nil
			case u.GetAnnotations()[PruneAnnotation] == PruneDisabled:
				t.keep = PruneAnnotation + ": " + PruneDisabled
			case u.GetDeletionTimestamp() != nil:
				t.keep = "already being deleted"
			}
			out[i] = t
			return nil
		})
	}
	_ = g.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	var ts []pruneTarget
	for _, t := range out {
		if t != nil {
			ts = append(ts, *t)
		}
	}
	return ts, nil
}

// ownedBy reports whether u carries the marks of repo's app: the app
// label, the repository's hash label and its annotation.
func ownedBy(u *unstructured.Unstructured, repo, app string) bool {
	return u.GetLabels()[AppLabel] == app && foreignOwner(u, repo, app) == ""
}

// ownerOf describes who owns u, for an object that is not repo's app's.
func ownerOf(u *unstructured.Unstructured, repo, app string) string {
	if owner := foreignOwner(u, repo, app); owner != "" {
		return owner
	}
	return "no app (not labelled by gantry)"
}

// prune deletes the targets not kept, in parallel, with background
// propagation, and returns one entry per target.
func (c *Client) prune(ctx context.Context, targets []pruneTarget) []ChangeEntry {
	out := make([]ChangeEntry, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for i, t := range targets {
		g.Go(func() error {
			e := ChangeEntry{Object: t.ref, Action: ChangeDeleted}
			if t.keep != "" {
				e.Action, e.Note = ChangeSkipped, "not deleted: "+t.keep
				out[i] = e
				return nil
			}
			m, err := c.mapping(t.ref.GroupVersionKind())
			if err == nil {
				uid := t.uid
				bg := metav1.DeletePropagationBackground
				opts := metav1.DeleteOptions{PropagationPolicy: &bg}
				if uid != "" {
					opts.Preconditions = &metav1.Preconditions{UID: &uid}
				}
				err = c.resource(m, t.ref.Namespace).Delete(gctx, t.ref.Name, opts)
				if apierrors.IsNotFound(err) {
					err = nil
				}
			}
			if err != nil {
				e.Action, e.Error = ChangeFailed, (&ObjectError{Ref: t.ref, Op: "delete", Err: err}).Error()
			}
			out[i] = e
			return nil
		})
	}
	_ = g.Wait()
	return out
}
