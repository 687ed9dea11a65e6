package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/gantryops/gantry/config"
)

// ChangeAction is what apply did to one object.
type ChangeAction string

// The outcomes of an apply.
const (
	ChangeCreated    ChangeAction = "created"
	ChangeConfigured ChangeAction = "configured"
	ChangeUnchanged  ChangeAction = "unchanged"
	ChangeDeleted    ChangeAction = "deleted"
	// ChangeSkipped is an object prune kept (opt-out annotation, another
	// owner).
	ChangeSkipped ChangeAction = "skipped"
	// ChangeNotApplied is an object an apply that stopped early never
	// sent; its note says why.
	ChangeNotApplied ChangeAction = "not applied"
	ChangeFailed     ChangeAction = "failed"
	// ChangeLeft is an object the app no longer renders, left in the
	// cluster because this apply does not prune: said, never silent.
	ChangeLeft ChangeAction = "left"
)

// ChangeEntry is the outcome for one object.
type ChangeEntry struct {
	Object ObjectRef    `json:"object"`
	Action ChangeAction `json:"action"`
	Note   string       `json:"note,omitempty"`
	// Error is set when Action is failed, object first, on one line.
	Error string `json:"error,omitempty"`
	// Detail is the API server's whole text when Error shortens it.
	Detail string `json:"detail,omitempty"`
	// Source is the object's file:line in the repository, when the caller
	// knows it (see SetSources).
	Source string `json:"source,omitempty"`
}

// ChangeSet is the outcome of applying one app.
type ChangeSet struct {
	// Repository is the app's repository, lower-cased.
	Repository string `json:"repository"`
	App        string `json:"app"`
	// Objects are sorted in apply order.
	Objects []ChangeEntry `json:"objects"`
	// Pruned says whether prune ran; it does not after a failed object.
	Pruned bool `json:"pruned"`
	// Health is the wait's result, when apply waited.
	Health *Health `json:"health,omitempty"`
	// Duration is the time the apply took, prune and wait included.
	Duration time.Duration `json:"durationNanos"`
	// Error is what failed the app as a whole, said once rather than per
	// object: e.g. a namespace its objects need that no one creates.
	Error string `json:"error,omitempty"`
	// Hooks are the app's hooks in the order they ran, then those that did
	// not run, with why. Hooks are not in Objects: they are not the app's
	// inventory.
	Hooks []HookResult `json:"hooks,omitempty"`
}

// Count returns the number of objects with the action.
func (s *ChangeSet) Count(a ChangeAction) int {
	n := 0
	for _, o := range s.Objects {
		if o.Action == a {
			n++
		}
	}
	return n
}

// ApplyOptions say what apply does beyond applying.
type ApplyOptions struct {
	// Repository is the identity of the app's repository, "owner/name"
	// (compared case-insensitively; LocalRepository for the CLI): it
	// selects the inventory, marks every applied object, and decides which
	// live objects are the app's own. Required: an apply without it fails
	// with ErrNoRepository.
	Repository string
	// Prune deletes the inventory objects no longer rendered, when the app
	// enables prune and every object applied.
	Prune bool
	// Wait waits for the applied objects to become healthy.
	Wait bool
	// Health tunes the wait. Its Timeout, when set, overrides the app's
	// HealthTimeout (a caller's bound, e.g. a test's); zero, as in
	// DefaultApplyOptions, waits as long as the app says.
	Health WaitOptions
	// Reapply sends every object even when upToDate proves the apply a
	// no-op; a repair tool for a cluster whose API server changed defaults.
	Reapply bool
	// CRDTimeout bounds the wait for the app's CRDs to be established
	// before its custom resources are applied.
	CRDTimeout time.Duration
	// Previous is the app's render at its last applied commit, when the
	// caller has it: as for DiffOptions.Previous, apply then takes back
	// fields another manager took even in objects this apply changes.
	Previous []*unstructured.Unstructured
}

// DefaultApplyOptions returns the options of an apply of repo's apps after
// a merge.
func DefaultApplyOptions(repo string) ApplyOptions {
	health := DefaultWaitOptions()
	// The app's healthTimeout bounds the wait, not a default of gantry's.
	health.Timeout = 0
	return ApplyOptions{Repository: repo, Prune: true, Wait: true, Health: health, CRDTimeout: time.Minute}
}

// ErrApplyFailed is wrapped by the error Apply returns when objects
// failed; the ChangeSet says which.
var ErrApplyFailed = errors.New("apply failed")

// Apply applies objs for the app of opts.Repository with server-side apply
// (field manager gantry, force as the app says), in stages: CRDs, then
// Namespaces, waited for; then the pre hooks (pre-install on a first
// install, else pre-upgrade; PreSync); then the other objects by sync
// wave, each wave in parallel followed by its Sync hooks, waiting for a
// wave's health before the next when there is more than one; then prune
// and the wait for health; then the post hooks, once the app is healthy.
// A hook is deleted and created again, never patched, and a Job or Pod
// hook is waited for; a failed hook stops the apply, and any failure runs
// the SyncFail hooks. Hooks are not inventory objects: never recorded,
// never pruned (see splitHooks). Every object is labelled with the app
// and the repository; an object whose live version another app or
// repository owns fails, untouched. Before changing anything it records
// the union of the old inventory and the rendered objects, so an apply cut
// short leaves no object unrecorded; after every object applied it prunes
// and records exactly the rendered objects. The ChangeSet is returned
// even with an error, whenever anything was attempted.
func (c *Client) Apply(ctx context.Context, app config.App, objs []*unstructured.Unstructured, opts ApplyOptions) (*ChangeSet, error) {
	repo := normalRepository(opts.Repository)
	if repo == "" {
		return nil, fmt.Errorf("apply app %s: %w", app.Name, ErrNoRepository)
	}
	start := time.Now()
	cs := &ChangeSet{Repository: repo, App: app.Name}
	defer func() { cs.Duration = time.Since(start) }()
	inv, err := c.Inventory(ctx, repo, app.Name)
	if err != nil {
		return nil, err
	}
	prune := opts.Prune && app.PruneEnabled()
	if ordinaryCount(objs) == 0 && len(inv.Objects) > 0 && prune && !app.AllowEmpty {
		return nil, fmt.Errorf("app %s: %w", app.Name, ErrEmptyRender)
	}
	ps, err := c.plan(ctx, repo, app, objs)
	if err != nil {
		return nil, err
	}
	attachPrevious(ps, opts.Previous, app)
	sp, err := splitHooks(ps, len(inv.Objects) == 0)
	if err != nil {
		return nil, fmt.Errorf("app %s: %w", app.Name, err)
	}
	owned := inv.Objects
	// Another owner's object is not the app's: not recorded, so never
	// pruned by it either. A hook is not recorded either; one an earlier
	// apply recorded as an ordinary object leaves the inventory here.
	rendered := ownRefs(pick(ps, sp.ordinary))
	inv.Objects = minus(union(owned, rendered), sp.hookRefs)
	if err := c.WriteInventory(ctx, inv); err != nil {
		return nil, err
	}
	timeout := healthTimeout(app, opts)
	wo := opts.Health
	wo.Timeout = timeout

	entries := make([]ChangeEntry, len(ps))
	missing := make([]string, len(ps))
	c.applyAll(ctx, app, ps, sp.first, entries, missing, opts.Reapply)
	if err := c.waitEstablished(ctx, ps, sp.first, entries, opts.CRDTimeout); err != nil {
		return cs, err
	}
	c.resolvePending(ctx, repo, app, ps, sp.later())

	res, err := c.runHooks(ctx, app, hooksAt(sp.hooks, StagePre, 0, sp.byKey), sp.byKey, timeout)
	cs.Hooks = append(cs.Hooks, res...)
	if err != nil {
		cs.Objects = collect(ps, entries, sp.ordinary, "a pre hook failed")
		return c.failed(ctx, app, cs, sp, timeout, fmt.Errorf("app %s: %w", app.Name, err))
	}
	var stopped error
	for i, w := range sp.waveNums {
		idx := sp.waves[i]
		c.applyAll(ctx, app, ps, idx, entries, missing, opts.Reapply)
		if slices.ContainsFunc(idx, func(j int) bool { return entries[j].Action == ChangeFailed }) {
			if i < len(sp.waveNums)-1 {
				stopped = fmt.Errorf("wave %d failed, later waves not applied", w)
			}
			break
		}
		res, err := c.runHooks(ctx, app, hooksAt(sp.hooks, StageSync, w, sp.byKey), sp.byKey, timeout)
		cs.Hooks = append(cs.Hooks, res...)
		if err != nil {
			stopped = err
			break
		}
		if len(sp.waveNums) > 1 && i < len(sp.waveNums)-1 {
			h, err := c.Wait(ctx, ownRefs(pick(ps, idx)), wo)
			if err != nil {
				cs.Objects = collect(ps, entries, sp.ordinary, "the wait for wave health failed")
				return cs, err
			}
			if !h.Healthy {
				cs.Health = h
				stopped = fmt.Errorf("wave %d: %d of %d objects not healthy, later waves not applied: %w", w, len(h.Unhealthy), len(h.Unhealthy)+h.Ready, ErrApplyFailed)
				break
			}
		}
	}
	why := "an earlier object failed"
	if stopped != nil {
		why = stopped.Error()
	}
	cs.Objects = collect(ps, entries, sp.ordinary, why)
	cs.Error = missingNamespaces(countNonEmpty(missing))

	var errs []error
	for _, e := range cs.Objects {
		if e.Action == ChangeFailed {
			errs = append(errs, errors.New(e.Error))
		}
	}
	if len(errs) > 0 {
		err := fmt.Errorf("app %s: %d of %d objects: %w: %w", app.Name, len(errs), len(cs.Objects), ErrApplyFailed, errors.Join(errs...))
		if cs.Error != "" {
			err = fmt.Errorf("app %s: %s: %d of %d objects: %w: %w", app.Name, cs.Error, len(errs), len(cs.Objects), ErrApplyFailed, errors.Join(errs...))
		}
		return c.failed(ctx, app, cs, sp, timeout, err)
	}
	if stopped != nil {
		return c.failed(ctx, app, cs, sp, timeout, fmt.Errorf("app %s: %w", app.Name, stopped))
	}

	all := refsOf(ps) // hooks included: a rendered hook is never pruned
	if !prune {
		left, err := c.leftBehind(ctx, repo, app, opts, owned, all)
		if err != nil {
			return cs, err
		}
		cs.Objects = append(cs.Objects, left...)
	}
	if prune {
		targets, err := c.pruneTargets(ctx, repo, app.Name, &Inventory{Objects: owned}, all)
		if err != nil {
			return cs, err
		}
		deleted := c.prune(ctx, targets)
		cs.Objects = append(cs.Objects, deleted...)
		cs.Pruned = true
		keep := rendered
		for _, e := range deleted {
			if e.Action == ChangeFailed {
				keep = append(keep, e.Object)
				errs = append(errs, errors.New(e.Error))
			}
		}
		inv.Objects = keep
		if err := c.WriteInventory(ctx, inv); err != nil {
			return cs, err
		}
	}
	sortChanges(cs.Objects)
	if len(errs) > 0 {
		return c.failed(ctx, app, cs, sp, timeout, fmt.Errorf("app %s: prune: %w: %w", app.Name, ErrApplyFailed, errors.Join(errs...)))
	}
	if opts.Wait {
		h, err := c.Wait(ctx, rendered, wo)
		if err != nil {
			return cs, err
		}
		cs.Health = h
		if !h.Healthy {
			finishHooks(cs, hooksAt(sp.hooks, StagePost, 0, sp.byKey), "the app is not healthy")
			finishHooks(cs, sp.hooks, "the apply did not fail")
			return cs, nil
		}
	}
	res, err = c.runHooks(ctx, app, hooksAt(sp.hooks, StagePost, 0, sp.byKey), sp.byKey, timeout)
	cs.Hooks = append(cs.Hooks, res...)
	if err != nil {
		return c.failed(ctx, app, cs, sp, timeout, fmt.Errorf("app %s: %w", app.Name, err))
	}
	finishHooks(cs, sp.hooks, "the apply did not fail")
	return cs, nil
}

// healthTimeout bounds the waits of an apply, hooks' included: the
// caller's bound, else the app's healthTimeout, else the default.
func healthTimeout(app config.App, opts ApplyOptions) time.Duration {
	switch {
	case opts.Health.Timeout > 0:
		return opts.Health.Timeout
	case app.HealthTimeout.D() > 0:
		return app.HealthTimeout.D()
	}
	return DefaultWaitOptions().Timeout
}

// failed runs the SyncFail hooks of an apply that failed with err, lists
// the hooks that did not run, and returns err with any SyncFail failure.
func (c *Client) failed(ctx context.Context, app config.App, cs *ChangeSet, sp *hookSplit, timeout time.Duration, err error) (*ChangeSet, error) {
	res, ferr := c.runHooks(ctx, app, hooksAt(sp.hooks, StageFail, 0, sp.byKey), sp.byKey, timeout)
	cs.Hooks = append(cs.Hooks, res...)
	finishHooks(cs, sp.hooks, "the apply failed before its phase")
	sortChanges(cs.Objects)
	if ferr != nil {
		return cs, fmt.Errorf("%w; then %w", err, ferr)
	}
	return cs, err
}

// collect returns the entries of the objects at idx; an object the apply
// did not reach is skipped, with why.
func collect(ps []*planned, entries []ChangeEntry, idx []int, why string) []ChangeEntry {
	out := make([]ChangeEntry, 0, len(idx))
	for _, i := range idx {
		e := entries[i]
		if e.Action == "" {
			e = ChangeEntry{Object: ps[i].ref, Action: ChangeNotApplied, Note: why}
		}
		out = append(out, e)
	}
	return out
}

// pick returns the planned objects at idx.
func pick(ps []*planned, idx []int) []*planned {
	out := make([]*planned, len(idx))
	for i, j := range idx {
		out[i] = ps[j]
	}
	return out
}

// applyAll applies the planned objects at idx in parallel, setting out
// and, for an object whose namespace does not exist, missing.
func (c *Client) applyAll(ctx context.Context, app config.App, ps []*planned, idx []int, out []ChangeEntry, missing []string, reapply bool) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for _, i := range idx {
		g.Go(func() error {
			out[i], missing[i] = c.applyOne(gctx, app, ps[i], reapply)
			return nil
		})
	}
	_ = g.Wait()
}

// applyOne applies one planned object; missingNS names its namespace when
// the apply failed because that does not exist.
func (c *Client) applyOne(ctx context.Context, app config.App, p *planned, reapply bool) (e ChangeEntry, missingNS string) {
	e = ChangeEntry{Object: p.ref}
	fail := func(err error) ChangeEntry {
		e.Action = ChangeFailed
		e.Error, e.Detail = failure(err, secretValues(p.desired, p.live))
		return e
	}
	if p.conflict != "" {
		return fail(&ObjectError{Ref: p.ref, Op: "apply", Err: fmt.Errorf("%w: %s", ErrOwnedElsewhere, p.conflict)}), ""
	}
	if p.err != nil {
		return fail(p.err), ""
	}
	if p.mapping == nil {
		return fail(&ObjectError{Ref: p.ref, Op: "apply", Err: fmt.Errorf("kind not served: %s", p.pending)}), ""
	}
	if !reapply && upToDate(p.desired, p.live) {
		e.Action = ChangeUnchanged
		return e, ""
	}
	res, err := c.resource(p.mapping, p.ref.Namespace).Apply(ctx, p.ref.Name, p.desired, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: app.Force,
	})
	if c.takeBack(ctx, app, p, err) {
		res, err = c.resource(p.mapping, p.ref.Namespace).Apply(ctx, p.ref.Name, p.desired, metav1.ApplyOptions{
			FieldManager: FieldManager, Force: true,
		})
		if err == nil {
			e.Note = takenNote(p.live, res, "taken back")
		}
	}
	if err != nil {
		return fail(&ObjectError{Ref: p.ref, Op: "apply", Err: err}), isMissingNamespace(err)
	}
	switch {
	case p.live == nil:
		e.Action = ChangeCreated
	case p.live.GetResourceVersion() == res.GetResourceVersion():
		e.Action = ChangeUnchanged
	default:
		e.Action = ChangeConfigured
	}
	return e, ""
}

// waitEstablished waits until the CRDs applied at idx are established and
// the Namespaces active, so the next stage can use them.
func (c *Client) waitEstablished(ctx context.Context, ps []*planned, idx []int, out []ChangeEntry, timeout time.Duration) error {
	if timeout == 0 {
		timeout = DefaultApplyOptions("").CRDTimeout
	}
	for _, i := range idx {
		p := ps[i]
		if out[i].Action == ChangeFailed || !isCRD(p.ref) {
			continue
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			u, err := c.resource(p.mapping, "").Get(ctx, p.ref.Name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			return conditionTrue(u, "Established") && c.servesVersions(p.desired), nil
		})
		if err != nil {
			return &ObjectError{Ref: p.ref, Op: "wait for established", Err: err}
		}
	}
	if len(idx) > 0 {
		c.mapper.Reset()
	}
	return nil
}

// servesVersions reports whether discovery lists every version the CRD
// serves: a CRD already established stays so while a new version is
// being added, and its custom resources at that version are applied next.
func (c *Client) servesVersions(crd *unstructured.Unstructured) bool {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		if served, _ := m["served"].(bool); !served || name == "" {
			continue
		}
		if _, err := c.mapping(schema.GroupVersionKind{Group: group, Version: name, Kind: kind}); err != nil {
			return false
		}
	}
	return true
}

// ErrOwnedElsewhere is the failure of an object whose live version another
// app or repository owns: apply leaves it as it is.
var ErrOwnedElsewhere = errors.New("owned by another app or repository")

// ownRefs returns the refs of the planned objects no one else owns.
func ownRefs(ps []*planned) []ObjectRef {
	out := make([]ObjectRef, 0, len(ps))
	for _, p := range ps {
		if p.conflict == "" {
			out = append(out, p.ref)
		}
	}
	return out
}

// resolvePending resolves the kinds of objects whose CRD was just applied
// and reads their live state.
func (c *Client) resolvePending(ctx context.Context, repo string, app config.App, ps []*planned, idx []int) {
	for _, i := range idx {
		p := ps[i]
		if p.err != nil || p.mapping != nil || p.conflict != "" {
			continue
		}
		m, err := c.mapping(p.ref.GroupVersionKind())
		if err != nil {
			p.err = &ObjectError{Ref: p.ref, Op: "resolve kind", Err: err}
			continue
		}
		p.mapping = m
		if u, err := c.resource(m, p.ref.Namespace).Get(ctx, p.ref.Name, metav1.GetOptions{}); err == nil {
			p.live = u
			if claim(p, repo, app.Name) {
				continue
			}
			p.unstable = keepUnstable(p.desired, p.live, p.unstablePaths)
			if err := applyIgnoreRules(app.Ignore, p.desired, p.live); err != nil {
				p.err = &ObjectError{Ref: p.ref, Op: "ignore rules", Err: err}
			}
			stamp(p.desired)
		} else {
			p.live = nil
		}
	}
}

// conditionTrue reports whether status.conditions has typ with status True.
func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

func sortChanges(es []ChangeEntry) {
	slices.SortFunc(es, func(a, b ChangeEntry) int { return compareRefs(a.Object, b.Object) })
}

// leftBehind lists the app's objects that are no longer rendered but still
// exist, when this apply does not prune them, saying why and how to
// delete them. They stay in the inventory, so a later pruning apply
// deletes them.
func (c *Client) leftBehind(ctx context.Context, repo string, app config.App, opts ApplyOptions, owned, rendered []ObjectRef) ([]ChangeEntry, error) {
	targets, err := c.pruneTargets(ctx, repo, app.Name, &Inventory{Objects: owned}, rendered)
	if err != nil {
		return nil, err
	}
	why := "no longer rendered, left in the cluster: apply with prune to delete it"
	if !app.PruneEnabled() {
		why = "no longer rendered, left in the cluster: the app sets prune: false"
	}
	out := make([]ChangeEntry, 0, len(targets))
	for _, t := range targets {
		note := why
		if t.keep != "" {
			note = "no longer rendered, left in the cluster: " + t.keep
		}
		out = append(out, ChangeEntry{Object: t.ref, Action: ChangeLeft, Note: note})
	}
	return out, nil
}
