package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gantryops/gantry/cluster"
)

// Locks are cluster Leases, one per repository and app; a pull request
// holds the locks of the apps it changes until it closes. These are the
// bot's walks over them, shared by plan, close, unlock and resync.

// releaseLocks releases the locks the job's pull request holds (only on
// apps, when given) in every cluster, and returns the apps released.
func (s *Server) releaseLocks(ctx context.Context, j Job, apps []string) ([]string, error) {
	holder := lockHolder(j.Owner, j.Repo, j.PR)
	var released []string
	err := s.forEachLock(ctx, func(c *cluster.Client, l cluster.Lock) error {
		if l.Holder != holder || !strings.EqualFold(l.Repository, j.Owner+"/"+j.Repo) || (len(apps) > 0 && !contains(apps, l.App)) {
			return nil
		}
		if err := c.ReleaseLock(ctx, l.Key(), holder); err != nil {
			return fmt.Errorf("release lock of %s: %w", l.Key(), err)
		}
		released = append(released, "`"+l.App+"`")
		return nil
	})
	return released, err
}

// forEachLock calls fn for every lock in every configured cluster; a
// cluster that cannot be read is an error that does not stop the others.
func (s *Server) forEachLock(ctx context.Context, fn func(*cluster.Client, cluster.Lock) error) error {
	var errs []error
	for _, cc := range s.cfg.Clusters {
		c, err := s.pipe.Clusters.Get(cc.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		locks, err := c.Locks(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("locks in cluster %s: %w", cc.Name, err))
			continue
		}
		for _, l := range locks {
			errs = append(errs, fn(c, l))
		}
	}
	return errors.Join(errs...)
}

// tendLocks keeps every lock exactly as long as its pull request is open:
// the lock of an open pull request is renewed (its "last seen" moves),
// the lock of one that is not open is released. Locks never expire by
// time, so a long review never loses its lock.
func (s *Server) tendLocks(ctx context.Context, open map[string]bool, owns func(string) bool) error {
	return s.forEachLock(ctx, func(c *cluster.Client, l cluster.Lock) error {
		if l.PR == 0 || !owns(l.Repository) {
			return nil // not a pull request's lock, or another replica's shard
		}
		owner, repo, _ := strings.Cut(l.Repository, "/")
		if open[strings.ToLower(lockHolder(owner, repo, l.PR))] {
			return c.RenewLock(ctx, l.Key(), l.Holder)
		}
		s.log.Info("resync: releasing the lock of a closed pull request", "app", l.App, "repository", l.Repository, "holder", l.Holder)
		return c.ReleaseLock(ctx, l.Key(), l.Holder)
	})
}

// lockHolder is who holds a lock for a pull request: "owner/repo#n".
func lockHolder(owner, repo string, pr int) string {
	return fmt.Sprintf("%s/%s#%d", owner, repo, pr)
}
