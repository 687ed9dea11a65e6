package cluster

import (
	"bytes"
	"testing"
	"time"

	"github.com/gantryops/gantry/fixtures/golden"
)

func job(ns, name string) ObjectRef {
	return ObjectRef{Group: "batch", Version: "v1", Kind: "Job", Namespace: ns, Name: name}
}

func ref(kind, ns, name string) ObjectRef {
	return ObjectRef{Version: "v1", Kind: kind, Namespace: ns, Name: name}
}

// diffSets covers every part of the diff output: counts, deletions, app
// and object errors (with characters markdown must escape), notes, Secret
// key summaries and a diff holding a code fence.
func diffSets() []*DiffSet {
	return []*DiffSet{
		{App: "web", Objects: []ObjectDiff{
			{Object: ObjectRef{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "widgets.example.com"},
				Action: ActionCreate, Diff: "+apiVersion: apiextensions.k8s.io/v1\n+kind: CustomResourceDefinition\n"},
			{Object: ref("ConfigMap", "web", "bad"), Action: ActionUpdate,
				Error: "ConfigMap/web/bad dry-run failed: admission <policy> denied | twice\nsecond line", Source: "apps/web/bad.yaml:7",
				Detail: "ConfigMap/web/bad dry-run failed: admission <policy> denied | twice\nsecond line\n```\nthe whole text"},
			{Object: ref("ConfigMap", "web", "changes"), Action: ActionUpdate, Changed: []string{"data.k", "metadata.labels.tier"},
				Diff: " data:\n-  k: before\n+  k: after\n"},
			{Object: ref("ConfigMap", "web", "fenced"), Action: ActionUpdate, Changed: []string{"data.readme"},
				Diff: " data:\n-  readme: \"```go\"\n+  readme: \"````\"\n"},
			{Object: ref("ConfigMap", "web", "kept"), Action: ActionUnchanged, Note: "not deleted: annotated gantry.dev/prune: disabled"},
			{Object: ref("ConfigMap", "web", "old"), Action: ActionDelete, Changed: []string{"(deleted)"}, Diff: "-apiVersion: v1\n-kind: ConfigMap\n"},
			{Object: ref("ConfigMap", "web", "same"), Action: ActionUnchanged},
			{Object: ref("ConfigMap", "web", "theirs"), Action: ActionConflict, Note: conflictNote(`app "web" of repository "other/gitops"`)},
			{Object: ref("Secret", "web", "creds"), Action: ActionUpdate, Changed: []string{"data.password", "data.token"},
				Diff: " data:\n-  password: (before: hidden)\n+  password: (after: hidden, changed)\n"},
			{Object: ObjectRef{Group: "example.com", Version: "v1", Kind: "Widget", Namespace: "web", Name: "w"}, Action: ActionCreate,
				Note: "not dry-run: its CustomResourceDefinition widgets.example.com is applied first", Diff: "+spec:\n+  size: 3\n"},
			{Object: job("web", "migrate"), Action: ActionUpdate, Changed: []string{"spec.template.spec.containers"},
				Note: "hook, deleted and created again (never patched) and run in pre-upgrade (weight -5); not dry-run",
				Diff: "       containers:\n-      - image: migrate:1\n+      - image: migrate:2\n"},
		}, Hooks: []HookPlan{
			{Object: job("web", "migrate"), Phase: PreUpgrade, Weight: -5},
			{Object: job("web", "smoke"), Phase: PostUpgrade},
		}},
		{App: "empty", Error: ErrEmptyRender.Error()},
		{App: "quiet", Objects: []ObjectDiff{{Object: ref("ConfigMap", "quiet", "same"), Action: ActionUnchanged}}},
	}
}

// changeSets covers every part of the apply output: each outcome, a
// failure, an unhealthy app with conditions, pods and events, a healthy
// one and one not waited for.
func changeSets() []*ChangeSet {
	return []*ChangeSet{
		{App: "web", Duration: 1500 * time.Millisecond, Pruned: false, Objects: []ChangeEntry{
			{Object: ref("ConfigMap", "web", "a"), Action: ChangeCreated},
			{Object: ref("ConfigMap", "web", "b"), Action: ChangeConfigured},
			{Object: ref("ConfigMap", "web", "c"), Action: ChangeUnchanged},
			{Object: ref("ConfigMap", "web", "d"), Action: ChangeFailed, Error: "ConfigMap/web/d apply failed: denied | <no>", Source: "apps/web/d.yaml:1",
				Detail: "ConfigMap/web/d apply failed: denied | <no> and the rest"},
		}, Health: &Health{Ready: 1, Timeout: 20 * time.Second, TimedOut: true, Unhealthy: []ObjectHealth{{
			Object: ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "api"}, Status: "Failed",
			Message:    "Progress deadline exceeded",
			Conditions: []Condition{{Type: "Progressing", Status: "False", Reason: "ProgressDeadlineExceeded", Message: "timed out"}},
			Pods:       []string{"Pod/web/api-1 Running: not ready (ContainersNotReady) readiness probe failed"},
			Events:     []string{"Normal Deployment/api ScalingReplicaSet: Scaled up replica set api-1 from 0 to 2"},
		}}}},
		{App: "api", Duration: 2 * time.Second, Pruned: true, Objects: []ChangeEntry{
			{Object: ref("ConfigMap", "api", "old"), Action: ChangeDeleted},
			{Object: ref("ConfigMap", "api", "kept"), Action: ChangeSkipped, Note: "annotated gantry.dev/prune: disabled"},
		}, Health: &Health{Healthy: true, Ready: 3}, Hooks: []HookResult{
			{HookPlan: HookPlan{Object: job("api", "migrate"), Phase: PreUpgrade, Weight: -5}, Result: HookSucceededOutcome, Duration: 1200 * time.Millisecond, Deleted: true},
			{HookPlan: HookPlan{Object: job("api", "smoke"), Phase: PostUpgrade}, Result: HookFailedOutcome, Duration: 3 * time.Second,
				Error: "hook post-upgrade Job/api/smoke failed: condition Failed: BackoffLimitExceeded: Job has reached the specified backoff limit"},
			{HookPlan: HookPlan{Object: job("api", "notify"), Phase: SyncFail}, Result: HookNotRun, Note: "the apply did not fail"},
		}},
		{App: "batch", Duration: time.Second, Error: missingNamespaces(map[string]int{"hello": 2})},
	}
}

func TestWriteGolden(t *testing.T) {
	tests := []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"diff.md", func(b *bytes.Buffer) error { return WriteDiff(b, FormatMarkdown, diffSets()) }},
		{"diff.txt", func(b *bytes.Buffer) error { return WriteDiff(b, FormatText, diffSets()) }},
		{"apply.md", func(b *bytes.Buffer) error { return WriteApply(b, FormatMarkdown, changeSets()) }},
		{"apply.txt", func(b *bytes.Buffer) error { return WriteApply(b, FormatText, changeSets()) }},
		{"diff-none.md", func(b *bytes.Buffer) error { return WriteDiff(b, FormatMarkdown, nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, tt.golden, b.String())
		})
	}
}
