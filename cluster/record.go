package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
)

// The apply records of an app are a ConfigMap beside its inventory, named
// RecordPrefix, the repository's hash and the app, holding the history of
// its applies as JSON, newest first. They live in the cluster they
// describe, so any replica, restarted or new, reads the same history, and
// the last applied commit tells a resync what is still to apply.
const (
	RecordPrefix = "gantry-applies-"
	recordsKey   = "records"
	recordLabel  = "gantry.dev/applies"
	// MaxRecords bounds the history kept per app.
	MaxRecords = 50
	// maxRecordObjects bounds the objects listed in one record; the counts
	// stay exact.
	maxRecordObjects = 100
)

// Result is how an apply ended.
type Result string

// The results of an apply.
const (
	// ResultRunning is an apply started and not yet recorded as ended: on
	// a replica that is not running it, the apply was cut short.
	ResultRunning   Result = "running"
	ResultSucceeded Result = "succeeded"
	// ResultFailed is an apply whose objects or prune failed.
	ResultFailed Result = "failed"
	// ResultUnhealthy is an apply whose objects applied but did not become
	// healthy within the app's healthTimeout.
	ResultUnhealthy Result = "unhealthy"
	// ResultDrifted records drift seen and not acted on; its Error says
	// which objects and fields, and who changed them.
	ResultDrifted Result = "drifted"
)

// Trigger is what started an apply.
type Trigger string

// The triggers of an apply.
const (
	TriggerMerge    Trigger = "merge"    // a push to the base branch
	TriggerResync   Trigger = "resync"   // a base head found unapplied
	TriggerCommand  Trigger = "command"  // `/gantry apply` on a pull request
	TriggerRollback Trigger = "rollback" // the previous state, after a failure
	TriggerCLI      Trigger = "cli"      // `gantry apply`
	// TriggerAcceptDrift is the apply after a drift pull request's merge:
	// Git now says what the cluster had, so it changes nothing.
	TriggerAcceptDrift Trigger = "accept-drift"
	// TriggerRestoreDrift is the apply that restores Git's state after a
	// drift pull request was closed (or answered with /gantry revert).
	TriggerRestoreDrift Trigger = "restore-drift"
	// TriggerRemediate is the restore of an app whose drift mode is
	// remediate, at once.
	TriggerRemediate Trigger = "remediate"
	// TriggerDriftNotify records drift left as it is (drift mode notify, or
	// drift no pull request can carry).
	TriggerDriftNotify Trigger = "drift"
)

// ApplyRecord is one apply of one app: what, from where, by whom, and how
// it ended.
type ApplyRecord struct {
	// ID is unique per app: the start time and the commit.
	ID         string  `json:"id"`
	Repository string  `json:"repository"`
	App        string  `json:"app"`
	Cluster    string  `json:"cluster,omitempty"`
	Trigger    Trigger `json:"trigger"`
	// PR is the pull request merged or commanded; 0 when none is known.
	PR int `json:"pr,omitempty"`
	// Commit is the commit applied.
	Commit string `json:"commit"`
	// By is who caused it: the merger, the commenter, or gantry.
	By string `json:"by,omitempty"`
	// ChangeStarted is when the change applied was begun: the first
	// commit of its pull request (zero when unknown), for lead time.
	ChangeStarted time.Time     `json:"changeStarted,omitzero"`
	Result        Result        `json:"result"`
	Error         string        `json:"error,omitempty"`
	Started       time.Time     `json:"started"`
	Duration      time.Duration `json:"durationNanos,omitempty"`
	// Counts of objects by what the apply did.
	Counts map[ChangeAction]int `json:"counts,omitempty"`
	// Changed are the objects created, configured, deleted or failed (at
	// most maxRecordObjects; Counts stay exact).
	Changed []ChangeEntry `json:"changed,omitempty"`
	// Unhealthy names the objects that were not healthy at the end.
	Unhealthy []string `json:"unhealthy,omitempty"`
	// Revert is the pull request opened to revert a failed apply.
	Revert string `json:"revert,omitempty"`
	// Interrupted says a failed apply stopped because the cluster could
	// not be reached (see Unreachable), not for anything in the app: the
	// next resync applies its commit again.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Ended reports whether the apply reached a result.
func (r ApplyRecord) Ended() bool { return r.Result != ResultRunning && r.Result != "" }

// Good reports whether the apply ended applied and healthy.
func (r ApplyRecord) Good() bool { return r.Result == ResultSucceeded }

// Records is an app's apply history, newest first.
type Records struct {
	Repository string        `json:"repository"`
	App        string        `json:"app"`
	History    []ApplyRecord `json:"history"`

	resourceVersion string
}

// Last is the newest record; ok is false when the app was never applied.
func (r *Records) Last() (ApplyRecord, bool) {
	if len(r.History) == 0 {
		return ApplyRecord{}, false
	}
	return r.History[0], true
}

// LastGood is the newest record of an apply that succeeded and was healthy.
func (r *Records) LastGood() (ApplyRecord, bool) {
	for _, h := range r.History {
		if h.Good() {
			return h, true
		}
	}
	return ApplyRecord{}, false
}

// Records reads the apply history of repo's app; an app never applied has
// none. A record ConfigMap naming another repository or app is an error.
func (c *Client) Records(ctx context.Context, repo, app string) (*Records, error) {
	if normalRepository(repo) == "" {
		return nil, fmt.Errorf("read apply records of app %s: %w", app, ErrNoRepository)
	}
	ns, name := c.opts.SystemNamespace, recordName(RecordPrefix, repo, app)
	cm, err := c.typed.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &Records{Repository: normalRepository(repo), App: app}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ConfigMap/%s/%s read apply records: %w", ns, name, err)
	}
	if got := cm.Annotations[RepositoryAnnotation]; normalRepository(got) != normalRepository(repo) || cm.Labels[AppLabel] != app {
		return nil, fmt.Errorf("ConfigMap/%s/%s read apply records of app %s of %s: %w", ns, name, app, normalRepository(repo), errForeignRecord)
	}
	rs := &Records{Repository: normalRepository(repo), App: app, resourceVersion: cm.ResourceVersion}
	if s := cm.Data[recordsKey]; s != "" {
		if err := json.Unmarshal([]byte(s), &rs.History); err != nil {
			return nil, fmt.Errorf("ConfigMap/%s/%s decode apply records: %w", ns, name, err)
		}
	}
	return rs, nil
}

// AllRecords reads the apply histories of every app of every repository
// in the cluster, for the pages and metrics.
func (c *Client) AllRecords(ctx context.Context) ([]*Records, error) {
	ns := c.opts.SystemNamespace
	list, err := c.typed.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: recordLabel + "=true"})
	if err != nil {
		return nil, fmt.Errorf("list apply records in %s: %w", ns, err)
	}
	var out []*Records
	for _, cm := range list.Items {
		rs := &Records{Repository: cm.Annotations[RepositoryAnnotation], App: cm.Labels[AppLabel], resourceVersion: cm.ResourceVersion}
		if err := json.Unmarshal([]byte(cm.Data[recordsKey]), &rs.History); err != nil {
			return nil, fmt.Errorf("ConfigMap/%s/%s decode apply records: %w", ns, cm.Name, err)
		}
		out = append(out, rs)
	}
	return out, nil
}

// Record adds rec to its app's history, or replaces the record with the
// same ID, keeping the newest MaxRecords. It retries when another writer
// changed the history meanwhile.
func (c *Client) Record(ctx context.Context, rec ApplyRecord) error {
	if normalRepository(rec.Repository) == "" {
		return fmt.Errorf("record apply of app %s: %w", rec.App, ErrNoRepository)
	}
	rec.Repository = normalRepository(rec.Repository)
	var err error
	for range 5 {
		var rs *Records
		if rs, err = c.Records(ctx, rec.Repository, rec.App); err != nil {
			return err
		}
		rs.put(rec)
		if err = c.writeRecords(ctx, rs); !errors.Is(err, ErrInventoryConflict) {
			return err
		}
	}
	return err
}

// put adds rec at the front, or replaces the record with its ID in place.
func (rs *Records) put(rec ApplyRecord) {
	for i := range rs.History {
		if rs.History[i].ID == rec.ID {
			rs.History[i] = rec
			return
		}
	}
	rs.History = append([]ApplyRecord{rec}, rs.History...)
	if len(rs.History) > MaxRecords {
		rs.History = rs.History[:MaxRecords]
	}
}

func (c *Client) writeRecords(ctx context.Context, rs *Records) error {
	b, err := json.Marshal(rs.History)
	if err != nil {
		return err
	}
	ns := c.opts.SystemNamespace
	labels := ownerLabels(rs.Repository, rs.App)
	labels[recordLabel] = "true"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: recordName(RecordPrefix, rs.Repository, rs.App), Namespace: ns, ResourceVersion: rs.resourceVersion,
			Labels: labels, Annotations: map[string]string{RepositoryAnnotation: rs.Repository},
		},
		Data: map[string]string{recordsKey: string(b)},
	}
	if rs.resourceVersion == "" {
		if err := c.ensureNamespace(ctx, ns); err != nil {
			return err
		}
		_, err = c.typed.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("ConfigMap/%s/%s write apply records: %w", ns, cm.Name, ErrInventoryConflict)
		}
	} else {
		_, err = c.typed.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			return fmt.Errorf("ConfigMap/%s/%s write apply records: %w", ns, cm.Name, ErrInventoryConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("ConfigMap/%s/%s write apply records: %w", ns, cm.Name, err)
	}
	return nil
}

// Origin says where an apply comes from, for its record.
type Origin struct {
	Cluster string
	Trigger Trigger
	PR      int
	Commit  string
	By      string
	// ChangeStarted is the first commit's time of the change applied.
	ChangeStarted time.Time
	// Resumes is the ID of a record left running by an apply whose replica
	// died: this apply's record replaces it, so the history holds one
	// record per apply and none running that no replica runs.
	Resumes string
}

// ApplyAndRecord is the one apply path of the CLI and the bot: it records the
// apply as running before changing anything, applies objs, and records how
// it ended, so an apply cut short is never without a record. The record
// is returned with the change set, even when the apply failed; an error
// writing the record fails the apply.
func (c *Client) ApplyAndRecord(ctx context.Context, app config.App, objs []*unstructured.Unstructured, opts ApplyOptions, d Origin) (*ChangeSet, ApplyRecord, error) {
	start := time.Now().UTC()
	rec := ApplyRecord{
		ID: fmt.Sprintf("%s-%s", start.Format("20060102T150405.000000000Z"), shortCommit(d.Commit)), Repository: normalRepository(opts.Repository),
		App: app.Name, Cluster: d.Cluster, Trigger: d.Trigger, PR: d.PR, Commit: d.Commit, By: d.By, ChangeStarted: d.ChangeStarted, Result: ResultRunning, Started: start,
	}
	if d.Resumes != "" {
		rec.ID = d.Resumes
	}
	if err := c.Record(ctx, rec); err != nil {
		return nil, rec, err
	}
	cs, err := c.Apply(ctx, app, objs, opts)
	rec.Duration = time.Since(start)
	fillRecord(&rec, cs, err)
	// The record is written even when the apply's context ended, and
	// when the cluster is back from an outage that cut the apply short,
	// so the record says what happened rather than "running".
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	werr := c.Record(wctx, rec)
	for wait := 250 * time.Millisecond; werr != nil && Unreachable(werr); wait = min(2*wait, 4*time.Second) {
		select {
		case <-wctx.Done():
			return cs, rec, errors.Join(err, werr)
		case <-time.After(wait):
		}
		werr = c.Record(wctx, rec)
	}
	if werr != nil {
		return cs, rec, errors.Join(err, werr)
	}
	return cs, rec, err
}

// fillRecord sets the record's result from the apply's change set and
// error.
func fillRecord(rec *ApplyRecord, cs *ChangeSet, err error) {
	switch {
	case err != nil:
		rec.Result, rec.Error, rec.Interrupted = ResultFailed, err.Error(), Unreachable(err)
	case cs != nil && cs.Health != nil && !cs.Health.Healthy:
		rec.Result = ResultUnhealthy
		rec.Error = fmt.Sprintf("%d of %d objects not healthy", len(cs.Health.Unhealthy), len(cs.Health.Unhealthy)+cs.Health.Ready)
		if cs.Health.TimedOut {
			rec.Error += fmt.Sprintf(" after %s", cs.Health.Timeout)
		}
	default:
		rec.Result = ResultSucceeded
	}
	if cs == nil {
		return
	}
	if cs.Error != "" && rec.Error == "" {
		rec.Error = cs.Error
	}
	rec.Counts = map[ChangeAction]int{}
	for _, o := range cs.Objects {
		rec.Counts[o.Action]++
		if o.Action == ChangeUnchanged || len(rec.Changed) >= maxRecordObjects {
			continue
		}
		e := o
		e.Detail = "" // the record keeps the line, not the API server's whole text
		rec.Changed = append(rec.Changed, e)
	}
	if cs.Health != nil {
		for _, u := range cs.Health.Unhealthy {
			rec.Unhealthy = append(rec.Unhealthy, u.Object.String()+": "+strings.TrimSpace(u.Status+" "+u.Message))
		}
	}
}

func shortCommit(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	if sha == "" {
		return "none"
	}
	return sha
}
