package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A delivery record is a coordination.k8s.io Lease named DeliveryPrefix
// plus a hash of a webhook delivery id, in the client's SystemNamespace.
// Creating it is the test-and-set every replica shares: the API server
// lets exactly one create succeed, and AlreadyExists tells the others the
// delivery was seen. The name is a hash because the id is a request header
// (GitHub does not sign headers) and must not choose an object's name. A
// Lease and not a ConfigMap: it holds no data, and its acquire time says
// when the delivery came.
const (
	DeliveryPrefix    = "gantry-delivery-"
	deliveryKindLabel = "gantry.dev/delivery"
)

// DeliveryOptions say how long delivery records are kept.
type DeliveryOptions struct {
	// TTL is how long a record outlives its delivery; SweepDeliveries
	// deletes older ones. GitHub redelivers by hand for a few days at
	// most; a delivery seen again after TTL is processed again, which
	// costs a plan, never a wrong result.
	TTL time.Duration
}

// DefaultDeliveryOptions keep records for a day.
func DefaultDeliveryOptions() DeliveryOptions { return DeliveryOptions{TTL: 24 * time.Hour} }

// DeliveryName is the name of the record of delivery id.
func DeliveryName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return DeliveryPrefix + hex.EncodeToString(sum[:20])
}

// RecordDelivery records webhook delivery id in the cluster and reports
// whether it was new: false when any replica recorded it before.
func (c *Client) RecordDelivery(ctx context.Context, id string) (bool, error) {
	name := DeliveryName(id)
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: c.opts.SystemNamespace,
			Labels: map[string]string{deliveryKindLabel: "true"},
		},
		Spec: coordinationv1.LeaseSpec{AcquireTime: &now},
	}
	leases := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace)
	for attempt := 0; ; attempt++ {
		_, err := leases.Create(ctx, lease, metav1.CreateOptions{FieldManager: FieldManager})
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsAlreadyExists(err):
			return false, nil
		case apierrors.IsNotFound(err) && attempt == 0:
			// The system namespace does not exist yet.
			if err := c.ensureNamespace(ctx, c.opts.SystemNamespace); err != nil {
				return false, fmt.Errorf("Lease/%s/%s record delivery: %w", c.opts.SystemNamespace, name, err)
			}
		default:
			return false, fmt.Errorf("Lease/%s/%s record delivery: %w", c.opts.SystemNamespace, name, err)
		}
	}
}

// SweepDeliveries deletes the delivery records created more than
// opts.TTL ago and returns how many it deleted. Every replica may sweep:
// a record another replica deleted first is not an error.
func (c *Client) SweepDeliveries(ctx context.Context, opts DeliveryOptions) (int, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultDeliveryOptions().TTL
	}
	leases := c.typed.CoordinationV1().Leases(c.opts.SystemNamespace)
	list, err := leases.List(ctx, metav1.ListOptions{LabelSelector: deliveryKindLabel + "=true"})
	if err != nil {
		return 0, fmt.Errorf("list delivery records in %s: %w", c.opts.SystemNamespace, err)
	}
	cutoff := time.Now().Add(-opts.TTL)
	n := 0
	for i := range list.Items {
		l := &list.Items[i]
		at := l.CreationTimestamp.Time
		if l.Spec.AcquireTime != nil {
			at = l.Spec.AcquireTime.Time
		}
		if !at.Before(cutoff) {
			continue
		}
		err := leases.Delete(ctx, l.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &l.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("Lease/%s/%s sweep delivery record: %w", l.Namespace, l.Name, err)
		}
		n++
	}
	return n, nil
}
