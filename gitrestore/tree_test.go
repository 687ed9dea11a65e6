package gitrestore

import (
	"errors"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/google/go-cmp/cmp"
)

// storeTree writes files (path -> content) as a tree into s.
func storeTree(t *testing.T, s *memory.Storage, files map[string]string) *object.Tree {
	t.Helper()
	changes := map[string]*File{}
	for p, content := range files {
		obj := s.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		_, _ = w.Write([]byte(content))
		_ = w.Close()
		h, err := s.SetEncodedObject(obj)
		if err != nil {
			t.Fatal(err)
		}
		f := blob(content)
		if f.Hash != h {
			t.Fatalf("blob hash of %q: %s, stored as %s", content, f.Hash, h)
		}
		changes[p] = &f
	}
	h, _, err := rewriteTree(s, nil, "", changes)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := object.GetTree(s, h)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// contents maps each file of tree to the content it was stored with, read
// back through the blob's hash.
func contents(t *testing.T, s *memory.Storage, h plumbing.Hash, names map[plumbing.Hash]string) map[string]string {
	t.Helper()
	tree, err := object.GetTree(s, h)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]File{}
	if err := walk(s, tree, "", files); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for p, f := range files {
		out[p] = names[f.Hash]
	}
	return out
}

func TestRewriteTreeChangesOnlyWhatItIsTold(t *testing.T) {
	s := memory.NewStorage()
	base := storeTree(t, s, map[string]string{
		"README.md":           "readme",
		"apps/web/deploy.yml": "web v2",
		"apps/web/hpa.yml":    "hpa",
		"apps/api/deploy.yml": "api",
		"apps/only/one.yml":   "only",
	})
	names := map[plumbing.Hash]string{}
	for _, c := range []string{"readme", "web v1", "web v2", "hpa", "api", "only", "svc"} {
		names[blob(c).Hash] = c
	}
	changes := map[string]*File{
		"apps/web/deploy.yml":   to(blob("web v1")), // modified
		"apps/web/hpa.yml":      nil,                // deleted
		"apps/web/svc.yml":      to(blob("svc")),    // re-added
		"apps/only/one.yml":     nil,                // empties its directory
		"apps/new/deep/svc.yml": to(blob("svc")),    // creates directories
		"apps/missing/x.yml":    nil,                // deletes what is not there
	}
	h, empty, err := rewriteTree(s, base, "", changes)
	if err != nil || empty {
		t.Fatalf("rewriteTree: empty=%v, %v", empty, err)
	}
	want := map[string]string{
		"README.md":             "readme",
		"apps/web/deploy.yml":   "web v1",
		"apps/web/svc.yml":      "svc",
		"apps/api/deploy.yml":   "api",
		"apps/new/deep/svc.yml": "svc",
	}
	if diff := cmp.Diff(want, contents(t, s, h, names)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	// The untouched subtree is the very same object, not a rewritten copy.
	got, err := object.GetTree(s, h)
	if err != nil {
		t.Fatal(err)
	}
	oldAPI, _ := lookup(s, base, "apps/api")
	newAPI, _ := lookup(s, got, "apps/api")
	if oldAPI == nil || newAPI == nil || oldAPI.Hash != newAPI.Hash {
		t.Errorf("apps/api: %v before, %v after; want the same tree", oldAPI, newAPI)
	}
	// A directory that loses its last file is gone, as Git keeps no empty ones.
	if e, _ := lookup(s, got, "apps/only"); e != nil {
		t.Errorf("apps/only still in the tree: %v", e)
	}
}

func TestRewriteTreeRefusesAFileOverADirectory(t *testing.T) {
	s := memory.NewStorage()
	base := storeTree(t, s, map[string]string{"apps/web/deploy.yml": "web"})
	_, _, err := rewriteTree(s, base, "", map[string]*File{"apps/web": to(blob("a file"))})
	if !errors.Is(err, errPathConflict) {
		t.Errorf("file over a directory: %v, want errPathConflict", err)
	}
	_, _, err = rewriteTree(s, base, "", map[string]*File{"apps/web/deploy.yml/x": to(blob("under a file"))})
	if !errors.Is(err, errPathConflict) {
		t.Errorf("file under a file: %v, want errPathConflict", err)
	}
	// Replacing a directory by a file works when the directory's files go too.
	h, _, err := rewriteTree(s, base, "", map[string]*File{"apps/web/deploy.yml": nil, "apps/web": to(blob("a file"))})
	if err != nil {
		t.Fatalf("directory replaced by a file: %v", err)
	}
	got, _ := object.GetTree(s, h)
	if e, _ := lookup(s, got, "apps/web"); e == nil || e.Hash != blob("a file").Hash {
		t.Errorf("apps/web = %v, want the file", e)
	}
}
