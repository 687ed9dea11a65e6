package bot

import (
	"testing"
	"time"

	"github.com/gantryops/gantry/fixtures/soak"
)

// The reliability suite's scenarios in this package (TestSoak…) use the
// frame of fixtures/soak under these short names.

type soakRow = soak.Row

func soakLong() bool { return soak.Long() }

func soakScale[T any](short, long T) T { return soak.Scale(short, long) }

func reportSoak(t *testing.T, row soakRow) { t.Helper(); soak.Report(t, row) }

type soakClock struct{ c *soak.Clock }

func startSoakClock() *soakClock { return &soakClock{soak.Start()} }

func (c *soakClock) end(row *soakRow) { c.c.End(row) }

func (c *soakClock) elapsed() time.Duration { return c.c.Elapsed() }
