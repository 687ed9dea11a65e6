package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/gantryops/gantry/pause"
)

// A preview environment is a namespace of its own per pull request and app
// (see package preview), holding the app's render of the pull request's
// head. The namespace is its record: labelled with the repository's hash,
// the pull request and the app, annotated with the repository, the head
// applied and when, so every replica finds, updates and deletes previews
// from the cluster alone. Its objects are applied as the app named
// PreviewAppPrefix + namespace (a name no app can have: app names are DNS
// labels), so their inventory and owner labels never mix with the app's.
const (
	// PreviewLabel marks a preview namespace.
	PreviewLabel = "gantry.dev/preview"
	// PreviewPRLabel holds the pull request's number.
	PreviewPRLabel = "gantry.dev/preview-pr"
	// PreviewAppLabel holds the app's name.
	PreviewAppLabel = "gantry.dev/preview-app"
	// PreviewHeadAnnotation holds the commit last applied.
	PreviewHeadAnnotation = "gantry.dev/preview-head"
	// PreviewUpdatedAnnotation holds when it was last applied (RFC 3339).
	PreviewUpdatedAnnotation = "gantry.dev/preview-updated"
	// PreviewInstallationAnnotation holds the App installation's ID.
	PreviewInstallationAnnotation = "gantry.dev/preview-installation"
	// PreviewAppPrefix makes a preview's app name for Apply.
	PreviewAppPrefix = "preview."
	// PreviewGuardName names the ResourceQuota and LimitRange gantry puts
	// in a preview namespace.
	PreviewGuardName = "gantry-preview"
	// previewGuardApp owns the guard objects, so a render's object of the
	// same name is another owner's and fails instead of replacing them.
	previewGuardApp = "gantry-preview-guard"
)

// previewDeletionWait bounds the wait for a preview namespace being
// deleted before it is made again.
const previewDeletionWait = 2 * time.Minute

// PreviewEnv is one preview namespace as the cluster holds it.
type PreviewEnv struct {
	Namespace  string
	Repository string
	PR         int
	App        string
	Head       string
	Updated    time.Time
	// Installation is the GitHub App installation that made it (0 when
	// unknown), for the resync to say in the pull request that it deleted
	// it.
	Installation int64
}

// ApplyName is the app name its objects are applied and inventoried as.
func (p PreviewEnv) ApplyName() string { return PreviewAppPrefix + p.Namespace }

// PreviewSpec is what a preview namespace is made with.
type PreviewSpec struct {
	PreviewEnv
	// Quota is the ResourceQuota's spec.hard.
	Quota map[string]string
	// DefaultRequest and Default are the LimitRange's container defaults.
	DefaultRequest, Default map[string]string
	// PodSecurity is the enforced Pod Security Standard level.
	PodSecurity string
}

// ErrForeignPreview is returned when a namespace of a preview's name
// exists and belongs to something else: another repository, pull request
// or app, or no preview at all. It is never taken over.
var ErrForeignPreview = errors.New("the namespace exists and is not this preview's")

// Namespaced says whether the cluster serves gvk as a namespaced kind; an
// error when it does not serve it.
func (c *Client) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	m, err := c.mapping(gvk)
	if err != nil {
		return false, err
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// EnsurePreview creates or updates the preview namespace of spec, with its
// identity, its ResourceQuota and LimitRange, and the head and time of
// this update. A namespace of that name that is not this preview's fails
// with ErrForeignPreview, untouched.
func (c *Client) EnsurePreview(ctx context.Context, spec PreviewSpec) error {
	repo := normalRepository(spec.Repository)
	if repo == "" {
		return fmt.Errorf("preview %s: %w", spec.Namespace, ErrNoRepository)
	}
	spec.Repository = repo
	// A namespace made again just after its deletion can be swept by the
	// end of that deletion (its guard objects then fail as not found, or
	// the namespace is gone or terminating again): start over, a few
	// times.
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var again bool
		again, err = c.ensurePreviewOnce(ctx, spec)
		if !again {
			return err
		}
		if serr := pause.For(ctx, time.Second); serr != nil {
			return serr
		}
	}
	return err
}

// swept says whether err is a namespace deleted or terminating under a
// write: the preview is made again.
func swept(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}

// ensurePreviewOnce is one attempt of EnsurePreview; again says the
// namespace was swept under it and another attempt should follow.
func (c *Client) ensurePreviewOnce(ctx context.Context, spec PreviewSpec) (again bool, _ error) {
	repo := spec.Repository
	nsAPI := c.typed.CoreV1().Namespaces()
	live, err := nsAPI.Get(ctx, spec.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return false, fmt.Errorf("Namespace/%s read: %w", spec.Namespace, err)
	}
	if live != nil {
		if got, ok := previewOf(live); !ok || got.Repository != repo || got.PR != spec.PR || got.App != spec.App {
			return false, fmt.Errorf("Namespace/%s: %w", spec.Namespace, ErrForeignPreview)
		}
		if live.DeletionTimestamp != nil {
			// Deleted a moment ago (preview off, then on): wait for the
			// namespace controller to finish, then make it anew.
			err := wait.PollUntilContextTimeout(ctx, time.Second, previewDeletionWait, true, func(ctx context.Context) (bool, error) {
				_, err := nsAPI.Get(ctx, spec.Namespace, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, nil
				}
				return false, err
			})
			if err != nil {
				return false, fmt.Errorf("Namespace/%s is still being deleted: %w", spec.Namespace, err)
			}
		}
	}
	labels := ownerLabels(repo, previewGuardApp)
	delete(labels, AppLabel)
	labels[PreviewLabel] = "true"
	labels[PreviewPRLabel] = strconv.Itoa(spec.PR)
	labels[PreviewAppLabel] = spec.App
	labels["pod-security.kubernetes.io/enforce"] = spec.PodSecurity
	ann := map[string]string{RepositoryAnnotation: repo, PreviewHeadAnnotation: spec.Head, PreviewUpdatedAnnotation: spec.Updated.UTC().Format(time.RFC3339),
		PreviewInstallationAnnotation: strconv.FormatInt(spec.Installation, 10)}
	nsAC := corev1ac.Namespace(spec.Namespace).WithLabels(labels).WithAnnotations(ann)
	made, err := nsAPI.Apply(ctx, nsAC, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return false, fmt.Errorf("Namespace/%s apply: %w", spec.Namespace, err)
	}
	guard := ownerLabels(repo, previewGuardApp)
	hard := corev1.ResourceList{}
	for k, v := range spec.Quota {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return false, fmt.Errorf("preview quota %s: %w", k, err)
		}
		hard[corev1.ResourceName(k)] = q
	}
	quota := corev1ac.ResourceQuota(PreviewGuardName, spec.Namespace).WithLabels(guard).
		WithAnnotations(map[string]string{RepositoryAnnotation: repo}).WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard))
	if err := retryTerminating(ctx, func() error {
		_, err := c.typed.CoreV1().ResourceQuotas(spec.Namespace).Apply(ctx, quota, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		return err
	}); err != nil {
		return swept(err), fmt.Errorf("ResourceQuota/%s/%s apply: %w", spec.Namespace, PreviewGuardName, err)
	}
	c.waitQuotaCounted(ctx, spec.Namespace, hard)
	list := func(m map[string]string) (corev1.ResourceList, error) {
		out := corev1.ResourceList{}
		for k, v := range m {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return nil, fmt.Errorf("preview limits %s: %w", k, err)
			}
			out[corev1.ResourceName(k)] = q
		}
		return out, nil
	}
	req, err := list(spec.DefaultRequest)
	if err != nil {
		return false, err
	}
	lim, err := list(spec.Default)
	if err != nil {
		return false, err
	}
	item := corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer)
	if len(req) > 0 {
		item = item.WithDefaultRequest(req)
	}
	if len(lim) > 0 {
		item = item.WithDefault(lim)
	}
	lr := corev1ac.LimitRange(PreviewGuardName, spec.Namespace).WithLabels(guard).
		WithAnnotations(map[string]string{RepositoryAnnotation: repo}).WithSpec(corev1ac.LimitRangeSpec().WithLimits(item))
	if err := retryTerminating(ctx, func() error {
		_, err := c.typed.CoreV1().LimitRanges(spec.Namespace).Apply(ctx, lr, metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
		return err
	}); err != nil {
		return swept(err), fmt.Errorf("LimitRange/%s/%s apply: %w", spec.Namespace, PreviewGuardName, err)
	}
	now, err := nsAPI.Get(ctx, spec.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true, fmt.Errorf("Namespace/%s: deleted as it was made", spec.Namespace)
	case err != nil:
		return false, fmt.Errorf("Namespace/%s read: %w", spec.Namespace, err)
	case now.UID != made.UID || now.DeletionTimestamp != nil:
		return true, fmt.Errorf("Namespace/%s: deleted as it was made", spec.Namespace)
	}
	return false, nil
}

// retryTerminating runs write until it is not refused for a namespace
// being terminated, within previewDeletionWait. A namespace made again
// just after its deletion is still terminating in the API server's
// admission cache for a moment, though reading it says otherwise.
func retryTerminating(ctx context.Context, write func() error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, previewDeletionWait, true, func(context.Context) (bool, error) {
		last = write()
		if last != nil && apierrors.HasStatusCause(last, corev1.NamespaceTerminatingCause) {
			return false, nil
		}
		return true, last
	})
	if err != nil && last != nil {
		return last
	}
	return err
}

// quotaCountWait bounds the wait for the quota controller to count a new
// ResourceQuota.
const quotaCountWait = 30 * time.Second

// waitQuotaCounted waits, within quotaCountWait, until the quota
// controller has counted the preview's ResourceQuota: until then the API
// server refuses every object the quota covers ("status unknown for
// quota"), so an apply at once would fail for no reason of the app's. A
// cluster without the controller is not waited for longer: its objects
// then fail with the API server's message, said in the comment.
func (c *Client) waitQuotaCounted(ctx context.Context, ns string, hard corev1.ResourceList) {
	_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, quotaCountWait, true, func(ctx context.Context) (bool, error) {
		q, err := c.typed.CoreV1().ResourceQuotas(ns).Get(ctx, PreviewGuardName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for k, v := range hard {
			if got, ok := q.Status.Hard[k]; !ok || got.Cmp(v) != 0 {
				return false, nil
			}
		}
		return true, nil
	})
}

// previewOf reads a namespace's preview identity; false when it is not a
// preview namespace, or its labels and annotation disagree.
func previewOf(ns *corev1.Namespace) (PreviewEnv, bool) {
	l, a := ns.Labels, ns.Annotations
	if l[PreviewLabel] != "true" {
		return PreviewEnv{}, false
	}
	repo := normalRepository(a[RepositoryAnnotation])
	if repo == "" || l[RepositoryLabel] != RepositoryHash(repo) {
		return PreviewEnv{}, false
	}
	pr, err := strconv.Atoi(l[PreviewPRLabel])
	if err != nil || pr <= 0 || l[PreviewAppLabel] == "" {
		return PreviewEnv{}, false
	}
	updated, _ := time.Parse(time.RFC3339, a[PreviewUpdatedAnnotation])
	inst, _ := strconv.ParseInt(a[PreviewInstallationAnnotation], 10, 64)
	return PreviewEnv{Namespace: ns.Name, Repository: repo, PR: pr, App: l[PreviewAppLabel], Head: a[PreviewHeadAnnotation], Updated: updated, Installation: inst}, true
}

// Previews lists the preview namespaces of repo ("" for every
// repository's), sorted by namespace. Namespaces being deleted are left
// out.
func (c *Client) Previews(ctx context.Context, repo string) ([]PreviewEnv, error) {
	sel := PreviewLabel + "=true"
	if repo != "" {
		sel += "," + RepositoryLabel + "=" + RepositoryHash(repo)
	}
	list, err := c.typed.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list preview namespaces: %w", err)
	}
	var out []PreviewEnv
	for i := range list.Items {
		ns := &list.Items[i]
		p, ok := previewOf(ns)
		if !ok || ns.DeletionTimestamp != nil || (repo != "" && p.Repository != normalRepository(repo)) {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out, nil
}

// DeletePreview deletes a preview: its namespace, with everything in it,
// and its inventory. A namespace that is not p's is left alone.
func (c *Client) DeletePreview(ctx context.Context, p PreviewEnv) error {
	live, err := c.typed.CoreV1().Namespaces().Get(ctx, p.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return c.deletePreviewInventory(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("Namespace/%s read: %w", p.Namespace, err)
	}
	if got, ok := previewOf(live); !ok || got.Repository != normalRepository(p.Repository) || got.PR != p.PR || got.App != p.App {
		return fmt.Errorf("Namespace/%s delete: %w", p.Namespace, ErrForeignPreview)
	}
	uid := live.UID
	err = c.typed.CoreV1().Namespaces().Delete(ctx, p.Namespace, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("Namespace/%s delete: %w", p.Namespace, err)
	}
	return c.deletePreviewInventory(ctx, p)
}

func (c *Client) deletePreviewInventory(ctx context.Context, p PreviewEnv) error {
	ns, name := c.opts.SystemNamespace, recordName(InventoryPrefix, p.Repository, p.ApplyName())
	err := c.typed.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("ConfigMap/%s/%s delete inventory: %w", ns, name, err)
	}
	return nil
}

// ServiceAddresses are the external addresses of the LoadBalancer
// Services in namespace, by Service name.
func (c *Client) ServiceAddresses(ctx context.Context, namespace string) (map[string][]string, error) {
	list, err := c.typed.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Services of %s: %w", namespace, err)
	}
	out := map[string][]string{}
	for _, s := range list.Items {
		for _, in := range s.Status.LoadBalancer.Ingress {
			addr := in.IP
			if in.Hostname != "" {
				addr = in.Hostname
			}
			if addr != "" {
				out[s.Name] = append(out[s.Name], addr)
			}
		}
	}
	return out, nil
}
