package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The inventory of an app is a ConfigMap in the client's SystemNamespace
// of the target cluster, named InventoryPrefix, the repository's hash and
// the app (see recordName), labelled with the app and the repository's
// hash and annotated with the repository: two repositories with an app of
// the same name have two inventories. A ConfigMap and not a Secret: it
// holds object references only, never content; and not a custom resource:
// it works on a cluster where gantry's CRDs are not installed, with RBAC
// limited to one namespace. 1,500 references take about 100 KB, far below
// the 1 MiB object limit.
const (
	InventoryPrefix = "gantry-inventory-"
	inventoryKey    = "objects"
	inventoryLabel  = "gantry.dev/inventory"
)

// Inventory is what an app of a repository owns in a cluster: every object
// gantry applied for it and has not deleted since.
type Inventory struct {
	// Repository is the owning repository, "owner/name" lower-cased.
	Repository string `json:"repository"`
	// App is the app's name.
	App string `json:"app"`
	// Objects are sorted in apply order.
	Objects []ObjectRef `json:"objects"`
	// resourceVersion is the version read, for optimistic concurrency; empty
	// when the inventory does not exist yet.
	resourceVersion string
}

// ErrInventoryConflict is returned when another writer changed the
// inventory since it was read; read it again and retry.
var ErrInventoryConflict = errors.New("inventory changed since it was read")

// Inventory reads the inventory of repo's app; an app never applied has
// an empty one. An inventory whose annotation names another repository (a
// hash collision, or a hand-made ConfigMap) is an error, never used.
func (c *Client) Inventory(ctx context.Context, repo, app string) (*Inventory, error) {
	if normalRepository(repo) == "" {
		return nil, fmt.Errorf("read inventory of app %s: %w", app, ErrNoRepository)
	}
	ns, name := c.opts.SystemNamespace, recordName(InventoryPrefix, repo, app)
	cm, err := c.typed.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &Inventory{Repository: normalRepository(repo), App: app}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ConfigMap/%s/%s read inventory: %w", ns, name, err)
	}
	if got := cm.Annotations[RepositoryAnnotation]; normalRepository(got) != normalRepository(repo) || cm.Labels[AppLabel] != app {
		return nil, fmt.Errorf("ConfigMap/%s/%s read inventory of app %s of %s: %w", ns, name, app, normalRepository(repo), errForeignRecord)
	}
	inv := &Inventory{Repository: normalRepository(repo), App: app, resourceVersion: cm.ResourceVersion}
	if s := cm.Data[inventoryKey]; s != "" {
		if err := json.Unmarshal([]byte(s), &inv.Objects); err != nil {
			return nil, fmt.Errorf("ConfigMap/%s/%s decode inventory: %w", cm.Namespace, cm.Name, err)
		}
	}
	return inv, nil
}

// errForeignRecord is a record in the system namespace, found under the
// name of one app of one repository, that belongs to another.
var errForeignRecord = errors.New("the record belongs to another app or repository")

// WriteInventory stores inv, failing with ErrInventoryConflict when the
// inventory changed since inv was read. On success inv carries the new
// version, so it can be written again.
func (c *Client) WriteInventory(ctx context.Context, inv *Inventory) error {
	if normalRepository(inv.Repository) == "" {
		return fmt.Errorf("write inventory of app %s: %w", inv.App, ErrNoRepository)
	}
	sortRefs(inv.Objects)
	b, err := json.Marshal(inv.Objects)
	if err != nil {
		return err
	}
	ns := c.opts.SystemNamespace
	labels := ownerLabels(inv.Repository, inv.App)
	labels[inventoryLabel] = "true"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: recordName(InventoryPrefix, inv.Repository, inv.App), Namespace: ns, ResourceVersion: inv.resourceVersion,
			Labels:      labels,
			Annotations: map[string]string{RepositoryAnnotation: normalRepository(inv.Repository)},
		},
		Data: map[string]string{inventoryKey: string(b)},
	}
	var out *corev1.ConfigMap
	if inv.resourceVersion == "" {
		if err := c.ensureNamespace(ctx, ns); err != nil {
			return err
		}
		out, err = c.typed.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("ConfigMap/%s/%s write inventory: %w", ns, cm.Name, ErrInventoryConflict)
		}
	} else {
		out, err = c.typed.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			return fmt.Errorf("ConfigMap/%s/%s write inventory: %w", ns, cm.Name, ErrInventoryConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("ConfigMap/%s/%s write inventory: %w", ns, cm.Name, err)
	}
	inv.resourceVersion = out.ResourceVersion
	return nil
}

// ensureNamespace creates the system namespace when it is missing.
func (c *Client) ensureNamespace(ctx context.Context, ns string) error {
	_, err := c.typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("Namespace/%s create: %w", ns, err)
	}
	return nil
}

// union returns the refs of a and b, each object once (b's version wins).
func union(a, b []ObjectRef) []ObjectRef {
	seen := map[string]int{}
	var out []ObjectRef
	for _, list := range [][]ObjectRef{a, b} {
		for _, r := range list {
			if i, ok := seen[r.Key()]; ok {
				out[i] = r
				continue
			}
			seen[r.Key()] = len(out)
			out = append(out, r)
		}
	}
	return out
}

// minus returns the refs of a whose object is not in b.
func minus(a, b []ObjectRef) []ObjectRef {
	in := map[string]bool{}
	for _, r := range b {
		in[r.Key()] = true
	}
	var out []ObjectRef
	for _, r := range a {
		if !in[r.Key()] {
			out = append(out, r)
		}
	}
	return out
}
