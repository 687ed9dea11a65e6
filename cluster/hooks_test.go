package cluster

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func annotated(ann map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("batch/v1")
	u.SetKind("Job")
	u.SetNamespace("web")
	u.SetName("migrate")
	u.SetAnnotations(ann)
	return u
}

func TestClassify(t *testing.T) {
	def := []DeletePolicy{BeforeHookCreation}
	tests := []struct {
		name string
		ann  map[string]string
		want Ordering
		// err is a part of the error; the object and annotation are
		// checked for every error.
		err string
	}{
		{name: "plain object", want: Ordering{}},
		{name: "wave alone", ann: map[string]string{ArgoSyncWaveAnnotation: "-2"}, want: Ordering{Wave: -2}},
		{name: "helm pre-upgrade, default policy", ann: map[string]string{HelmHookAnnotation: "pre-upgrade"},
			want: Ordering{Hook: &Hook{Phases: []HookPhase{PreUpgrade}, Policies: def}}},
		{name: "helm list with spaces, weight, two policies",
			ann:  map[string]string{HelmHookAnnotation: "pre-install, pre-upgrade", HelmHookWeightAnnotation: " -5 ", HelmHookDeleteAnnotation: "before-hook-creation,hook-succeeded"},
			want: Ordering{Hook: &Hook{Phases: []HookPhase{PreInstall, PreUpgrade}, Weight: -5, Policies: []DeletePolicy{BeforeHookCreation, HookSucceeded}}}},
		{name: "helm test", ann: map[string]string{HelmHookAnnotation: "test"},
			want: Ordering{Hook: &Hook{Phases: []HookPhase{HelmTest}, Policies: def}}},
		{name: "helm 2 test name", ann: map[string]string{HelmHookAnnotation: "test-success"},
			want: Ordering{Hook: &Hook{Phases: []HookPhase{HelmTest}, Policies: def}}},
		{name: "argo PreSync weighs by its wave", ann: map[string]string{ArgoHookAnnotation: "PreSync", ArgoSyncWaveAnnotation: "3", ArgoHookDeletionAnnotation: "HookSucceeded"},
			want: Ordering{Wave: 3, Hook: &Hook{Phases: []HookPhase{PreSync}, Weight: 3, Policies: []DeletePolicy{HookSucceeded}}}},
		{name: "argo wins over helm", ann: map[string]string{ArgoHookAnnotation: "PostSync", HelmHookAnnotation: "pre-install", HelmHookWeightAnnotation: "not read"},
			want: Ordering{Hook: &Hook{Phases: []HookPhase{PostSync}, Policies: def}}},
		{name: "argo skip", ann: map[string]string{ArgoHookAnnotation: "Skip"},
			want: Ordering{Hook: &Hook{Phases: []HookPhase{Skip}, Policies: def}}},
		{name: "weight not an integer", ann: map[string]string{HelmHookAnnotation: "pre-upgrade", HelmHookWeightAnnotation: "high"},
			err: `annotation helm.sh/hook-weight: "high" is not an integer`},
		{name: "wave not an integer", ann: map[string]string{ArgoSyncWaveAnnotation: "1.5"},
			err: `annotation argocd.argoproj.io/sync-wave: "1.5" is not an integer`},
		{name: "unknown helm phase", ann: map[string]string{HelmHookAnnotation: "pre-upgrade,pre-instal"},
			err: `names no Helm hook "pre-instal"`},
		{name: "argo phase in helm's case", ann: map[string]string{ArgoHookAnnotation: "presync"},
			err: `names no Argo CD hook phase "presync"`},
		{name: "empty helm hook", ann: map[string]string{HelmHookAnnotation: " "},
			err: `annotation helm.sh/hook: " "`},
		{name: "unknown helm policy", ann: map[string]string{HelmHookAnnotation: "post-install", HelmHookDeleteAnnotation: "HookSucceeded"},
			err: `unknown policy "HookSucceeded"`},
		{name: "unknown argo policy", ann: map[string]string{ArgoHookAnnotation: "Sync", ArgoHookDeletionAnnotation: "hook-succeeded"},
			err: `unknown policy "hook-succeeded"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Classify(annotated(tt.ann))
			if tt.err != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.err)
				}
				if !strings.HasPrefix(err.Error(), "Job/web/migrate: annotation ") || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %q, want it to start with the object and annotation and hold %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestPhaseAt(t *testing.T) {
	both := &Hook{Phases: []HookPhase{PreInstall, PreUpgrade}}
	post := &Hook{Phases: []HookPhase{PostInstall}}
	argo := &Hook{Phases: []HookPhase{PreSync, PostSync}}
	tests := []struct {
		name    string
		hook    *Hook
		stage   HookStage
		install bool
		want    HookPhase // "" when it does not run
	}{
		{"first install runs pre-install", both, StagePre, true, PreInstall},
		{"upgrade runs pre-upgrade", both, StagePre, false, PreUpgrade},
		{"pre hooks do not run post", both, StagePost, false, ""},
		{"post-install on install", post, StagePost, true, PostInstall},
		{"post-install not on upgrade", post, StagePost, false, ""},
		{"PreSync on install", argo, StagePre, true, PreSync},
		{"PreSync on upgrade", argo, StagePre, false, PreSync},
		{"PostSync", argo, StagePost, false, PostSync},
		{"no SyncFail", argo, StageFail, false, ""},
		{"SyncFail", &Hook{Phases: []HookPhase{SyncFail}}, StageFail, false, SyncFail},
		{"Sync in its stage", &Hook{Phases: []HookPhase{Sync}}, StageSync, true, Sync},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := PhaseAt(tt.hook, tt.stage, tt.install)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("PhaseAt = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestHookRuns(t *testing.T) {
	for _, tt := range []struct {
		phases []HookPhase
		want   bool
	}{
		{[]HookPhase{PreUpgrade}, true},
		{[]HookPhase{SyncFail}, true},
		{[]HookPhase{PreDelete, PostRollback}, false},
		{[]HookPhase{HelmTest}, false},
		{[]HookPhase{Skip}, false},
		{[]HookPhase{Skip, PreSync}, false},
	} {
		if got := (&Hook{Phases: tt.phases}).Runs(); got != tt.want {
			t.Errorf("%v Runs = %v, want %v", tt.phases, got, tt.want)
		}
	}
}

// TestPlanHooksOrder holds the order hooks run in: stage, then weight,
// then kind and name; a hook of two stages runs in each.
func TestPlanHooksOrder(t *testing.T) {
	j := func(name string) ObjectRef { return job("web", name) }
	refs := []ObjectRef{j("post"), j("late"), j("early"), ref("ConfigMap", "web", "early"), j("both"), j("test"), j("fail")}
	hooks := []*Hook{
		{Phases: []HookPhase{PostUpgrade}, Weight: -10},
		{Phases: []HookPhase{PreUpgrade}, Weight: 5},
		{Phases: []HookPhase{PreUpgrade}, Weight: -5},
		{Phases: []HookPhase{PreUpgrade}, Weight: -5},
		{Phases: []HookPhase{PreSync, PostSync}},
		{Phases: []HookPhase{HelmTest}},
		{Phases: []HookPhase{SyncFail}, Weight: -100},
	}
	var got []string
	for _, p := range planHooks(refs, hooks, false) {
		got = append(got, p.String())
	}
	want := []string{
		"pre-upgrade ConfigMap/web/early (weight -5)",
		"pre-upgrade Job/web/early (weight -5)",
		"PreSync Job/web/both (weight 0)",
		"pre-upgrade Job/web/late (weight 5)",
		"post-upgrade Job/web/post (weight -10)",
		"PostSync Job/web/both (weight 0)",
		"SyncFail Job/web/fail (weight -100)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
