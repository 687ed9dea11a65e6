package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The annotations that make an object a hook or place it in a wave. Helm's
// and Argo CD's are both read, so charts and Argo CD manifests apply in
// the order their authors wrote for, without edits.
const (
	HelmHookAnnotation         = "helm.sh/hook"
	HelmHookWeightAnnotation   = "helm.sh/hook-weight"
	HelmHookDeleteAnnotation   = "helm.sh/hook-delete-policy"
	ArgoHookAnnotation         = "argocd.argoproj.io/hook"
	ArgoSyncWaveAnnotation     = "argocd.argoproj.io/sync-wave"
	ArgoHookDeletionAnnotation = "argocd.argoproj.io/hook-delete-policy"
)

// HookPhase is when a hook runs, in Helm's or Argo CD's name for it.
type HookPhase string

// The phases of Helm and Argo CD. An apply runs pre-install or
// pre-upgrade, PreSync, Sync, post-install or post-upgrade, PostSync, and
// SyncFail; the others belong to operations gantry does not perform
// (delete, rollback, test) and such hooks are never applied.
const (
	PreInstall   HookPhase = "pre-install"
	PostInstall  HookPhase = "post-install"
	PreUpgrade   HookPhase = "pre-upgrade"
	PostUpgrade  HookPhase = "post-upgrade"
	PreDelete    HookPhase = "pre-delete"
	PostDelete   HookPhase = "post-delete"
	PreRollback  HookPhase = "pre-rollback"
	PostRollback HookPhase = "post-rollback"
	HelmTest     HookPhase = "test"
	PreSync      HookPhase = "PreSync"
	Sync         HookPhase = "Sync"
	PostSync     HookPhase = "PostSync"
	SyncFail     HookPhase = "SyncFail"
	// Skip is Argo CD's mark of an object that is never applied.
	Skip HookPhase = "Skip"
)

// helmPhases and argoPhases are the values each annotation accepts.
var (
	helmPhases = []HookPhase{PreInstall, PostInstall, PreUpgrade, PostUpgrade, PreDelete, PostDelete, PreRollback, PostRollback, HelmTest}
	argoPhases = []HookPhase{PreSync, Sync, PostSync, SyncFail, Skip}
)

// DeletePolicy says when a hook object is deleted, in Helm's spelling
// (Argo CD's BeforeHookCreation is read as before-hook-creation).
type DeletePolicy string

// The delete policies of Helm and Argo CD.
const (
	// BeforeHookCreation deletes the previous hook object before the new
	// one is created; the policy of a hook that names none. gantry
	// recreates every hook whatever its policy, so this one only says the
	// object is kept after it ran.
	BeforeHookCreation DeletePolicy = "before-hook-creation"
	// HookSucceeded deletes the hook object once it succeeded.
	HookSucceeded DeletePolicy = "hook-succeeded"
	// HookFailed deletes the hook object once it failed.
	HookFailed DeletePolicy = "hook-failed"
)

var argoPolicies = map[string]DeletePolicy{
	"BeforeHookCreation": BeforeHookCreation, "HookSucceeded": HookSucceeded, "HookFailed": HookFailed,
}

// Ordering is how one rendered object takes part in an apply.
type Ordering struct {
	// Wave is the Argo CD sync wave: lower waves are applied, and become
	// healthy, before higher ones. For a hook it orders hooks of one
	// phase, as Weight does.
	Wave int
	// Hook is set for a hook: an object run in its phases instead of
	// applied with the others, and not part of the app's inventory.
	Hook *Hook
}

// Hook is what an object's hook annotations say.
type Hook struct {
	// Phases are the phases the hook runs in, as annotated.
	Phases []HookPhase
	// Weight orders the hooks of one phase, lower first: Helm's
	// hook-weight, or the sync wave for an Argo CD hook.
	Weight int
	// Policies are the delete policies; never empty (before-hook-creation
	// when none is annotated, as in Helm and Argo CD).
	Policies []DeletePolicy
}

// has reports whether the hook deletes itself under policy p.
func (h *Hook) has(p DeletePolicy) bool { return slices.Contains(h.Policies, p) }

// Classify reads an object's hook and wave annotations. Argo CD's hook
// annotation takes precedence over Helm's, as in Argo CD, which reads
// Helm's only when its own is absent. A value that is not an integer, an
// unknown phase or an unknown policy is an error naming the object and
// the annotation: guessing would run a hook at the wrong time.
func Classify(u *unstructured.Unstructured) (Ordering, error) {
	ann := u.GetAnnotations()
	var o Ordering
	bad := func(key, why string) (Ordering, error) {
		return Ordering{}, fmt.Errorf("%s: annotation %s: %q %s", RefOf(u), key, ann[key], why)
	}
	if v, ok := ann[ArgoSyncWaveAnnotation]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return bad(ArgoSyncWaveAnnotation, "is not an integer")
		}
		o.Wave = n
	}
	if v, ok := ann[ArgoHookAnnotation]; ok {
		phases, unknown := phasesOf(v, argoPhases)
		if unknown != "" || len(phases) == 0 {
			return bad(ArgoHookAnnotation, fmt.Sprintf("names no Argo CD hook phase %q (want %s)", unknown, joinPhases(argoPhases)))
		}
		h := &Hook{Phases: phases, Weight: o.Wave}
		for _, p := range splitList(ann[ArgoHookDeletionAnnotation]) {
			dp, ok := argoPolicies[p]
			if !ok {
				return bad(ArgoHookDeletionAnnotation, fmt.Sprintf("names an unknown policy %q (want BeforeHookCreation, HookSucceeded or HookFailed)", p))
			}
			h.Policies = appendOnce(h.Policies, dp)
		}
		o.Hook = withDefaultPolicy(h)
		return o, nil
	}
	v, ok := ann[HelmHookAnnotation]
	if !ok {
		return o, nil
	}
	phases, unknown := phasesOf(v, helmPhases)
	switch {
	case unknown == "test-success" || unknown == "test-failure":
		// Helm 2's names of test hooks, still accepted by Helm 3.
		phases, unknown = appendOnce(phases, HelmTest), ""
	case unknown != "" || len(phases) == 0:
		return bad(HelmHookAnnotation, fmt.Sprintf("names no Helm hook %q (want %s)", unknown, joinPhases(helmPhases)))
	}
	h := &Hook{Phases: phases}
	if w, ok := ann[HelmHookWeightAnnotation]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil {
			return bad(HelmHookWeightAnnotation, "is not an integer")
		}
		h.Weight = n
	}
	for _, p := range splitList(ann[HelmHookDeleteAnnotation]) {
		dp := DeletePolicy(p)
		if dp != BeforeHookCreation && dp != HookSucceeded && dp != HookFailed {
			return bad(HelmHookDeleteAnnotation, fmt.Sprintf("names an unknown policy %q (want before-hook-creation, hook-succeeded or hook-failed)", p))
		}
		h.Policies = appendOnce(h.Policies, dp)
	}
	o.Hook = withDefaultPolicy(h)
	return o, nil
}

// withDefaultPolicy gives a hook without a delete policy Helm's and Argo
// CD's default.
func withDefaultPolicy(h *Hook) *Hook {
	if len(h.Policies) == 0 {
		h.Policies = []DeletePolicy{BeforeHookCreation}
	}
	return h
}

// phasesOf parses a comma list of phases among known; unknown is the
// first value that is not one.
func phasesOf(v string, known []HookPhase) (phases []HookPhase, unknown string) {
	for _, s := range splitList(v) {
		if !slices.Contains(known, HookPhase(s)) {
			return nil, s
		}
		phases = appendOnce(phases, HookPhase(s))
	}
	return phases, ""
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func appendOnce[T comparable](s []T, v T) []T {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func joinPhases(ps []HookPhase) string {
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = string(p)
	}
	return strings.Join(ss, ", ")
}

// HookStage is the point of an apply at which hooks run.
type HookStage int

// The stages of an apply that run hooks, in order; StageFail runs only
// when the apply failed.
const (
	StagePre HookStage = iota
	StageSync
	StagePost
	StageFail
)

// PhaseAt returns the phase in which h runs at stage s of an apply, and
// false when it does not run there. install says the app has no inventory
// yet (a first install), which selects Helm's install phases over its
// upgrade phases; Argo CD's phases do not depend on it. A hook annotated
// with both an install and an upgrade phase runs once, in the one that
// applies.
func PhaseAt(h *Hook, s HookStage, install bool) (HookPhase, bool) {
	var want []HookPhase
	switch s {
	case StagePre:
		want = []HookPhase{PreUpgrade, PreSync}
		if install {
			want[0] = PreInstall
		}
	case StageSync:
		want = []HookPhase{Sync}
	case StagePost:
		want = []HookPhase{PostUpgrade, PostSync}
		if install {
			want[0] = PostInstall
		}
	case StageFail:
		want = []HookPhase{SyncFail}
	}
	for _, p := range want {
		if slices.Contains(h.Phases, p) {
			return p, true
		}
	}
	return "", false
}

// Runs reports whether an apply ever runs h: false for a hook of delete,
// rollback or test phases only, and for Argo CD's Skip.
func (h *Hook) Runs() bool {
	if slices.Contains(h.Phases, Skip) {
		return false
	}
	for _, s := range []HookStage{StagePre, StageSync, StagePost, StageFail} {
		for _, install := range []bool{true, false} {
			if _, ok := PhaseAt(h, s, install); ok {
				return true
			}
		}
	}
	return false
}

// HookPlan is one hook an apply will run: in its phase, by weight, then
// kind and name, each deleted and created again, never patched.
type HookPlan struct {
	Object ObjectRef `json:"object"`
	Phase  HookPhase `json:"phase"`
	Weight int       `json:"weight"`
	// Policies are the hook's delete policies.
	Policies []DeletePolicy `json:"deletePolicies,omitempty"`
}

// String is e.g. "pre-upgrade Job/web/migrate (weight -5)".
func (p HookPlan) String() string {
	return fmt.Sprintf("%s %s (weight %d)", p.Phase, p.Object, p.Weight)
}

// compareHooks is the order hooks run in: stage, weight, then the order of
// every other output (kind, namespace, name).
func compareHooks(a, b HookPlan) int {
	return cmp.Or(cmp.Compare(stageOf(a.Phase), stageOf(b.Phase)), cmp.Compare(a.Weight, b.Weight), compareRefs(a.Object, b.Object))
}

// stageOf is the stage a phase belongs to.
func stageOf(p HookPhase) HookStage {
	switch p {
	case PreInstall, PreUpgrade, PreSync:
		return StagePre
	case Sync:
		return StageSync
	case PostInstall, PostUpgrade, PostSync:
		return StagePost
	}
	return StageFail
}

// planHooks lists the hooks of an apply in the order they run, each once
// per stage it runs in. install is as for PhaseAt.
func planHooks(refs []ObjectRef, hooks []*Hook, install bool) []HookPlan {
	var out []HookPlan
	for i, h := range hooks {
		if !h.Runs() {
			continue
		}
		for _, s := range []HookStage{StagePre, StageSync, StagePost, StageFail} {
			if p, ok := PhaseAt(h, s, install); ok {
				out = append(out, HookPlan{Object: refs[i], Phase: p, Weight: h.Weight, Policies: h.Policies})
			}
		}
	}
	slices.SortFunc(out, compareHooks)
	return out
}

// hookSplit is the apply order of an app's planned objects.
type hookSplit struct {
	// ordinary are the objects applied and recorded in the inventory.
	ordinary []int
	// first are the ordinary CRDs and Namespaces, applied before anything
	// else whatever their wave: hooks and objects of every wave may need
	// them, and they run nothing that waves would order.
	first []int
	// waves are the other ordinary objects by wave, ascending; waveNums
	// the waves, including those that hold only Sync hooks.
	waves    [][]int
	waveNums []int
	// hookIdx are the hooks, run or not.
	hookIdx []int
	// hooks are the hook runs in order; byKey finds a hook's object.
	hooks []HookPlan
	byKey map[string]hookObject
	// hookRefs are the refs of every rendered hook: never recorded in the
	// inventory, and never pruned while rendered.
	hookRefs []ObjectRef
}

// splitHooks classifies the planned objects into the stages of an apply.
// install is as for PhaseAt. The error names every object whose
// annotations are invalid.
func splitHooks(ps []*planned, install bool) (*hookSplit, error) {
	sp := &hookSplit{byKey: map[string]hookObject{}}
	byWave := map[int][]int{}
	var errs []error
	var hookObjs []*Hook
	for i, p := range ps {
		o, err := Classify(p.desired)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if o.Hook != nil {
			sp.hookIdx = append(sp.hookIdx, i)
			sp.hookRefs = append(sp.hookRefs, p.ref)
			sp.byKey[p.ref.Key()] = hookObject{p: p, hook: o.Hook}
			hookObjs = append(hookObjs, o.Hook)
			if o.Hook.Runs() && slices.Contains(o.Hook.Phases, Sync) {
				if _, ok := byWave[o.Hook.Weight]; !ok {
					byWave[o.Hook.Weight] = nil
				}
			}
			continue
		}
		sp.ordinary = append(sp.ordinary, i)
		if stage(p.ref) < 2 {
			sp.first = append(sp.first, i)
			continue
		}
		byWave[o.Wave] = append(byWave[o.Wave], i)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for w := range byWave {
		sp.waveNums = append(sp.waveNums, w)
	}
	slices.Sort(sp.waveNums)
	for _, w := range sp.waveNums {
		sp.waves = append(sp.waves, byWave[w])
	}
	sp.hooks = planHooks(sp.hookRefs, hookObjs, install)
	return sp, nil
}

// later are the objects after the first stage: every wave, and the hooks.
func (s *hookSplit) later() []int {
	var out []int
	for _, w := range s.waves {
		out = append(out, w...)
	}
	return append(out, s.hookIdx...)
}

// ordinaryCount counts the objects that are not hooks; an object with
// invalid annotations counts, its error is reported later.
func ordinaryCount(objs []*unstructured.Unstructured) int {
	n := 0
	for _, u := range objs {
		if o, err := Classify(u); err != nil || o.Hook == nil {
			n++
		}
	}
	return n
}

// finishHooks adds the plans that have no result yet as not run, with why.
func finishHooks(cs *ChangeSet, plans []HookPlan, why string) {
	done := map[string]bool{}
	for _, r := range cs.Hooks {
		done[r.Object.Key()+"@"+string(r.Phase)] = true
	}
	var rest []HookPlan
	for _, p := range plans {
		if !done[p.Object.Key()+"@"+string(p.Phase)] {
			rest = append(rest, p)
		}
	}
	cs.Hooks = append(cs.Hooks, notRun(rest, why)...)
}
