package report

import (
	"fmt"
	"strings"
)

// Offline says an app was validated against shipped schemas instead of
// diffed against its cluster: nothing about the live state is known.
type Offline struct {
	// Version is the Kubernetes version validated against ("1.34");
	// Target is the cluster's own when it differs (nearest shipped).
	Version, Target string
	// Reason says why: the app targets no cluster, or its cluster could
	// not be reached (Unreachable: the diff check is then neutral, not a
	// success, since a live diff was owed).
	Reason      string
	Unreachable bool
	// Checked counts the objects a schema covered.
	Checked int
	// Unchecked names each object no schema covers, with why.
	Unchecked []string
	// NotChecked is what only the API server checks.
	NotChecked []string
}

// offlineText is the line an offline app gets in the comment and the
// diff check: what was validated, why offline, and what was not checked.
func offlineText(a App) string {
	o := a.Offline
	var b strings.Builder
	fmt.Fprintf(&b, "**Validated offline:** `%s` against Kubernetes %s", a.Name, o.Version)
	if o.Target != "" && o.Target != o.Version {
		fmt.Fprintf(&b, " (the nearest shipped schema to %s)", o.Target)
	}
	fmt.Fprintf(&b, ", no live diff: %s. %s checked against the schema", o.Reason, plural(o.Checked, "object"))
	if n := len(a.Objects); n > 0 {
		fmt.Fprintf(&b, ", %s", plural(n, "schema error"))
	}
	b.WriteString(".")
	if len(o.Unchecked) > 0 {
		b.WriteString(" Not checked: " + strings.Join(o.Unchecked, "; ") + ".")
	}
	if len(o.NotChecked) > 0 {
		b.WriteString(" Only the API server checks: " + strings.Join(o.NotChecked, "; ") + ".")
	}
	return b.String()
}

// unreachable reports whether an app was validated offline because its
// cluster could not be reached.
func (r Report) unreachable() bool {
	for _, a := range r.Apps {
		if a.Offline != nil && a.Offline.Unreachable {
			return true
		}
	}
	return false
}

// offlineApps counts the apps validated offline.
func (r Report) offlineApps() int {
	n := 0
	for _, a := range r.Apps {
		if a.Offline != nil {
			n++
		}
	}
	return n
}

// defangOffline makes an offline note's texts safe for markdown.
func defangOffline(o *Offline) *Offline {
	if o == nil {
		return nil
	}
	c := *o
	c.Reason, c.Target = Defang(c.Reason), Defang(c.Target)
	c.Unchecked = defangAll(c.Unchecked)
	return &c
}
