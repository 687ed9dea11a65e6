// Package delivery derives the delivery metrics the Git log cannot give
// from gantry's apply records, in which every apply is tied to its pull
// request: per app and cluster, deployment frequency, lead time (the
// change's first commit to applied), change failure rate (applies that
// failed, were unhealthy or were reverted) and time to restore (a failure
// to the next healthy apply).
package delivery

import (
	"slices"
	"sort"
	"time"

	"github.com/gantryops/gantry/cluster"
)

// Stats are one app's delivery metrics over the records kept.
type Stats struct {
	Repository, App, Cluster string
	// Deployments counts the applies of changes: after a merge, by
	// command, by resync, and rollbacks.
	Deployments int
	// Window is the time the records span, at least a day.
	Window time.Duration
	// PerDay is Deployments per day over Window.
	PerDay float64
	// LeadTime is the median time from a change's first commit to its
	// apply ending, over the deployments that know their change; zero
	// when none does.
	LeadTime time.Duration
	// Failures counts deployments that failed, were unhealthy or were
	// reverted; FailureRate is Failures over Deployments.
	Failures    int
	FailureRate float64
	// TimeToRestore is the mean time from a failed deployment's start to
	// the end of the next healthy apply of the app, over the failures
	// that were restored; Unrestored counts the others.
	TimeToRestore time.Duration
	Unrestored    int
}

// deployment reports whether a record is a deployment: an apply of a
// change, not a drift flow's record.
func deployment(r cluster.ApplyRecord) bool {
	switch r.Trigger {
	case cluster.TriggerMerge, cluster.TriggerCommand, cluster.TriggerResync, cluster.TriggerRollback, cluster.TriggerAcceptDrift:
		return r.Ended()
	}
	return false
}

func failed(r cluster.ApplyRecord) bool {
	return r.Result == cluster.ResultFailed || r.Result == cluster.ResultUnhealthy || r.Revert != ""
}

func ended(r cluster.ApplyRecord) time.Time { return r.Started.Add(r.Duration) }

// Compute derives the app's Stats from its history (any order) as of now.
func Compute(rs *cluster.Records, now time.Time) Stats {
	s := Stats{Repository: rs.Repository, App: rs.App}
	hist := slices.Clone(rs.History)
	sort.Slice(hist, func(i, j int) bool { return hist[i].Started.Before(hist[j].Started) })
	var leads []time.Duration
	var restores []time.Duration
	oldest := now
	for i, r := range hist {
		if s.Cluster == "" {
			s.Cluster = r.Cluster
		}
		if !deployment(r) {
			continue
		}
		s.Deployments++
		if r.Started.Before(oldest) {
			oldest = r.Started
		}
		if !r.ChangeStarted.IsZero() && ended(r).After(r.ChangeStarted) {
			leads = append(leads, ended(r).Sub(r.ChangeStarted))
		}
		if !failed(r) {
			continue
		}
		s.Failures++
		restored := false
		for _, next := range hist[i+1:] {
			if next.Good() && next.Revert == "" {
				restores = append(restores, ended(next).Sub(r.Started))
				restored = true
				break
			}
		}
		if !restored {
			s.Unrestored++
		}
	}
	s.Window = max(now.Sub(oldest), 24*time.Hour)
	s.PerDay = float64(s.Deployments) / (s.Window.Hours() / 24)
	if s.Deployments > 0 {
		s.FailureRate = float64(s.Failures) / float64(s.Deployments)
	}
	if len(leads) > 0 {
		slices.Sort(leads)
		s.LeadTime = leads[len(leads)/2]
		if len(leads)%2 == 0 {
			s.LeadTime = (leads[len(leads)/2-1] + leads[len(leads)/2]) / 2
		}
	}
	if len(restores) > 0 {
		var sum time.Duration
		for _, d := range restores {
			sum += d
		}
		s.TimeToRestore = sum / time.Duration(len(restores))
	}
	return s
}
