package bot

import (
	"encoding/json"
	"os"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// The reliability suite (`make soak`): each TestSoak… scenario injects
// load and faults into the real parts and asserts nothing is lost or
// duplicated; it also reports one row of the table `make soak` prints.
// GANTRY_SOAK=long runs the long form; the default is the short form CI
// runs with every `go test`.

// soakLong says whether the long form runs.
func soakLong() bool { return os.Getenv("GANTRY_SOAK") == "long" }

// soakScale is short in the short form and long in the long one.
func soakScale[T any](short, long T) T {
	if soakLong() {
		return long
	}
	return short
}

// soakRow is one scenario's line of the reliability table.
type soakRow struct {
	Scenario string `json:"scenario"`
	Load     string `json:"load"`
	Faults   string `json:"faults"`
	Outcome  string `json:"outcome"`
	// Lost is what was lost or duplicated: "none" when nothing was.
	Lost string `json:"lost"`
	// PeakMiB is the process's peak Go memory during the scenario.
	PeakMiB float64 `json:"peakMiB"`
	Seconds float64 `json:"seconds"`
	Form    string  `json:"form"`
}

var soakMu sync.Mutex

// reportSoak appends the row to $GANTRY_SOAK_TABLE (JSON lines, read by
// hack/soaktable), or logs it when that is unset. Only a scenario that
// passed reports: a failed one says why in its test output.
func reportSoak(t *testing.T, row soakRow) {
	t.Helper()
	if t.Failed() {
		return
	}
	row.Form = soakScale("short", "long")
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("soak: %s", b)
	file := os.Getenv("GANTRY_SOAK_TABLE")
	if file == "" {
		return
	}
	soakMu.Lock()
	defer soakMu.Unlock()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}

// soakClock measures a scenario: its duration and the process's peak Go
// memory (every class of memory the runtime holds), sampled every 50ms.
type soakClock struct {
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	peak  uint64
}

func startSoakClock() *soakClock {
	c := &soakClock{start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	go func() {
		defer close(c.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			c.peak = max(c.peak, sample[0].Value.Uint64())
			select {
			case <-c.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return c
}

// end stops the clock and fills the row's seconds and peak memory.
func (c *soakClock) end(row *soakRow) {
	close(c.stop)
	<-c.done
	row.Seconds = time.Since(c.start).Seconds()
	row.PeakMiB = float64(c.peak) / (1 << 20)
}
