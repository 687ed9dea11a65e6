package delivery

import (
	"testing"
	"time"

	"github.com/gantryops/gantry/cluster"
)

func TestCompute(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	rec := func(h int, trig cluster.Trigger, res cluster.Result, mins int, changeH int, revert string) cluster.ApplyRecord {
		r := cluster.ApplyRecord{Repository: "acme/ops", App: "web", Cluster: "prod", Trigger: trig, Result: res, Started: at(h), Duration: time.Duration(mins) * time.Minute, Revert: revert}
		if changeH >= 0 {
			r.ChangeStarted = at(changeH)
		}
		return r
	}
	tests := []struct {
		name string
		hist []cluster.ApplyRecord
		now  time.Time
		want Stats
	}{
		{"no applies", nil, at(10), Stats{Repository: "acme/ops", App: "web", Window: 24 * time.Hour}},
		{"healthy merges", []cluster.ApplyRecord{
			rec(0, cluster.TriggerMerge, cluster.ResultSucceeded, 60, -1, ""),
			rec(24, cluster.TriggerMerge, cluster.ResultSucceeded, 60, 20, ""),
			rec(48, cluster.TriggerCommand, cluster.ResultSucceeded, 60, 40, ""),
			// drift records and runs cut short are not deployments
			rec(50, cluster.TriggerDriftNotify, cluster.ResultDrifted, 0, -1, ""),
			rec(60, cluster.TriggerMerge, cluster.ResultRunning, 0, -1, ""),
		}, at(72), Stats{Repository: "acme/ops", App: "web", Cluster: "prod", Deployments: 3, Window: 72 * time.Hour, PerDay: 1,
			LeadTime: 7 * time.Hour}}, // 24+1-20 = 5h and 48+1-40 = 9h: median 7h
		{"a failure restored by a revert's merge, one not restored", []cluster.ApplyRecord{
			rec(0, cluster.TriggerMerge, cluster.ResultSucceeded, 10, -1, ""),
			rec(10, cluster.TriggerMerge, cluster.ResultUnhealthy, 30, -1, "https://github/acme/ops/pull/9"),
			rec(13, cluster.TriggerMerge, cluster.ResultSucceeded, 60, -1, ""), // restored 4h after the failure began
			rec(20, cluster.TriggerMerge, cluster.ResultFailed, 5, -1, ""),
		}, at(48), Stats{Repository: "acme/ops", App: "web", Cluster: "prod", Deployments: 4, Window: 48 * time.Hour, PerDay: 2,
			Failures: 2, FailureRate: 0.5, TimeToRestore: 4 * time.Hour, Unrestored: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Records come newest first from the cluster: order must not matter.
			hist := make([]cluster.ApplyRecord, len(tt.hist))
			for i, r := range tt.hist {
				hist[len(hist)-1-i] = r
			}
			got := Compute(&cluster.Records{Repository: "acme/ops", App: "web", History: hist}, tt.now)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
