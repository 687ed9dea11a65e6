package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestApplyAndRecordRecordsEveryApply: an apply is recorded as running
// before it changes anything and with its result after; a failed apply
// says what failed; a new client (a restarted replica) reads the same
// history, newest first, bounded to MaxRecords.
func TestApplyAndRecordRecordsEveryApply(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	app := newApp(ns)
	c := newClient(t)
	opts := DefaultApplyOptions(testRepo)
	opts.Wait = false
	good := objects(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: {{ns}}}\ndata: {k: v}\n")
	cs, rec, err := c.ApplyAndRecord(ctx, app, good, opts, Origin{Cluster: "local", Trigger: TriggerMerge, PR: 7, Commit: "c1", By: "maria"})
	if err != nil || cs == nil {
		t.Fatalf("apply: %v", err)
	}
	if rec.Result != ResultSucceeded || rec.Counts[ChangeCreated] != 1 || len(rec.Changed) != 1 || rec.PR != 7 || rec.By != "maria" {
		t.Errorf("record %+v", rec)
	}
	// A rejected object fails the apply: recorded as failed, with why.
	bad := objects(t, ns, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: {{ns}}}\nspec: {replicas: many}\n")
	_, rec, err = c.ApplyAndRecord(ctx, app, append(good, bad...), opts, Origin{Trigger: TriggerMerge, Commit: "c2"})
	if !errors.Is(err, ErrApplyFailed) {
		t.Fatalf("apply of a bad object: %v", err)
	}
	if rec.Result != ResultFailed || !strings.Contains(rec.Error, "Deployment/"+ns+"/d") || rec.Counts[ChangeFailed] != 1 {
		t.Errorf("failed record %+v", rec)
	}
	rs, err := newClient(t).Records(ctx, testRepo, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.History) != 2 || rs.History[0].Commit != "c2" || rs.History[1].Commit != "c1" {
		t.Fatalf("history %+v", rs.History)
	}
	if last, _ := rs.LastGood(); last.Commit != "c1" {
		t.Errorf("last good %+v, want c1", last)
	}
	// The history keeps the newest MaxRecords.
	for i := range MaxRecords {
		if err := c.Record(ctx, ApplyRecord{ID: fmt.Sprint("r", i), Repository: testRepo, App: app.Name, Commit: fmt.Sprint("x", i), Result: ResultSucceeded}); err != nil {
			t.Fatal(err)
		}
	}
	rs, _ = c.Records(ctx, testRepo, app.Name)
	if len(rs.History) != MaxRecords || rs.History[0].Commit != fmt.Sprint("x", MaxRecords-1) {
		t.Errorf("%d records, newest %q", len(rs.History), rs.History[0].Commit)
	}
	// Another repository's app of the same name has a history of its own.
	if other, err := c.Records(ctx, "acme/other", app.Name); err != nil || len(other.History) != 0 {
		t.Errorf("another repository's records: %+v %v", other, err)
	}
}

// TestRecordsOfAnotherRepositoryAreRefused: a ConfigMap under an app's
// record name that names another repository is an error, never read.
func TestRecordsOfAnotherRepositoryAreRefused(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	app := newApp("")
	if err := c.Record(ctx, ApplyRecord{ID: "1", Repository: testRepo, App: app.Name, Commit: "c", Result: ResultSucceeded}); err != nil {
		t.Fatal(err)
	}
	name := recordName(RecordPrefix, testRepo, app.Name)
	cm, err := cluster.Client.CoreV1().ConfigMaps(c.opts.SystemNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Annotations[RepositoryAnnotation] = "mallory/evil"
	if _, err := cluster.Client.CoreV1().ConfigMaps(c.opts.SystemNamespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Records(ctx, testRepo, app.Name); !errors.Is(err, errForeignRecord) {
		t.Errorf("records under another repository's annotation: %v", err)
	}
}
