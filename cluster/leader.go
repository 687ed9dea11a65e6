package cluster

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderLease is the Lease, in the system namespace, that replicas of
// gantry elect their leader on.
const LeaderLease = "gantry-leader"

// LeaderLock is the lock replicas elect a leader on: the LeaderLease in
// the client's system namespace, held as identity.
func (c *Client) LeaderLock(identity string) resourcelock.Interface {
	return &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.opts.SystemNamespace, Name: LeaderLease},
		Client:     c.typed.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
}

// EnsureSystemNamespace creates the system namespace when it is missing,
// for the records written outside an apply (the leader's Lease).
func (c *Client) EnsureSystemNamespace(ctx context.Context) error {
	return c.ensureNamespace(ctx, c.opts.SystemNamespace)
}

// SystemLeases are the Leases of the client's system namespace, where
// replicas keep their shards' Leases and their heartbeats.
func (c *Client) SystemLeases() coordinationv1client.LeaseInterface {
	return c.typed.CoordinationV1().Leases(c.opts.SystemNamespace)
}
