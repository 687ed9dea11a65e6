package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
)

// Drift is an out-of-band change to what gantry manages: a field of the
// desired state (the render at the last applied commit, after the app's
// ignore rules) whose live value differs, or a managed object that is
// gone. Fields gantry does not set (an HPA's replicas when Git omits them,
// a mutating webhook's injections, status, defaults) are never drift: the
// comparison is over the fields a forced server-side apply dry-run of the
// desired object gives to gantry, value by value against the live object,
// both as the API server normalizes them. An object carrying
// DriftAnnotation set to DriftIgnore (in Git or live) is never compared.
const (
	// DriftAnnotation set to DriftIgnore on an object, in Git or live
	// (kubectl annotate … gantry.dev/drift=ignore), opts it out of drift
	// detection: its changes are never reported.
	DriftAnnotation = "gantry.dev/drift"
	// DriftIgnore is the value of DriftAnnotation that opts out.
	DriftIgnore = "ignore"
)

// DriftOptions tune a drift check.
type DriftOptions struct {
	// Repository is the identity of the app's repository, "owner/name"
	// (LocalRepository for the CLI): it selects the inventory, whose
	// objects are the managed ones. Required, as for Diff.
	Repository string
}

// DriftSet is the drift of one app.
type DriftSet struct {
	// Repository is the app's repository, lower-cased.
	Repository string `json:"repository"`
	// App is the app's name.
	App string `json:"app"`
	// Objects are the drifted objects, then those that could not be
	// compared (Error) and those opted out (OptedOut, listed so that the
	// opt-out stays visible, never counted as drift), sorted in apply
	// order.
	Objects []ObjectDrift `json:"objects"`
	// Error is set when the app as a whole could not be compared.
	Error string `json:"error,omitempty"`
}

// Drifted reports whether any object drifted (opted-out objects and
// objects in error aside).
func (s *DriftSet) Drifted() bool {
	return slices.ContainsFunc(s.Objects, func(o ObjectDrift) bool { return o.Drifted() })
}

// HasErrors reports whether the app, or one of its objects, could not be
// compared.
func (s *DriftSet) HasErrors() bool {
	return s.Error != "" || slices.ContainsFunc(s.Objects, func(o ObjectDrift) bool { return o.Error != "" })
}

// ObjectDrift is the drift of one managed object.
type ObjectDrift struct {
	Object ObjectRef `json:"object"`
	// Gone is a managed object deleted out of band.
	Gone bool `json:"gone,omitempty"`
	// Fields are the drifted fields, by path.
	Fields []FieldDrift `json:"fields,omitempty"`
	// Desired is the object as rendered from Git, without gantry's marks.
	// Accepted is Desired with every drifted field set to its live value
	// (removed where the live object lacks it): what accepting the drift
	// writes into Git; nil when Gone. For a Secret both carry keys only,
	// every value masked. Neither is in the JSON output.
	Desired  *unstructured.Unstructured `json:"-"`
	Accepted *unstructured.Unstructured `json:"-"`
	// OptedOut is an object carrying DriftAnnotation=ignore: not compared,
	// never reported as drift.
	OptedOut bool `json:"optedOut,omitempty"`
	// Error says why the object could not be compared (its kind is not
	// served, the dry-run failed, or another app or repository took it
	// over), object first.
	Error string `json:"error,omitempty"`
}

// Drifted reports whether the object counts as drift.
func (o ObjectDrift) Drifted() bool {
	return !o.OptedOut && o.Error == "" && (o.Gone || len(o.Fields) > 0)
}

// FieldDrift is one drifted field, with who holds it now.
type FieldDrift struct {
	// Path is readable: spec.replicas,
	// spec.template.spec.containers[name=web].image,
	// metadata.labels["app.kubernetes.io/name"].
	Path string `json:"path"`
	// Desired and Live are the values as compact JSON; HiddenValue for a
	// Secret's values; Live is "" when the live object lacks the field.
	Desired string `json:"desired"`
	Live    string `json:"live"`
	// Manager, Operation and Subresource are the managed-fields entry that
	// holds the field now (kubectl-edit, Update, ""; kubectl, Update,
	// scale); empty when no manager holds it (the field was removed).
	Manager     string `json:"manager,omitempty"`
	Operation   string `json:"operation,omitempty"`
	Subresource string `json:"subresource,omitempty"`
	// Time is when that manager last wrote the object.
	Time time.Time `json:"time,omitzero"`
	// Conflict is a field gantry's apply held and another manager took:
	// an apply without force would fail on it.
	Conflict bool `json:"conflict,omitempty"`
}

// HiddenValue stands for a Secret's value in a FieldDrift.
const HiddenValue = "(hidden)"

// Drift compares the live objects of repo's app with desired, its render
// at the last applied commit. Only objects in the app's inventory are
// managed: one never applied is no drift, and neither are hooks (deleted
// and created again by each apply). Objects gantry's apply is provably the
// last writer of are not dry-run (see upToDate), which keeps a check of an
// app where nothing drifted to its LIST requests. The returned error is
// for failures of the whole app (cluster unreachable, inventory
// unreadable, no repository).
func (c *Client) Drift(ctx context.Context, app config.App, desired []*unstructured.Unstructured, opts DriftOptions) (*DriftSet, error) {
	repo := normalRepository(opts.Repository)
	if repo == "" {
		return nil, fmt.Errorf("drift of app %s: %w", app.Name, ErrNoRepository)
	}
	set := &DriftSet{Repository: repo, App: app.Name}
	inv, err := c.Inventory(ctx, repo, app.Name)
	if err != nil {
		return nil, err
	}
	managed := map[string]bool{}
	for _, r := range inv.Objects {
		managed[r.Key()] = true
	}
	ps, err := c.plan(ctx, repo, app, desired)
	if err != nil {
		return nil, err
	}
	sp, err := splitHooks(ps, len(inv.Objects) == 0)
	if err != nil {
		set.Error = err.Error()
		return set, nil
	}
	hooks := map[int]bool{}
	for _, i := range sp.hookIdx {
		hooks[i] = true
	}
	out := make([]*ObjectDrift, len(ps))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.opts.Concurrency)
	for i, p := range ps {
		if hooks[i] || !managed[p.ref.Key()] {
			continue
		}
		g.Go(func() error {
			out[i] = c.driftOne(gctx, p, desired[i])
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, o := range out {
		if o != nil {
			set.Objects = append(set.Objects, *o)
		}
	}
	slices.SortFunc(set.Objects, func(a, b ObjectDrift) int { return compareRefs(a.Object, b.Object) })
	return set, nil
}

// driftOne compares one managed object; nil when it has not drifted.
func (c *Client) driftOne(ctx context.Context, p *planned, rendered *unstructured.Unstructured) *ObjectDrift {
	rendered = unmarked(rendered)
	d := &ObjectDrift{Object: p.ref, Desired: desiredForm(rendered)}
	switch {
	case p.conflict != "":
		d.Error = fmt.Sprintf("%s not compared: %s", p.ref, conflictNote(p.conflict))
		d.Desired = nil
		return d
	case optedOut(rendered) || optedOut(p.live):
		d.OptedOut = true
		return d
	case p.live == nil && (p.pending != "" || p.err == nil):
		// Its CRD or namespace gone counts too: the object went with it.
		d.Gone = true
		return d
	case p.err != nil:
		d.Error, _ = failure(p.err, secretValues(p.desired, p.live))
		return d
	case dryRunSkippable(p):
		return nil
	}
	desired := p.desired
	if isSecret(p.ref) {
		// As stored: stringData is write-only, so the result lacks it.
		desired = foldStringData(desired)
	}
	res, err := c.resource(p.mapping, p.ref.Namespace).Apply(ctx, p.ref.Name, desired, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
	if err != nil {
		d.Error, _ = failure(&ObjectError{Ref: p.ref, Op: "drift dry-run", Err: err}, secretValues(p.desired, p.live))
		return d
	}
	fields, paths, err := fieldDrifts(p.live, res)
	if err != nil {
		d.Error = (&ObjectError{Ref: p.ref, Op: "read managed fields", Err: err}).Error()
		return d
	}
	if len(fields) == 0 {
		return nil
	}
	d.Fields = fields
	d.Accepted = acceptedForm(rendered, p.live, paths)
	return d
}

// optedOut reports whether u carries DriftAnnotation=ignore.
func optedOut(u *unstructured.Unstructured) bool {
	return u != nil && u.GetAnnotations()[DriftAnnotation] == DriftIgnore
}

// desiredForm is the rendered object as ObjectDrift.Desired holds it: a
// copy, a Secret's values masked.
func desiredForm(rendered *unstructured.Unstructured) *unstructured.Unstructured {
	if isSecret(RefOf(rendered)) {
		return maskSecret(foldStringData(rendered))
	}
	return rendered.DeepCopy()
}
