// Package pause waits for a duration, or until a context ends: the wait
// between retries, shared so that every retry loop stops when its job is
// cancelled.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx ends, and then returns ctx's error.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
