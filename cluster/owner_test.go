package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gantryops/gantry/config"
)

func TestForeignOwner(t *testing.T) {
	mine := RepositoryHash("acme/gitops")
	live := func(labels, ann map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
		u.SetLabels(labels)
		u.SetAnnotations(ann)
		return u
	}
	tests := []struct {
		name string
		live *unstructured.Unstructured
		want string
	}{
		{"absent", nil, ""},
		{"unlabelled: adopted", live(map[string]string{"team": "a"}, nil), ""},
		{"the app's own", live(map[string]string{AppLabel: "web", RepositoryLabel: mine}, map[string]string{RepositoryAnnotation: "acme/gitops"}), ""},
		{"the app's own, other case", live(map[string]string{AppLabel: "web", RepositoryLabel: mine}, map[string]string{RepositoryAnnotation: "ACME/GitOps"}), ""},
		{"another app of the repository", live(map[string]string{AppLabel: "api", RepositoryLabel: mine}, map[string]string{RepositoryAnnotation: "acme/gitops"}),
			`app "api" of this repository`},
		{"the same app of another repository", live(map[string]string{AppLabel: "web", RepositoryLabel: RepositoryHash("evil/gitops")}, map[string]string{RepositoryAnnotation: "evil/gitops"}),
			`app "web" of repository "evil/gitops"`},
		{"the right annotation with another hash", live(map[string]string{AppLabel: "web", RepositoryLabel: "0000000000000000"}, map[string]string{RepositoryAnnotation: "acme/gitops"}),
			`app "web" of repository "acme/gitops"`},
		{"applied before repositories were recorded", live(map[string]string{AppLabel: "web"}, nil), `app "web" of an unrecorded repository`},
		{"only a repository mark", live(nil, map[string]string{RepositoryAnnotation: "acme/gitops"}), `app (none) of repository "acme/gitops"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := foreignOwner(tt.live, "acme/gitops", "web"); got != tt.want {
				t.Errorf("foreignOwner = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRecordNames(t *testing.T) {
	app := strings.Repeat("a", 63)
	a, b := recordName(LockPrefix, "acme/gitops", app), recordName(LockPrefix, "acme/gitops2", app)
	if a == b {
		t.Errorf("two repositories share the record %s", a)
	}
	if got := recordName(LockPrefix, "ACME/GitOps", app); got != a {
		t.Errorf("the same repository in capitals has another record: %s, %s", got, a)
	}
	if len(recordName(InventoryPrefix, "acme/gitops", app)) > 253 {
		t.Errorf("record name too long: %d", len(a))
	}
	if h := RepositoryHash("acme/gitops"); len(h) != 16 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Errorf("hash %q is not 16 hex digits, a valid label value", h)
	}
}

// Two repositories with an app of the same name: separate inventories,
// and neither prunes the other's objects, even when its inventory names
// them.
func TestRepositoriesDoNotShareApps(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app := newClient(t), newApp(ns)
	repoA, repoB := "acme/gitops", "other/gitops"
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {k: v}\n"
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, cm("a1")+"---\n"+cm("a2")), ApplyOptions{Repository: repoA, Prune: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, app, objects(t, ns, cm("b1")), ApplyOptions{Repository: repoB, Prune: true}); err != nil {
		t.Fatal(err)
	}
	invA, err := c.Inventory(ctx, repoA, app.Name)
	if err != nil {
		t.Fatal(err)
	}
	invB, err := c.Inventory(ctx, "OTHER/GitOps", app.Name)
	if err != nil {
		t.Fatal(err)
	}
	names := func(inv *Inventory) []string {
		var out []string
		for _, r := range inv.Objects {
			out = append(out, r.Name)
		}
		return out
	}
	if d := cmp.Diff([][]string{{"a1", "a2"}, {"b1"}}, [][]string{names(invA), names(invB)}); d != "" {
		t.Fatalf("inventories of A and B (-want +got):\n%s", d)
	}
	list, err := cluster.Client.CoreV1().ConfigMaps(DefaultClientOptions().SystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: AppLabel + "=" + app.Name})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Errorf("%d inventory ConfigMaps for app %s, want one per repository", len(list.Items), app.Name)
	}
	// B's inventory is made to name A's object: B's prune keeps it.
	invB.Objects = append(invB.Objects, invA.Objects[0])
	if err := c.WriteInventory(ctx, invB); err != nil {
		t.Fatal(err)
	}
	set, err := c.Diff(ctx, app, objects(t, ns, cm("b1")), DefaultDiffOptions(repoB))
	if err != nil {
		t.Fatal(err)
	}
	if d := find(set, "ConfigMap/"+ns+"/a1"); d.Action != ActionUnchanged || !strings.Contains(d.Note, `of repository "acme/gitops"`) || d.Live != nil || d.Diff != "" {
		t.Errorf("B's diff of A's object: %+v, want kept, naming A, without content", d)
	}
	cs, err := c.Apply(ctx, app, objects(t, ns, cm("b1")), ApplyOptions{Repository: repoB, Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := changes(cs)["ConfigMap/"+ns+"/a1"]; got != string(ChangeSkipped) {
		t.Errorf("B's prune of A's object: %s, want skipped", got)
	}
	// A's own prune still works, and leaves B's object alone.
	if _, err := c.Apply(ctx, app, objects(t, ns, cm("a1")), ApplyOptions{Repository: repoA, Prune: true}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a1": true, "a2": false, "b1": true} {
		_, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if got := err == nil; got != want {
			t.Errorf("ConfigMap %s exists: %v, want %v (%v)", name, got, want, err)
		}
	}
	if _, err := c.Diff(ctx, app, nil, DiffOptions{}); !errors.Is(err, ErrNoRepository) {
		t.Errorf("diff without a repository: %v, want ErrNoRepository", err)
	}
}

// An object another repository (or another app) owns is a conflict in
// the PR's diff, and nothing of the live object is in any output; apply
// refuses it and leaves it as it is. An unlabelled object is adopted.
func TestConflictShowsNothingOfTheLiveObject(t *testing.T) {
	ctx := context.Background()
	ns := cluster.Namespace(t)
	c, app, other := newClient(t), newApp(ns), newApp(ns)
	const distinctive = "distinctive-live-value-7731"
	owned := `
apiVersion: v1
kind: ConfigMap
metadata: {name: theirs, labels: {tier: distinctive-label-4410}}
data: {k: ` + distinctive + `}
---
apiVersion: v1
kind: Secret
metadata: {name: their-secret}
stringData: {password: ` + distinctive + `-secret}
`
	if _, err := c.Apply(ctx, app, objects(t, ns, owned), ApplyOptions{Repository: "acme/gitops"}); err != nil {
		t.Fatal(err)
	}
	pr := `
apiVersion: v1
kind: ConfigMap
metadata: {name: theirs}
data: {k: mine}
---
apiVersion: v1
kind: Secret
metadata: {name: their-secret}
stringData: {password: guess}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unowned-%d, labels: {adopted: "yes"}}
data: {k: by hand}
`
	tests := []struct {
		name, repo string
		app        config.App
		owner      string
	}{
		{"another repository, the same app", "evil/gitops", app, `app "` + app.Name + `" of repository "acme/gitops"`},
		{"another app of the repository", "acme/gitops", other, `app "` + app.Name + `" of this repository`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unowned := fmt.Sprintf("unowned-%d", i)
			if _, err := cluster.Client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: unowned}, Data: map[string]string{"k": "by hand"},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			a, docs := tt.app, fmt.Sprintf(pr, i)
			set, err := c.Diff(ctx, a, objects(t, ns, docs), DefaultDiffOptions(tt.repo))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"ConfigMap/" + ns + "/theirs": "conflict", "Secret/" + ns + "/their-secret": "conflict", "ConfigMap/" + ns + "/" + unowned: "update"}
			if d := cmp.Diff(want, actions(set)); d != "" {
				t.Fatalf("diff (-want +got):\n%s", d)
			}
			for _, ref := range []string{"ConfigMap/" + ns + "/theirs", "Secret/" + ns + "/their-secret"} {
				d := find(set, ref)
				if !strings.Contains(d.Note, tt.owner) || d.Diff != "" || d.Changed != nil || d.Live != nil {
					t.Errorf("%s: note %q diff %q changed %v live %v; want the owner named and nothing else", ref, d.Note, d.Diff, d.Changed, d.Live != nil)
				}
			}
			if !set.HasErrors() || set.Counts().Conflict != 2 {
				t.Errorf("counts %+v: conflicts must count and fail the diff", set.Counts())
			}
			var out bytes.Buffer
			for _, f := range []Format{FormatText, FormatMarkdown, FormatJSON} {
				if err := WriteDiff(&out, f, []*DiffSet{set}); err != nil {
					t.Fatal(err)
				}
			}
			for _, leak := range []string{distinctive, "distinctive-label-4410"} {
				if strings.Contains(out.String(), leak) {
					t.Errorf("output shows the live object's %q:\n%s", leak, out.String())
				}
			}
			if !strings.Contains(out.String(), "**Conflict**") || !strings.Contains(out.String(), "x ConfigMap/"+ns+"/theirs: conflict") {
				t.Errorf("output does not show the conflicts:\n%s", out.String())
			}
			cs, err := c.Apply(ctx, a, objects(t, ns, docs), ApplyOptions{Repository: tt.repo})
			if !errors.Is(err, ErrApplyFailed) {
				t.Fatalf("apply over another owner's objects: %v, want ErrApplyFailed", err)
			}
			if got := changes(cs)["ConfigMap/"+ns+"/theirs"]; got != string(ChangeFailed) {
				t.Errorf("apply of another owner's object: %s, want failed", got)
			}
			live, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, "theirs", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if live.Labels[AppLabel] != app.Name || live.Labels[RepositoryLabel] != RepositoryHash("acme/gitops") || live.Data["k"] != distinctive {
				t.Errorf("the owner's object changed: labels %v data %v", live.Labels, live.Data)
			}
			adopted, err := cluster.Client.CoreV1().ConfigMaps(ns).Get(ctx, unowned, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if adopted.Labels[AppLabel] != a.Name || adopted.Annotations[RepositoryAnnotation] != tt.repo || adopted.Labels["adopted"] != "yes" {
				t.Errorf("the unlabelled object was not adopted: labels %v annotations %v data %v", adopted.Labels, adopted.Annotations, adopted.Data)
			}
		})
	}
}
