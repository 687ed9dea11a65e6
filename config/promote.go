package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/gantryops/gantry/excerpt"
)

// PromoteAfter is the condition an app's apply must meet before its change
// is promoted to the next app.
type PromoteAfter string

// The promotion conditions.
const (
	// PromoteAfterHealthy promotes once the apply succeeded, was healthy,
	// and stayed healthy for the soak.
	PromoteAfterHealthy PromoteAfter = "healthy"
)

// DefaultPromoteSoak is how long an app must stay healthy after an apply
// before its change is promoted, when the app's promote sets no soak.
const DefaultPromoteSoak = 10 * time.Minute

var promoteAfters = []string{string(PromoteAfterHealthy)}

// Promote chains an app to the next one: once a merge's apply of the app
// is healthy and stays so for Soak, gantry opens a pull request making the
// same change to To's source. gantry never merges it.
type Promote struct {
	// To is the app whose source receives the change: another app of
	// the repository.
	To string `yaml:"to"`
	// After is the condition the apply must meet. Default: healthy (the
	// only one).
	After PromoteAfter `yaml:"after"`
	// Soak is how long the app must stay healthy after the apply, as a Go
	// duration, at least 0. Default: DefaultPromoteSoak.
	Soak *Duration `yaml:"soak"`
}

// SoakD is the soak time; the default when none is set.
func (p *Promote) SoakD() time.Duration {
	if p == nil || p.Soak == nil {
		return DefaultPromoteSoak
	}
	return p.Soak.D()
}

// validatePromotions checks every app's promote: a target that is another
// app of the repository, a known condition, (a negative soak never decodes), and no
// chain that leads back to where it started.
func validatePromotions(d *decoder, r *Repo) {
	byName := map[string]int{}
	for i, a := range r.Apps {
		if _, dup := byName[a.Name]; !dup {
			byName[a.Name] = i
		}
	}
	names := make([]string, 0, len(r.Apps))
	for _, a := range r.Apps {
		names = append(names, a.Name)
	}
	for i, a := range r.Apps {
		if a.Promote == nil {
			continue
		}
		f := fmt.Sprintf("apps[%d].promote", i)
		switch j, ok := byName[a.Promote.To]; {
		case a.Promote.To == "":
			d.errAt(f+".to", "missing: the app that receives this app's changes")
		case !ok:
			d.errAt(f+".to", "%s is not an app of this repository%s", excerpt.Quote(a.Promote.To), didYouMean(a.Promote.To, names))
		case j == i:
			d.errAt(f+".to", "%s is this app itself: promote to another app", excerpt.Quote(a.Promote.To))
		}
		// A negative soak is refused by Duration's decoding.
		oneOf(d, f+".after", string(a.Promote.After), promoteAfters)
	}
	for i, a := range r.Apps {
		if cycle := promoteCycle(r.Apps, byName, i); cycle != nil && a.Name == cycle[0] {
			d.errAt(fmt.Sprintf("apps[%d].promote.to", i), "the promotion chain leads back to %s: %s", excerpt.Quote(a.Name), strings.Join(cycle, " → "))
		}
	}
}

// promoteCycle is the chain from app i back to itself when following
// promote.to from it returns there, else nil. The first name is the
// cycle's smallest, so the cycle is reported once.
func promoteCycle(apps []App, byName map[string]int, i int) []string {
	chain := []string{apps[i].Name}
	seen := map[int]bool{i: true}
	for cur := i; apps[cur].Promote != nil; {
		next, ok := byName[apps[cur].Promote.To]
		if !ok || next == cur {
			return nil
		}
		chain = append(chain, apps[next].Name)
		if next == i {
			for _, n := range chain[:len(chain)-1] {
				if n < chain[0] {
					return nil
				}
			}
			return chain
		}
		if seen[next] {
			return nil // a cycle further on, reported from one of its own apps
		}
		seen[next] = true
		cur = next
	}
	return nil
}
