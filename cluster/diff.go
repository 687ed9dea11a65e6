package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gantryops/gantry/config"

	"github.com/gantryops/gantry/change"
	"github.com/gantryops/gantry/nondet"
)

// Action is what apply does, or did, to one object.
type Action = change.Action

// The actions of a diff and an apply.
const (
	ActionCreate    = change.Create
	ActionUpdate    = change.Update
	ActionDelete    = change.Delete
	ActionUnchanged = change.Unchanged
	// ActionConflict is a rendered object whose live object another app
	// or repository owns: apply refuses it, and the diff shows who owns
	// it and nothing of its content.
	ActionConflict = change.Conflict
)

// ObjectDiff is the diff of one object.
type ObjectDiff struct {
	// Object is the object diffed.
	Object ObjectRef `json:"object"`
	// Action is what apply will do. With Error set, it is what apply
	// would have tried.
	Action Action `json:"action"`
	// Changed lists the changed fields, e.g. spec.replicas, data.password
	// (key names, never values).
	Changed []string `json:"changed,omitempty"`
	// Diff is a unified diff of the normalized YAML, live before desired,
	// Secret values masked; empty when unchanged.
	Diff string `json:"diff,omitempty"`
	// Note explains an action that is not the plain result of a dry-run,
	// e.g. a custom resource whose CRD the same app creates, or an object
	// prune keeps.
	Note string `json:"note,omitempty"`
	// Error is why the API server refused the object, object first, on
	// one line: the fields and reasons, and what to do where gantry knows.
	Error string `json:"error,omitempty"`
	// Detail is the API server's whole text when Error shortens it (an
	// immutable field's error dumps the old value); for folding away.
	Detail string `json:"detail,omitempty"`
	// Source is the object's file:line in the repository, when the caller
	// knows it (see SetSources); empty for deletions.
	Source string `json:"source,omitempty"`
	// Unstable are the object's fields that its Helm chart renders
	// differently every time, with what gantry did with each (kept the
	// live value, or took the render's and why); names only.
	Unstable []nondet.Field `json:"unstable,omitempty"`
	// Live is the object as the cluster has it, nil when it does not
	// exist or another app or repository owns it (ActionConflict); for
	// policies that judge a change against the live state. Never printed:
	// a Secret's live values are in it.
	Live *unstructured.Unstructured `json:"-"`
}

// DiffSet is the live diff of one app.
type DiffSet struct {
	// Repository is the app's repository, lower-cased.
	Repository string `json:"repository"`
	// App is the app's name.
	App string `json:"app"`
	// Objects are sorted in apply order: CRDs, Namespaces, then by kind,
	// namespace and name.
	Objects []ObjectDiff `json:"objects"`
	// Error is set when the app as a whole could not be diffed, e.g. an
	// empty render that would prune everything.
	Error string `json:"error,omitempty"`
	// Hooks are the hooks an apply would run, in the order it would run
	// them (phase, weight, kind, name); SyncFail hooks run only if the
	// apply fails. Each hook is also in Objects, not dry-run.
	Hooks []HookPlan `json:"hooks,omitempty"`
}

// Counts is the number of objects per action, and of errors.
type Counts struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Delete    int `json:"delete"`
	Unchanged int `json:"unchanged"`
	// Conflict counts the objects another app or repository owns.
	Conflict int `json:"conflict"`
	Errors   int `json:"errors"`
}

// Counts counts the set's objects by action; an object in error counts
// only as an error.
func (s *DiffSet) Counts() Counts {
	var c Counts
	for _, o := range s.Objects {
		switch {
		case o.Error != "":
			c.Errors++
		case o.Action == ActionCreate:
			c.Create++
		case o.Action == ActionUpdate:
			c.Update++
		case o.Action == ActionDelete:
			c.Delete++
		case o.Action == ActionConflict:
			c.Conflict++
		default:
			c.Unchanged++
		}
	}
	if s.Error != "" {
		c.Errors++
	}
	return c
}

// HasChanges reports whether apply would change anything.
func (s *DiffSet) HasChanges() bool {
	c := s.Counts()
	return c.Create+c.Update+c.Delete > 0
}

// HasErrors reports whether any object, or the app, failed to diff, or
// conflicts with another owner (apply would refuse it).
func (s *DiffSet) HasErrors() bool {
	c := s.Counts()
	return c.Errors+c.Conflict > 0
}

// DiffOptions tune a diff.
type DiffOptions struct {
	// Repository is the identity of the app's repository, "owner/name"
	// (compared case-insensitively; LocalRepository for the CLI). It
	// selects the app's inventory and decides which live objects are the
	// app's own. Required: a diff without it fails with ErrNoRepository.
	Repository string
	// Context is the number of unchanged lines around each change in the
	// unified diffs.
	Context int
	// Previous is the app's render at its last applied commit, when the
	// caller has it. With it, a field another manager took from gantry
	// shows as drift that applying takes back even in an object the change
	// modifies; without it, only in objects the change leaves as they were
	// (see takeBack).
	Previous []*unstructured.Unstructured
}

// DefaultDiffOptions returns the options of the PR comment and the CLI
// for repo's apps.
func DefaultDiffOptions(repo string) DiffOptions { return DiffOptions{Repository: repo, Context: 3} }

// ErrEmptyRender is returned (and set on a DiffSet) when an app rendered
// no objects but owns some: applying it would prune everything, which only
// an app with AllowEmpty may do.
var ErrEmptyRender = errors.New("render is empty; refusing to prune every object of the app (set allowEmpty to allow)")

// Diff computes what applying objs for the app of opts.Repository would
// do: a server-side apply dry-run of every object with gantry's field
// manager (except those apply would provably leave alone, see
// dryRunSkippable), compared with the live object, and a deletion for every
// inventory object no longer rendered. Objects the API server rejects
// carry their error; objects another app or repository owns are
// ActionConflict, with none of their content. The returned error is for
// failures of the whole app (cluster unreachable, inventory unreadable,
// no repository).
func (c *Client) Diff(ctx context.Context, app config.App, objs []*unstructured.Unstructured, opts DiffOptions) (*DiffSet, error) {
	repo := normalRepository(opts.Repository)
	if repo == "" {
		return nil, fmt.Errorf("diff app %s: %w", app.Name, ErrNoRepository)
	}
	set := &DiffSet{Repository: repo, App: app.Name}
	inv, err := c.Inventory(ctx, repo, app.Name)
	if err != nil {
		return nil, err
	}
	if ordinaryCount(objs) == 0 && len(inv.Objects) > 0 && app.PruneEnabled() && !app.AllowEmpty {
		set.Error = ErrEmptyRender.Error()
		return set, nil
	}
	ps, err := c.plan(ctx, repo, app, objs)
	if err != nil {
		return nil, err
	}
	attachPrevious(ps, opts.Previous, app)
	sp, err := splitHooks(ps, len(inv.Objects) == 0)
	if err != nil {
		set.Error = err.Error()
		return set, nil
	}
	set.Hooks = sp.hooks
	set.Objects = make([]ObjectDiff, len(ps))
	missing := make([]string, len(ps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for i, p := range ps {
		if ho, ok := sp.byKey[p.ref.Key()]; ok && ho.p == p {
			set.Objects[i] = diffHook(p, ho.hook, sp.hooks, opts)
			continue
		}
		g.Go(func() error {
			set.Objects[i], missing[i] = c.diffOne(gctx, app, p, opts)
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, p := range ps {
		set.Objects[i].Unstable = p.unstable
	}
	set.Error = missingNamespaces(countNonEmpty(missing))
	if app.PruneEnabled() {
		targets, err := c.pruneTargets(ctx, repo, app.Name, inv, refsOf(ps))
		if err != nil {
			return nil, err
		}
		for _, t := range targets {
			d := ObjectDiff{Object: t.ref, Action: ActionDelete, Live: t.live}
			if t.keep != "" {
				// Another owner's object is no input for this app's policies.
				d.Action, d.Note, d.Live = ActionUnchanged, "not deleted: "+t.keep, nil
			} else {
				d.Diff, d.Changed = render(t.live, nil, opts.Context), []string{"(deleted)"}
			}
			set.Objects = append(set.Objects, d)
		}
	}
	sortDiffs(set.Objects)
	return set, nil
}

// diffOne dry-runs one planned object and compares the result with the
// live object. An object whose namespace does not exist is a creation,
// previewed without a dry-run, and missingNS names the namespace so that
// the app's error says it once.
func (c *Client) diffOne(ctx context.Context, app config.App, p *planned, opts DiffOptions) (ObjectDiff, string) {
	d := ObjectDiff{Object: p.ref, Action: ActionCreate, Live: p.live}
	if p.conflict != "" {
		// Nothing of the live object: not its content, not even whether the
		// dry-run of the rendered one would change it.
		d.Action, d.Note, d.Live = ActionConflict, conflictNote(p.conflict), nil
		return d, ""
	}
	if p.live != nil {
		d.Action = ActionUpdate
	}
	if p.err != nil {
		d.Error, d.Detail = failure(p.err, secretValues(p.desired, p.live))
		return d, ""
	}
	secret := isSecret(p.ref) && p.live != nil
	if secret {
		d.Note = secretNote
	}
	if p.pending != "" || (secret && immutable(p.live)) {
		if p.pending != "" {
			d.Note = joinNotes(d.Note, "not dry-run: "+p.pending)
		} else {
			d.Note = joinNotes(d.Note, "not dry-run: the live Secret is immutable, and apply fails if any value changed")
		}
		desired := p.desired
		if isSecret(p.ref) {
			desired = foldStringData(desired)
		}
		after := normalize(applyPreview(p.live, desired))
		if p.live != nil && p.pending != "" {
			d.Note += fmt.Sprintf("; compared with the live %s object", p.live.GetAPIVersion())
		}
		compare(&d, normalize(p.live), after, opts)
		return d, ""
	}
	if dryRunSkippable(p) {
		d.Action = ActionUnchanged // applying it is a no-op: no dry-run needed
		return d, ""
	}
	desired := p.desired
	if secret {
		// The dry-run's outcome must not depend on whether a rendered value
		// equals the live one (a field conflict or an immutable field would
		// tell): it is sent with every value replaced by one placeholder.
		desired = placeholderSecret(desired)
	}
	res, err := c.resource(p.mapping, p.ref.Namespace).Apply(ctx, p.ref.Name, desired, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: app.Force, DryRun: []string{metav1.DryRunAll},
	})
	if c.takeBack(ctx, app, p, err) {
		// Drift, not an error: fields gantry applied that another manager
		// took since. The plan shows them and that applying takes them back.
		res, err = c.resource(p.mapping, p.ref.Namespace).Apply(ctx, p.ref.Name, desired, metav1.ApplyOptions{
			FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
		})
		if err == nil {
			d.Note = joinNotes(d.Note, takenNote(p.live, res, "applying takes it back"))
		}
	}
	if ns := isMissingNamespace(err); ns != "" && p.live == nil {
		d.Note = joinNotes(d.Note, fmt.Sprintf("not dry-run: namespace %s does not exist", ns))
		desired := p.desired
		if isSecret(p.ref) {
			desired = foldStringData(desired)
		}
		compare(&d, nil, normalize(applyPreview(nil, desired)), opts)
		return d, ns
	}
	if err != nil {
		d.Error, d.Detail = failure(&ObjectError{Ref: p.ref, Op: "dry-run", Err: err}, secretValues(p.desired, p.live))
		return d, ""
	}
	compare(&d, normalize(p.live), normalize(res), opts)
	return d, ""
}

// diffHook previews a hook without a dry-run: apply deletes and creates it
// again, so the API server never compares it with the live object, and a
// dry-run of a patch would fail on a Job's immutable template. The diff
// shows the rendered hook against the live one, if any; the note says
// when it runs.
func diffHook(p *planned, h *Hook, plans []HookPlan, opts DiffOptions) ObjectDiff {
	d := ObjectDiff{Object: p.ref, Action: ActionCreate, Live: p.live}
	if p.conflict != "" {
		d.Action, d.Note, d.Live = ActionConflict, conflictNote(p.conflict), nil
		return d
	}
	if p.live != nil {
		d.Action = ActionUpdate
	}
	if p.err != nil {
		d.Error, d.Detail = failure(p.err, secretValues(p.desired, p.live))
		return d
	}
	var when []string
	for _, hp := range plans {
		if hp.Object.Key() == p.ref.Key() {
			when = append(when, fmt.Sprintf("%s (weight %d)", hp.Phase, hp.Weight))
		}
	}
	if !h.Runs() {
		d.Action, d.Live = ActionUnchanged, nil
		d.Note = fmt.Sprintf("hook %s: never applied (gantry runs no delete, rollback or test phase; Argo CD's Skip is skipped)", joinPhases(h.Phases))
		return d
	}
	if len(when) == 0 {
		// Its phases exist, but not in this apply (post-install of an app
		// already installed): it stays as it is.
		d.Action, d.Live = ActionUnchanged, nil
		d.Note = fmt.Sprintf("hook %s: not run by this apply", joinPhases(h.Phases))
		return d
	}
	d.Note = "hook, deleted and created again (never patched) and run in " + strings.Join(when, ", ") + "; not dry-run"
	desired := p.desired
	if isSecret(p.ref) {
		desired = foldStringData(desired)
	}
	compare(&d, normalize(p.live), normalize(applyPreview(p.live, desired)), opts)
	return d
}

// secretNote tells a reviewer what the diff of an existing Secret shows.
const secretNote = "Secret values are neither shown nor compared: the diff shows keys added and removed, never whether a value changed"

// compare sets the action, changed fields and diff of d from the
// normalized live and desired objects. Secrets are compared with their
// values masked (see maskSecrets), so nothing of the result depends on a
// value.
func compare(d *ObjectDiff, before, after *unstructured.Unstructured, opts DiffOptions) {
	if isSecret(d.Object) {
		before, after = maskSecrets(before, after)
	}
	if before != nil && equal(before, after) {
		d.Action = ActionUnchanged
		return
	}
	d.Changed = changedPaths(objectOf(before), after.Object)
	d.Diff = unified(toYAML(before), toYAML(after), opts.Context)
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}

func objectOf(u *unstructured.Unstructured) map[string]any {
	if u == nil {
		return nil
	}
	return u.Object
}

// render is the unified diff of two normalized objects (either nil), with
// Secret values masked.
func render(before, after *unstructured.Unstructured, context int) string {
	if (before != nil && isSecret(RefOf(before))) || (after != nil && isSecret(RefOf(after))) {
		before, after = maskSecrets(before, after)
	}
	return unified(toYAML(before), toYAML(after), context)
}

func toYAML(u *unstructured.Unstructured) string {
	if u == nil {
		return ""
	}
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		return fmt.Sprintf("# cannot show as YAML: %v\n", err)
	}
	return string(b)
}

// unified returns the diff of two texts without file headers. An empty
// text has no lines, so a creation is a hunk "@@ -0,0 +1,N @@" and a
// deletion "@@ -1,N +0,0 @@".
func unified(a, b string, context int) string {
	s, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: textLines(a), B: textLines(b), FromFile: "live", ToFile: "desired", Context: context,
	})
	if err != nil {
		return ""
	}
	lines := strings.SplitAfterN(s, "\n", 3)
	if len(lines) == 3 {
		return lines[2]
	}
	return s
}

// textLines splits text into lines that keep their newline. Unlike
// difflib.SplitLines it adds no empty line after a final newline, which
// would show as a phantom context line and make an empty text one line
// long. A last line without a newline gets one, so that it prints as a
// line of its own.
func textLines(text string) []string {
	if text == "" {
		return nil
	}
	lines := strings.SplitAfter(text, "\n")
	if last := len(lines) - 1; lines[last] == "" {
		lines = lines[:last]
	} else {
		lines[last] += "\n"
	}
	return lines
}

// countNonEmpty counts the non-empty strings of ss.
func countNonEmpty(ss []string) map[string]int {
	out := map[string]int{}
	for _, s := range ss {
		if s != "" {
			out[s]++
		}
	}
	return out
}

func refsOf(ps []*planned) []ObjectRef {
	out := make([]ObjectRef, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.ref)
	}
	return out
}

func sortDiffs(ds []ObjectDiff) {
	slices.SortFunc(ds, func(a, b ObjectDiff) int { return compareRefs(a.Object, b.Object) })
}
