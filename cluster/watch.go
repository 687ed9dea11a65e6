package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/gantryops/gantry/config"
)

// The watcher turns writes to managed objects into drift checks, fast
// (one informer per kind, events within a second) and quiet (nothing for
// gantry's own applies, status writes, or fields gantry does not set).
//
// Managed objects are those in an inventory: the inventories are watched
// too, so a kind an apply adds is watched from then on. The objects'
// informers select gantry's app label, and an event counts only when the
// object's marks name the app whose inventory lists it.
//
// An update is gantry's own when the managed-fields entries that wrote it
// (new, newer, or holding more fields than before; status writes aside)
// are gantry's apply alone, or, when no entry shows a write (two writes in
// one second look alike), when AppliedAnnotation changed, which only
// gantry's apply sets. Any other update counts when it changed the value
// of a field gantry held at its last own write (remembered per object), so
// an HPA's replicas, a webhook's injections or a controller's annotations
// never count, while a field taken by kubectl scale keeps counting on each
// later change. A deletion always counts, gantry's prune included (the
// drift check then finds nothing). A missed event is the backstop's to
// find: the bot's periodic full comparison.

// WatchOptions tune a Watcher.
type WatchOptions struct {
	// Debounce is the window per app: an app's first change opens it,
	// changes inside it are absorbed, and OnChange is called once when it
	// closes, so flapping edits make one check. Zero:
	// config.DefaultDriftDebounce.
	Debounce time.Duration
	// OnChange is called with the repository and app of a managed object
	// that someone other than gantry's apply changed or deleted. It should
	// return quickly (enqueue the check); calls for different apps may run
	// at the same time. Required.
	OnChange func(repository, app string)
	// SyncTimeout bounds the wait of Watch and Refresh for the informers'
	// first lists, so that a kind gantry may not list (RBAC) fails the
	// call, naming it, instead of blocking it. Zero: one minute.
	SyncTimeout time.Duration
}

// Watcher watches the objects of every app with an inventory in one
// cluster. It stops when the context given to Watch ends.
type Watcher struct {
	c       *Client
	opts    WatchOptions
	ctx     context.Context
	cancel  context.CancelFunc
	objects dynamicinformer.DynamicSharedInformerFactory
	invs    cache.SharedIndexInformer

	mu sync.Mutex
	// kinds are the resources watched.
	kinds map[schema.GroupResource]cache.SharedIndexInformer
	// index maps each managed object (ObjectRef.Key) to its app.
	index map[string]appKey
	// held are the fields gantry's apply held in each object at its last
	// own write seen (or when the watch began).
	held map[string]*fieldpath.Set
	// open are the apps whose debounce window is open.
	open map[appKey]bool
}

type appKey struct{ repo, app string }

// ErrNoOnChange is returned by Watch without an OnChange function.
var ErrNoOnChange = errors.New("watch: no OnChange function given")

// Watch starts watching the managed objects of every inventory of the
// cluster, and returns once the informers have synced: later changes are
// reported through opts.OnChange until ctx ends.
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	if opts.OnChange == nil {
		return nil, ErrNoOnChange
	}
	if opts.Debounce <= 0 {
		opts.Debounce = config.DefaultDriftDebounce
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{
		c: c, opts: opts, ctx: ctx, cancel: cancel,
		objects: dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.dynamic, 0, metav1.NamespaceAll, func(o *metav1.ListOptions) {
			o.LabelSelector = AppLabel
		}),
		kinds: map[schema.GroupResource]cache.SharedIndexInformer{},
		index: map[string]appKey{},
		held:  map[string]*fieldpath.Set{},
		open:  map[appKey]bool{},
	}
	invFactory := informers.NewSharedInformerFactoryWithOptions(c.typed, 0,
		informers.WithNamespace(c.opts.SystemNamespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = inventoryLabel + "=true" }))
	w.invs = invFactory.Core().V1().ConfigMaps().Informer()
	reindex := func() {
		var cms []*corev1.ConfigMap
		for _, o := range w.invs.GetStore().List() {
			if cm, ok := o.(*corev1.ConfigMap); ok {
				cms = append(cms, cm)
			}
		}
		w.reindex(cms)
	}
	if _, err := w.invs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { reindex() },
		UpdateFunc: func(any, any) { reindex() },
		DeleteFunc: func(any) { reindex() },
	}); err != nil {
		cancel()
		return nil, fmt.Errorf("watch inventories: %w", err)
	}
	invFactory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		invFactory.Shutdown()
		w.objects.Shutdown()
	}()
	syncCtx, stop := context.WithTimeout(ctx, opts.SyncTimeout)
	defer stop()
	if !cache.WaitForCacheSync(syncCtx.Done(), w.invs.HasSynced) {
		cancel()
		return nil, fmt.Errorf("watch inventories in %s: %w", c.opts.SystemNamespace, context.Cause(syncCtx))
	}
	reindex()
	if err := w.waitSynced(syncCtx); err != nil {
		cancel() // stop the informers started so far
		return nil, err
	}
	return w, nil
}

// Refresh reads the inventories again from the API server, starts
// informers for kinds not watched yet, and waits for them to sync. The
// watcher follows inventory changes by itself; Refresh is for a caller
// that just applied and wants the new kinds watched before it returns.
func (w *Watcher) Refresh(ctx context.Context) error {
	l, err := w.c.typed.CoreV1().ConfigMaps(w.c.opts.SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: inventoryLabel + "=true"})
	if err != nil {
		return fmt.Errorf("list inventories in %s: %w", w.c.opts.SystemNamespace, err)
	}
	cms := make([]*corev1.ConfigMap, len(l.Items))
	for i := range l.Items {
		cms[i] = &l.Items[i]
	}
	w.reindex(cms)
	ctx, stop := context.WithTimeout(ctx, w.opts.SyncTimeout)
	defer stop()
	return w.waitSynced(ctx)
}

// Stop stops the watcher, as the end of Watch's context does: no
// OnChange call starts after it.
func (w *Watcher) Stop() { w.cancel() }

// waitSynced waits until every object informer has synced; the error
// names the kinds that have not.
func (w *Watcher) waitSynced(ctx context.Context) error {
	w.mu.Lock()
	kinds := maps.Clone(w.kinds)
	w.mu.Unlock()
	var synced []cache.InformerSynced
	for _, inf := range kinds {
		synced = append(synced, inf.HasSynced)
	}
	if cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	var missing []string
	for gr, inf := range kinds {
		if !inf.HasSynced() {
			missing = append(missing, gr.String())
		}
	}
	slices.Sort(missing)
	return fmt.Errorf("watch managed objects: %s not listed: %w", strings.Join(missing, ", "), context.Cause(ctx))
}

// reindex rebuilds the index of managed objects from the inventories and
// starts an informer for each kind not watched yet. An inventory that
// does not check out (its name is not its repository's and app's) is
// skipped, as is a kind the cluster no longer serves: none of its
// objects can change.
func (w *Watcher) reindex(cms []*corev1.ConfigMap) {
	index := map[string]appKey{}
	grs := map[schema.GroupKind]bool{}
	for _, cm := range cms {
		repo, app := normalRepository(cm.Annotations[RepositoryAnnotation]), cm.Labels[AppLabel]
		if repo == "" || app == "" || cm.Name != recordName(InventoryPrefix, repo, app) {
			continue
		}
		var refs []ObjectRef
		if err := json.Unmarshal([]byte(cm.Data[inventoryKey]), &refs); err != nil {
			continue
		}
		for _, r := range refs {
			index[r.Key()] = appKey{repo, app}
			grs[r.GroupVersionKind().GroupKind()] = true
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.index = index
	if w.ctx.Err() != nil {
		return
	}
	started := false
	for gk := range grs {
		m, err := w.c.mapper.RESTMapping(gk)
		if meta.IsNoMatchError(err) {
			w.c.mapper.Reset() // a CRD installed since
			m, err = w.c.mapper.RESTMapping(gk)
		}
		if err != nil {
			continue
		}
		gr := m.Resource.GroupResource()
		if _, ok := w.kinds[gr]; ok {
			continue
		}
		inf := w.objects.ForResource(m.Resource).Informer()
		_ = inf.SetTransform(slim)
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			AddFunc:    w.onAdd,
			UpdateFunc: w.onUpdate,
			DeleteFunc: w.onDelete,
		})
		w.kinds[gr] = inf
		started = true
	}
	if started {
		w.objects.Start(w.ctx.Done())
	}
}

// slim drops what the watcher never reads from the cached objects: status
// and the last-applied annotation, often the largest parts.
func slim(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		delete(u.Object, "status")
		if ann := u.GetAnnotations(); ann != nil {
			if _, ok := ann[lastApplied]; ok {
				delete(ann, lastApplied)
				u.SetAnnotations(ann)
			}
		}
	}
	return obj, nil
}

// owner returns the app of a managed object: the inventory's, when the
// object's marks agree with it.
func (w *Watcher) owner(u *unstructured.Unstructured) (appKey, string, bool) {
	key := RefOf(u).Key()
	w.mu.Lock()
	k, ok := w.index[key]
	w.mu.Unlock()
	if !ok || foreignOwner(u, k.repo, k.app) != "" || u.GetLabels()[AppLabel] == "" {
		return appKey{}, "", false
	}
	return k, key, true
}

func (w *Watcher) onAdd(obj any, initial bool) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	k, key, ok := w.owner(u)
	if !ok {
		return
	}
	entries, err := ownership(u)
	if err != nil {
		return
	}
	w.remember(key, gantrySet(entries))
	if initial || onlyGantry(entries) {
		return
	}
	w.trigger(k) // created by someone else: a deleted object made again by hand
}

func (w *Watcher) onUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*unstructured.Unstructured)
	cur, ok2 := newObj.(*unstructured.Unstructured)
	if !ok1 || !ok2 || old.GetResourceVersion() == cur.GetResourceVersion() {
		return
	}
	k, key, ok := w.owner(cur)
	if !ok {
		return
	}
	w.mu.Lock()
	held := w.held[key]
	w.mu.Unlock()
	own, drift := judgeUpdate(held, old, cur)
	if own {
		if entries, err := ownership(cur); err == nil {
			w.remember(key, gantrySet(entries))
		}
		return
	}
	if drift {
		w.trigger(k)
	}
}

func (w *Watcher) onDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	k, key, ok := w.owner(u)
	if !ok {
		return
	}
	w.mu.Lock()
	delete(w.held, key)
	w.mu.Unlock()
	w.trigger(k)
}

func (w *Watcher) remember(key string, s *fieldpath.Set) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s == nil {
		delete(w.held, key)
		return
	}
	w.held[key] = s
}

// trigger opens the debounce window of an app, unless it is open: at its
// end OnChange is called once.
func (w *Watcher) trigger(k appKey) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open[k] || w.ctx.Err() != nil {
		return
	}
	w.open[k] = true
	time.AfterFunc(w.opts.Debounce, func() {
		w.mu.Lock()
		delete(w.open, k)
		w.mu.Unlock()
		if w.ctx.Err() == nil {
			w.opts.OnChange(k.repo, k.app)
		}
	})
}

// onlyGantry reports whether gantry's apply is the only writer of an
// object's fields, status writes aside.
func onlyGantry(entries []owned) bool {
	found := false
	for _, e := range entries {
		switch {
		case e.isGantryApply():
			found = true
		case e.subresource != "status":
			return false
		}
	}
	return found
}

// judgeUpdate decides about one update of a managed object, from the
// object before and after it and the fields gantry held at its last own
// write (nil: those it holds before the update): own says gantry's apply
// made it, drift that someone else changed the value of a field gantry
// held, which is worth a drift check. See the comment at the top of this
// file for the rule.
func judgeUpdate(held *fieldpath.Set, old, cur *unstructured.Unstructured) (own, drift bool) {
	before, err1 := ownership(old)
	after, err2 := ownership(cur)
	if err1 != nil || err2 != nil {
		return false, true // unreadable: let the check decide
	}
	ws := writers(before, after)
	switch {
	case len(ws) > 0:
		own = onlyGantry(ws)
	default:
		own = old.GetAnnotations()[AppliedAnnotation] != cur.GetAnnotations()[AppliedAnnotation]
	}
	if own {
		return true, false
	}
	if held == nil {
		held = gantrySet(before)
	}
	if held == nil {
		return false, false
	}
	held.Leaves().Iterate(func(p fieldpath.Path) {
		if drift || bookkeeping(p) {
			return
		}
		a, aok := valueAt(old.Object, p)
		b, bok := valueAt(cur.Object, p)
		if aok != bok || !equality.Semantic.DeepEqual(a, b) {
			drift = true
		}
	})
	return false, drift
}

// writers returns the entries of after that wrote since before: new
// ones, newer ones, and ones that hold fields they did not; status
// writes aside.
func writers(before, after []owned) []owned {
	var out []owned
	for _, a := range after {
		if a.subresource == "status" {
			continue
		}
		i := -1
		for j, b := range before {
			if b.manager == a.manager && b.operation == a.operation && b.subresource == a.subresource {
				i = j
				break
			}
		}
		if i < 0 || !a.time.Equal(before[i].time) || !a.set.Difference(before[i].set).Empty() {
			out = append(out, a)
		}
	}
	return out
}
