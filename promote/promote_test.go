package promote

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gantryops/gantry/config"
)

var (
	staging = config.App{Name: "web-staging", Path: "apps/web/overlays/staging"}
	prod    = config.App{Name: "web-prod", Path: "apps/web/overlays/prod"}
	chartS  = config.App{Name: "chart-staging", Path: "charts/web", Helm: &config.Helm{Values: []string{"values-common.yaml", "values-staging.yaml"}}}
	chartP  = config.App{Name: "chart-prod", Path: "charts/web", Helm: &config.Helm{Values: []string{"values-common.yaml", "values-prod.yaml"}}}
)

const stagingKust = `resources:
- ../../base
namePrefix: staging-
replicas:
- name: web
  count: 1
images:
- name: web
  newName: ghcr.io/acme/web
  newTag: "1.41" # bumped by CI
`

const prodKust = `# prod: three replicas, never latest
resources:
- ../../base
namePrefix: prod-
replicas:
- name: web
  count: 3
images:
- name: web
  newName: ghcr.io/acme/web
  newTag: "1.41" # bumped by CI
`

func TestPromote(t *testing.T) {
	tests := []struct {
		name     string
		from, to config.App
		changes  []FileChange
		target   map[string]string
		// want: files written (exactly), deleted, and the fields edited
		// and in conflict.
		files     map[string]string
		deleted   []string
		edits     []Edit
		conflicts []Conflict
		skipped   []Skip
	}{{
		name: "overlay image tag: the same key, every other byte of prod kept",
		from: staging, to: prod,
		changes: []FileChange{{Path: "apps/web/overlays/staging/kustomization.yaml", Before: []byte(stagingKust), After: []byte(strings.Replace(stagingKust, `"1.41"`, `"1.42"`, 1))}},
		target:  map[string]string{"apps/web/overlays/prod/kustomization.yaml": prodKust},
		files:   map[string]string{"apps/web/overlays/prod/kustomization.yaml": strings.Replace(prodKust, `"1.41"`, `"1.42"`, 1)},
		edits:   []Edit{{File: "apps/web/overlays/prod/kustomization.yaml", Field: "images[name=web].newTag", From: `"1.41"`, To: `"1.42"`}},
	}, {
		name: "a value prod holds differently is a conflict and prod keeps it",
		from: staging, to: prod,
		changes: []FileChange{{Path: "apps/web/overlays/staging/kustomization.yaml", Before: []byte(stagingKust),
			After: []byte(strings.Replace(strings.Replace(stagingKust, "count: 1", "count: 2", 1), `"1.41"`, `"1.42"`, 1))}},
		target:    map[string]string{"apps/web/overlays/prod/kustomization.yaml": prodKust},
		files:     map[string]string{"apps/web/overlays/prod/kustomization.yaml": strings.Replace(prodKust, `"1.41"`, `"1.42"`, 1)},
		edits:     []Edit{{File: "apps/web/overlays/prod/kustomization.yaml", Field: "images[name=web].newTag", From: `"1.41"`, To: `"1.42"`}},
		conflicts: []Conflict{{File: "apps/web/overlays/prod/kustomization.yaml", Field: "replicas[name=web].count", Why: "the change sets 1 → 2, but the target holds 3"}},
	}, {
		name: "helm values: values-staging.yaml's key change lands in values-prod.yaml with comments kept; the shared file is not touched",
		from: chartS, to: chartP,
		changes: []FileChange{
			{Path: "charts/web/values-staging.yaml", Before: []byte("# staging\nimage:\n  tag: 1.41.0 # the release\nreplicas: 1\n"), After: []byte("# staging\nimage:\n  tag: 1.42.0 # the release\nreplicas: 1\n")},
			{Path: "charts/web/values-common.yaml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")},
			{Path: "charts/web/templates/deploy.yaml", Before: []byte("x"), After: []byte("y")},
		},
		target: map[string]string{"charts/web/values-prod.yaml": "# prod\nreplicas: 4\nimage:\n  # pinned by release\n  tag: 1.41.0\n"},
		files:  map[string]string{"charts/web/values-prod.yaml": "# prod\nreplicas: 4\nimage:\n  # pinned by release\n  tag: 1.42.0\n"},
		edits:  []Edit{{File: "charts/web/values-prod.yaml", Field: "image.tag", From: "1.41.0", To: "1.42.0"}},
		skipped: []Skip{
			{File: "charts/web/templates/deploy.yaml", Why: "shared by chart-staging and chart-prod: the change is already in both"},
			{File: "charts/web/values-common.yaml", Why: "shared by chart-staging and chart-prod: the change is already in both"},
		},
	}, {
		name: "a key added in staging is added to prod; a removed one removed when prod held the old value",
		from: chartS, to: chartP,
		changes: []FileChange{{Path: "charts/web/values-staging.yaml", Before: []byte("image:\n  tag: a\ndebug: true\n"), After: []byte("image:\n  tag: a\n  pullPolicy: Always\n")}},
		target:  map[string]string{"charts/web/values-prod.yaml": "image:\n  tag: b\ndebug: true\n"},
		files:   map[string]string{"charts/web/values-prod.yaml": "image:\n  tag: b\n  pullPolicy: Always\n"},
		edits: []Edit{
			{File: "charts/web/values-prod.yaml", Field: "image.pullPolicy", To: "Always"},
			{File: "charts/web/values-prod.yaml", Field: "debug", From: "true"},
		},
	}, {
		name: "a new patch file and its resources entry come to prod; an identical deleted file goes",
		from: staging, to: prod,
		changes: []FileChange{
			{Path: "apps/web/overlays/staging/kustomization.yaml", Before: []byte("resources:\n- ../../base\n- old.yaml\n"), After: []byte("resources:\n- ../../base\n- pdb.yaml\n")},
			{Path: "apps/web/overlays/staging/pdb.yaml", After: []byte("kind: PodDisruptionBudget\n")},
			{Path: "apps/web/overlays/staging/old.yaml", Before: []byte("kind: ConfigMap\nmetadata: {name: old}\n")},
		},
		target: map[string]string{
			"apps/web/overlays/prod/kustomization.yaml": "resources:\n- ../../base\n- old.yaml\n- hpa.yaml\n",
			"apps/web/overlays/prod/old.yaml":           "kind: ConfigMap\nmetadata:\n  name: old\n",
		},
		files: map[string]string{
			"apps/web/overlays/prod/kustomization.yaml": "resources:\n- ../../base\n- hpa.yaml\n- pdb.yaml\n",
			"apps/web/overlays/prod/pdb.yaml":           "kind: PodDisruptionBudget\n",
		},
		deleted: []string{"apps/web/overlays/prod/old.yaml"},
		edits: []Edit{
			{File: "apps/web/overlays/prod/kustomization.yaml", Field: "resources[]", To: "pdb.yaml"},
			{File: "apps/web/overlays/prod/kustomization.yaml", Field: "resources[]", From: "old.yaml"},
			{File: "apps/web/overlays/prod/old.yaml", From: "(file)", To: "(deleted)"},
			{File: "apps/web/overlays/prod/pdb.yaml", To: "(new file)"},
		},
	}, {
		name: "a deleted file prod changed, a text file prod changed, and an edit of a file prod lacks are conflicts",
		from: staging, to: prod,
		changes: []FileChange{
			{Path: "apps/web/overlays/staging/old.yaml", Before: []byte("a: 1\n")},
			{Path: "apps/web/overlays/staging/motd.txt", Before: []byte("hi\n"), After: []byte("hello\n")},
			{Path: "apps/web/overlays/staging/only.yaml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")},
		},
		target: map[string]string{"apps/web/overlays/prod/old.yaml": "a: 2\n", "apps/web/overlays/prod/motd.txt": "hi prod\n"},
		conflicts: []Conflict{
			{File: "apps/web/overlays/prod/motd.txt", Why: "web-prod's copy differs from web-staging's before the change, and the file is not YAML that merges key by key"},
			{File: "apps/web/overlays/prod/old.yaml", Why: "the change deletes it from web-staging, but web-prod's copy differs from web-staging's before the change"},
			{File: "apps/web/overlays/prod/only.yaml", Why: "the change edits it in web-staging, but web-prod has no such file"},
		},
	}, {
		name: "a text file prod holds as staging did is replaced",
		from: staging, to: prod,
		changes: []FileChange{{Path: "apps/web/overlays/staging/motd.txt", Before: []byte("hi\n"), After: []byte("hello\n")}},
		target:  map[string]string{"apps/web/overlays/prod/motd.txt": "hi\n"},
		files:   map[string]string{"apps/web/overlays/prod/motd.txt": "hello\n"},
		edits:   []Edit{{File: "apps/web/overlays/prod/motd.txt", From: "(file)", To: "(replaced)"}},
	}, {
		name: "multi-document manifests are matched by kind and name, whatever prod's order",
		from: config.App{Name: "s", Path: "s"}, to: config.App{Name: "p", Path: "p"},
		changes: []FileChange{{Path: "s/app.yaml",
			Before: []byte("kind: Service\nmetadata: {name: web}\nspec: {port: 80}\n---\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n      - name: side\n        image: side:1\n"),
			After:  []byte("kind: Service\nmetadata: {name: web}\nspec: {port: 80}\n---\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:2\n      - name: side\n        image: side:1\n")}},
		target: map[string]string{"p/app.yaml": "kind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: side\n        image: side:1\n      - name: web\n        image: web:1\n---\nkind: Service\nmetadata: {name: web}\nspec: {port: 443}\n"},
		files:  map[string]string{"p/app.yaml": "kind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: side\n        image: side:1\n      - name: web\n        image: web:2\n---\nkind: Service\nmetadata: {name: web}\nspec: {port: 443}\n"},
		edits:  []Edit{{File: "p/app.yaml", Field: "spec.template.spec.containers[name=web].image", From: "web:1", To: "web:2"}},
	}, {
		name: "a Secret's values are never shown, changed or in conflict",
		from: config.App{Name: "s", Path: "s"}, to: config.App{Name: "p", Path: "p"},
		changes: []FileChange{{Path: "s/secret.yaml",
			Before: []byte("kind: Secret\nmetadata: {name: db}\nstringData:\n  user: admin\n  password: hunter2\n"),
			After:  []byte("kind: Secret\nmetadata: {name: db}\nstringData:\n  user: root\n  password: s3cr3t\n")}},
		target:    map[string]string{"p/secret.yaml": "kind: Secret\nmetadata: {name: db}\nstringData:\n  user: admin\n  password: prodpass\n"},
		files:     map[string]string{"p/secret.yaml": "kind: Secret\nmetadata: {name: db}\nstringData:\n  user: root\n  password: prodpass\n"},
		edits:     []Edit{{File: "p/secret.yaml", Field: "stringData.user", From: "(hidden: Secret)", To: "(hidden: Secret)"}},
		conflicts: []Conflict{{File: "p/secret.yaml", Field: "stringData.password", Why: "the change sets (hidden: Secret) → (hidden: Secret), but the target holds (hidden: Secret)"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Promote(Input{From: tt.from, To: tt.to, Changes: tt.changes, Current: mapReader(tt.target)})
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			for k, v := range res.Files {
				files[k] = string(v)
			}
			if tt.files == nil {
				tt.files = map[string]string{}
			}
			if diff := cmp.Diff(tt.files, files); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.deleted, res.Deleted); diff != "" {
				t.Errorf("deleted (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.edits, res.Edits); diff != "" {
				t.Errorf("edits (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.conflicts, res.Conflicts); diff != "" {
				t.Errorf("conflicts (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.skipped, res.Skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			for _, s := range []string{"hunter2", "s3cr3t", "prodpass"} {
				if strings.Contains(cmp.Diff(nil, []any{res.Edits, res.Conflicts}), s) {
					t.Errorf("a Secret value %q is in the edits or conflicts", s)
				}
			}
		})
	}
}

// TestTargetNeverLeavesTheTargetDirectory proves no file of the change,
// however it is named, maps outside the target app's directory or back
// into the source's, and that Promote never reads or writes one.
func TestTargetNeverLeavesTheTargetDirectory(t *testing.T) {
	evilTo := config.App{Name: "evil", Path: "charts/web", Helm: &config.Helm{Values: []string{"values-common.yaml", "../../.github/workflows/ci.yml"}}}
	nestedTo := config.App{Name: "nested", Path: "apps/web/overlays/staging/prod"}
	parentTo := config.App{Name: "parent", Path: "apps/web"}
	tests := []struct {
		from, to config.App
		path     string
		want     string
		why      string
	}{
		{staging, prod, "apps/web/overlays/staging/kustomization.yaml", "apps/web/overlays/prod/kustomization.yaml", ""},
		{staging, prod, "apps/web/overlays/staging/sub/dir/patch.yaml", "apps/web/overlays/prod/sub/dir/patch.yaml", ""},
		{staging, prod, "apps/web/overlays/staging/../../../../etc/passwd", "", "outside web-staging's directory"},
		{staging, prod, "apps/web/overlays/staging/../prod/kustomization.yaml", "", "outside web-staging's directory"},
		{staging, prod, "/apps/web/overlays/staging/x.yaml", "", "outside web-staging's directory"},
		{staging, prod, `apps/web/overlays/staging/..\..\x.yaml`, "", "outside web-staging's directory"},
		{staging, prod, "apps/web/overlays/staging/x\x00.yaml", "", "outside web-staging's directory"},
		{staging, prod, "apps/web/overlays/staging", "", "outside web-staging's directory"},
		{staging, prod, "apps/web/base/deploy.yaml", "", "outside web-staging's directory"},
		{chartS, evilTo, "charts/web/values-staging.yaml", "", "would leave the target's directory"},
		{staging, nestedTo, "apps/web/overlays/staging/prod/x.yaml", "", "a file of nested's own directory"},
		{staging, nestedTo, "apps/web/overlays/staging/x.yaml", "", "would land inside the source's own directory"},
		{parentTo, staging, "apps/web/overlays/staging/x.yaml", "", "a file of web-staging's own directory"},
		{nestedTo, parentTo, "apps/web/overlays/staging/prod/x.yaml", "", "a file of parent's own directory"},
		{config.App{Name: "up", Path: "../x"}, prod, "../x/y.yaml", "", "an app's path is not a directory inside the repository"},
	}
	for _, tt := range tests {
		got, why := Target(tt.from, tt.to, tt.path)
		if got != tt.want || why != tt.why {
			t.Errorf("Target(%s → %s, %q) = %q, %q; want %q, %q", tt.from.Name, tt.to.Name, tt.path, got, why, tt.want, tt.why)
		}
	}
	// Through Promote: the reader is never asked for, and nothing is
	// written to, a path outside prod's directory.
	var asked []string
	read := func(p string) ([]byte, bool, error) {
		asked = append(asked, p)
		return []byte("a: 1\n"), true, nil
	}
	res, err := Promote(Input{From: staging, To: prod, Current: read, Changes: []FileChange{
		{Path: "apps/web/overlays/staging/../../../../.github/workflows/ci.yml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")},
		{Path: "apps/web/overlays/staging/ok.yaml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"apps/web/overlays/prod/ok.yaml"}, asked); diff != "" {
		t.Errorf("paths read (-want +got):\n%s", diff)
	}
	for p := range res.Files {
		if !strings.HasPrefix(p, prod.Path+"/") {
			t.Errorf("wrote %s, outside %s", p, prod.Path)
		}
	}
}

// TestPromoteRefusesAFileLeadingOutside proves a target file that is a
// symbolic link out of the target's directory is left for a human and the
// rest of the change still promoted.
func TestPromoteRefusesAFileLeadingOutside(t *testing.T) {
	read := func(p string) ([]byte, bool, error) {
		if p == "apps/web/overlays/prod/link.yaml" {
			return nil, false, ErrNotConfined
		}
		return []byte("a: 1\n"), true, nil
	}
	res, err := Promote(Input{From: staging, To: prod, Current: read, Changes: []FileChange{
		{Path: "apps/web/overlays/staging/link.yaml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")},
		{Path: "apps/web/overlays/staging/ok.yaml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Conflict{{File: "apps/web/overlays/prod/link.yaml", Why: "leads outside web-prod's directory (a symbolic link): not read, not written"}}
	if diff := cmp.Diff(want, res.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	if _, ok := res.Files["apps/web/overlays/prod/link.yaml"]; ok || string(res.Files["apps/web/overlays/prod/ok.yaml"]) != "a: 2\n" {
		t.Errorf("files: %q", res.Files)
	}
}

// TestPromoteReadError proves a target that cannot be read fails the
// promotion with the file and app named, rather than promoting blind.
func TestPromoteReadError(t *testing.T) {
	_, err := Promote(Input{From: staging, To: prod, Current: func(string) ([]byte, bool, error) { return nil, false, errors.New("too large") },
		Changes: []FileChange{{Path: "apps/web/overlays/staging/a.yaml", Before: []byte("a: 1\n"), After: []byte("a: 2\n")}}})
	if err == nil || err.Error() != "read apps/web/overlays/prod/a.yaml of app web-prod: too large" {
		t.Fatalf("err = %v", err)
	}
}

func mapReader(files map[string]string) Reader {
	return func(p string) ([]byte, bool, error) {
		v, ok := files[p]
		if !ok {
			return nil, false, nil
		}
		return []byte(v), true, nil
	}
}
