package cluster

import (
	"context"
	"testing"
	"time"
)

// TestApplyResumingARecordReplacesIt: an apply that resumes a record left
// running writes its result under that record's ID, so the history keeps
// one record for the apply.
func TestApplyResumingARecordReplacesIt(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	c := newClient(t)
	opts := DefaultApplyOptions(testRepo)
	opts.Wait = false
	if err := c.Record(ctx, ApplyRecord{ID: "cut-short", Repository: testRepo, App: app.Name, Commit: "c1", Result: ResultRunning, Started: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	objs := objects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: {{ns}}}\ndata: {k: v}\n")
	_, rec, err := c.ApplyAndRecord(ctx, app, objs, opts, Origin{Trigger: TriggerResync, Commit: "c1", Resumes: "cut-short"})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.Records(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ID != "cut-short" || len(rs.History) != 1 || rs.History[0].ID != "cut-short" || rs.History[0].Result != ResultSucceeded {
		t.Errorf("record %s, history %+v: want the one record cut-short, succeeded", rec.ID, rs.History)
	}
}
