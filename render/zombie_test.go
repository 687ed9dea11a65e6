package render

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantryops/gantry/config"
)

// TestAbandonedRenderHoldsUpOnlyItsLane: a render abandoned at its
// deadline keeps running, so a render of the same lane waits for it within
// its own deadline (and fails saying why when that passes first), while
// another lane, or none, renders at once. Pushing a runaway chart again
// and again thus leaves one repository's renders running, not one a push.
func TestAbandonedRenderHoldsUpOnlyItsLane(t *testing.T) {
	// About 3 s of template loops on the machine that measured it (1.2 µs
	// an iteration); far longer than the 100ms deadline on any machine.
	root := writeFiles(t, map[string]string{
		"slow/Chart.yaml":       "apiVersion: v2\nname: slow\nversion: 0.1.0\n",
		"slow/templates/x.yaml": "{{- range until 1500 }}{{ range until 1500 }}{{ $x := add1 1 }}{{ end }}{{ end }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		"quick/cm.yaml":         "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quick\n",
	})
	slow, quick := config.App{Name: "slow", Path: "slow"}, config.App{Name: "quick", Path: "quick"}
	short := Limits{Timeout: 100 * time.Millisecond}
	if _, _, err := (&Renderer{Limits: short, Lane: "acme/ops"}).Render(t.Context(), root, slow); !errors.Is(err, ErrLimit) {
		t.Fatalf("slow render: %v, want abandoned at its deadline", err)
	}
	_, _, err := (&Renderer{Limits: short, Lane: "acme/ops"}).Render(t.Context(), root, quick)
	want := fmt.Sprintf("render not started within its time limit of %s: an earlier render of acme/ops, abandoned at its deadline, is still running", short.Timeout)
	if !errors.Is(err, ErrLimit) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("same lane while the abandoned render runs: %v, want %q", err, want)
	}
	for _, lane := range []string{"acme/other", ""} {
		if objs, _, err := (&Renderer{Limits: short, Lane: lane}).Render(t.Context(), root, quick); err != nil || len(objs) != 1 {
			t.Errorf("lane %q: %d objects, %v; want the quick app rendered at once", lane, len(objs), err)
		}
	}
	// With time enough, the same lane renders once the abandoned one ends.
	if objs, _, err := (&Renderer{Limits: Limits{Timeout: 10 * time.Minute}, Lane: "acme/ops"}).Render(t.Context(), root, quick); err != nil || len(objs) != 1 {
		t.Errorf("same lane, after the abandoned render ended: %d objects, %v", len(objs), err)
	}
	stuck.mu.Lock()
	defer stuck.mu.Unlock()
	if l := stuck.lanes["acme/ops"]; l != nil {
		t.Errorf("the lane still counts %d abandoned renders after they ended", l.n)
	}
}
