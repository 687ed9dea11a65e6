package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The promotions of an app (its changes on their way to the next app) are
// a ConfigMap beside its apply records, named PromotionPrefix, the
// repository's hash and the app, holding them as JSON, newest first. In
// the cluster, so a replica that restarts or takes over continues a soak
// another replica began, and never opens a promotion twice.
const (
	PromotionPrefix = "gantry-promotions-"
	promotionsKey   = "promotions"
	promotionLabel  = "gantry.dev/promotions"
	// MaxPromotions bounds the promotions kept per app.
	MaxPromotions = 20
)

// PromotionState is where a promotion is.
type PromotionState string

// The states of a promotion.
const (
	// PromotionSoaking waits for Due, the app staying healthy.
	PromotionSoaking PromotionState = "soaking"
	// PromotionOpening has its branch pushed and its pull request being
	// opened: a replica that finds it so completes it.
	PromotionOpening PromotionState = "opening"
	// PromotionOpened has its pull request; gantry does nothing more.
	PromotionOpened PromotionState = "opened"
	// PromotionSuperseded was replaced by the promotion of a newer apply,
	// which carries its change too.
	PromotionSuperseded PromotionState = "superseded"
	// PromotionAbandoned will not be opened; Reason says why.
	PromotionAbandoned PromotionState = "abandoned"
)

// Promotion is one change of an app on its way to the next app.
type Promotion struct {
	// ID is unique per app: the applied commit and the target.
	ID         string `json:"id"`
	Repository string `json:"repository"`
	App        string `json:"app"`
	To         string `json:"to"`
	// Base is the commit the app's source is compared from (its apply
	// before the change); Commit is the commit applied.
	Base   string `json:"base"`
	Commit string `json:"commit"`
	// Record is the ID of the apply record of Commit, the evidence.
	Record string `json:"record,omitempty"`
	// PRs are the merged pull requests the change came in.
	PRs []int `json:"prs,omitempty"`
	// Check is the URL of the apply's check run.
	Check string `json:"check,omitempty"`
	// Healthy is when the apply ended healthy; Due when the soak ends.
	Healthy time.Time      `json:"healthy"`
	Due     time.Time      `json:"due"`
	Soak    time.Duration  `json:"soakNanos"`
	State   PromotionState `json:"state"`
	Reason  string         `json:"reason,omitempty"`
	// Branch, Number and URL are the promotion pull request's.
	Branch string `json:"branch,omitempty"`
	Number int    `json:"number,omitempty"`
	URL    string `json:"url,omitempty"`
	// Checked is when the soak's end was judged.
	Checked time.Time `json:"checked,omitzero"`
}

// Promotions is an app's promotions, newest first.
type Promotions struct {
	Repository string      `json:"repository"`
	App        string      `json:"app"`
	List       []Promotion `json:"list"`

	resourceVersion string
}

// Promotions reads repo's app's promotions; none when it has none. A
// ConfigMap naming another repository or app is an error.
func (c *Client) Promotions(ctx context.Context, repo, app string) (*Promotions, error) {
	if normalRepository(repo) == "" {
		return nil, fmt.Errorf("read promotions of app %s: %w", app, ErrNoRepository)
	}
	ns, name := c.opts.SystemNamespace, recordName(PromotionPrefix, repo, app)
	cm, err := c.typed.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return &Promotions{Repository: normalRepository(repo), App: app}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ConfigMap/%s/%s read promotions: %w", ns, name, err)
	}
	if got := cm.Annotations[RepositoryAnnotation]; normalRepository(got) != normalRepository(repo) || cm.Labels[AppLabel] != app {
		return nil, fmt.Errorf("ConfigMap/%s/%s read promotions of app %s of %s: %w", ns, name, app, normalRepository(repo), errForeignRecord)
	}
	ps := &Promotions{Repository: normalRepository(repo), App: app, resourceVersion: cm.ResourceVersion}
	if s := cm.Data[promotionsKey]; s != "" {
		if err := json.Unmarshal([]byte(s), &ps.List); err != nil {
			return nil, fmt.Errorf("ConfigMap/%s/%s decode promotions: %w", ns, name, err)
		}
	}
	return ps, nil
}

// UpdatePromotions reads the app's promotions, lets change edit them, and
// writes them back, again from a fresh read when another writer changed
// them meanwhile. change returning false writes nothing.
func (c *Client) UpdatePromotions(ctx context.Context, repo, app string, change func(*Promotions) bool) error {
	var err error
	for range 5 {
		var ps *Promotions
		if ps, err = c.Promotions(ctx, repo, app); err != nil {
			return err
		}
		if !change(ps) {
			return nil
		}
		if len(ps.List) > MaxPromotions {
			ps.List = ps.List[:MaxPromotions]
		}
		if err = c.writePromotions(ctx, ps); !errors.Is(err, ErrInventoryConflict) {
			return err
		}
	}
	return err
}

// Put adds p at the front, or replaces the promotion with its ID in place.
func (ps *Promotions) Put(p Promotion) {
	for i := range ps.List {
		if ps.List[i].ID == p.ID {
			ps.List[i] = p
			return
		}
	}
	ps.List = append([]Promotion{p}, ps.List...)
}

// Get is the promotion with id.
func (ps *Promotions) Get(id string) (Promotion, bool) {
	for _, p := range ps.List {
		if p.ID == id {
			return p, true
		}
	}
	return Promotion{}, false
}

func (c *Client) writePromotions(ctx context.Context, ps *Promotions) error {
	b, err := json.Marshal(ps.List)
	if err != nil {
		return err
	}
	ns := c.opts.SystemNamespace
	labels := ownerLabels(ps.Repository, ps.App)
	labels[promotionLabel] = "true"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: recordName(PromotionPrefix, ps.Repository, ps.App), Namespace: ns, ResourceVersion: ps.resourceVersion,
			Labels: labels, Annotations: map[string]string{RepositoryAnnotation: normalRepository(ps.Repository)},
		},
		Data: map[string]string{promotionsKey: string(b)},
	}
	if ps.resourceVersion == "" {
		if err := c.ensureNamespace(ctx, ns); err != nil {
			return err
		}
		_, err = c.typed.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("ConfigMap/%s/%s write promotions: %w", ns, cm.Name, ErrInventoryConflict)
		}
	} else {
		_, err = c.typed.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			return fmt.Errorf("ConfigMap/%s/%s write promotions: %w", ns, cm.Name, ErrInventoryConflict)
		}
	}
	if err != nil {
		return fmt.Errorf("ConfigMap/%s/%s write promotions: %w", ns, cm.Name, err)
	}
	return nil
}
