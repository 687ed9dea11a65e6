package pause

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestForEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// An hour's wait on an ended context returns its error at once (the
	// test would time out otherwise).
	if err := For(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("For on a cancelled context = %v, want context.Canceled", err)
	}
	if err := For(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("For a millisecond = %v, want nil", err)
	}
}
