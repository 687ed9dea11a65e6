package gitrestore

import (
	"context"
	"errors"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
)

func (s *sim) commitRequest(files map[string]string, deleted ...string) CommitRequest {
	req := CommitRequest{
		URL: s.url, Token: s.token, Base: "main", Branch: "gantry/drift/web",
		Message: "Accept drift of web\n", Author: Signature{Name: "gantry[bot]", Email: "gantry@example.com"},
		Files: map[string][]byte{}, Deleted: deleted,
	}
	for p, c := range files {
		req.Files[p] = []byte(c)
	}
	return req
}

// Files written and deleted land as one commit on the base head, pushed
// over smart HTTP to the branch; main does not move.
func TestCommitWritesFilesOnBaseHead(t *testing.T) {
	s := newSim(t, initialFiles)
	head := s.push(t, map[string]string{"README.md": "readme v2\n"}, nil, "later change")
	r := &Restorer{Dir: t.TempDir()}
	req := s.commitRequest(map[string]string{
		"apps/web/deploy.yaml":   "web drifted\n",
		"patches/web/drift.yaml": "new file\n",
	}, "apps/web/svc.yaml", "apps/web/never-was.yaml")
	res, err := r.Commit(context.Background(), req)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if diff := cmp.Diff(&CommitResult{Commit: res.Commit, BaseHead: head}, res); diff != "" || res.Commit == "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	got := s.branch(t, req.Branch)
	if got == nil || got.Hash.String() != res.Commit {
		t.Fatalf("branch %s = %v, want %s", req.Branch, got, res.Commit)
	}
	if diff := cmp.Diff([]plumbing.Hash{plumbing.NewHash(head)}, got.ParentHashes); diff != "" {
		t.Errorf("parents (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"README.md":              "readme v2\n",
		"apps/api/deploy.yaml":   "api v1\n",
		"apps/web/deploy.yaml":   "web drifted\n",
		"patches/web.yaml":       "patch v1\n",
		"patches/web/drift.yaml": "new file\n",
	}
	if diff := cmp.Diff(want, files(t, got)); diff != "" {
		t.Errorf("files at %s (-want +got):\n%s", req.Branch, diff)
	}
	if got.Author.Name != "gantry[bot]" || got.Message != req.Message {
		t.Errorf("commit by %q with %q", got.Author.Name, got.Message)
	}
	if m := s.branch(t, "main"); m.Hash.String() != head {
		t.Errorf("main moved to %s", m.Hash)
	}
}

// A second commit to the same branch replaces the first (force-update),
// built on the newest base head, not on the branch's old commit.
func TestCommitForceUpdatesTheBranch(t *testing.T) {
	s := newSim(t, initialFiles)
	r := &Restorer{Dir: t.TempDir()}
	first, err := r.Commit(context.Background(), s.commitRequest(map[string]string{"apps/web/deploy.yaml": "drift 1\n"}))
	if err != nil {
		t.Fatal(err)
	}
	head := s.push(t, map[string]string{"apps/api/deploy.yaml": "api v2\n"}, nil, "base moved")
	second, err := r.Commit(context.Background(), s.commitRequest(map[string]string{"apps/web/svc.yaml": "drift 2\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if second.Commit == first.Commit || second.BaseHead != head {
		t.Fatalf("second commit %s on %s, want a new commit on %s", second.Commit, second.BaseHead, head)
	}
	got := s.branch(t, "gantry/drift/web")
	if got.Hash.String() != second.Commit {
		t.Fatalf("branch at %s, want %s", got.Hash, second.Commit)
	}
	f := files(t, got)
	if f["apps/web/deploy.yaml"] != "web v1\n" || f["apps/web/svc.yaml"] != "drift 2\n" || f["apps/api/deploy.yaml"] != "api v2\n" {
		t.Errorf("files after force-update: %v", f)
	}
}

// Content the base already has makes no commit and pushes nothing.
func TestCommitEmptyWhenBaseAlreadyHasTheFiles(t *testing.T) {
	s := newSim(t, initialFiles)
	r := &Restorer{Dir: t.TempDir()}
	res, err := r.Commit(context.Background(), s.commitRequest(map[string]string{"apps/web/deploy.yaml": "web v1\n"}, "apps/web/gone.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&CommitResult{BaseHead: s.initial, Empty: true}, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	if b := s.branch(t, "gantry/drift/web"); b != nil {
		t.Errorf("branch pushed at %s, want none", b.Hash)
	}
}

func TestCommitRefusesBadRequests(t *testing.T) {
	s := newSim(t, initialFiles)
	r := &Restorer{Dir: t.TempDir()}
	for name, mut := range map[string]func(*CommitRequest){
		"to base":         func(q *CommitRequest) { q.Branch = "main" },
		"nothing":         func(q *CommitRequest) { q.Files = nil },
		"escaping path":   func(q *CommitRequest) { q.Files["../x"] = []byte("x") },
		"write & delete":  func(q *CommitRequest) { q.Deleted = []string{"a.yaml"} },
		"whole repo":      func(q *CommitRequest) { q.Deleted = []string{"."} },
		"file transport":  func(q *CommitRequest) { q.URL = "file:///etc" },
		"bad branch name": func(q *CommitRequest) { q.Branch = "a..b" },
	} {
		t.Run(name, func(t *testing.T) {
			req := s.commitRequest(map[string]string{"a.yaml": "a\n"})
			mut(&req)
			if _, err := r.Commit(context.Background(), req); err == nil {
				t.Fatal("Commit succeeded, want a refusal")
			} else if name == "escaping path" && !errors.Is(err, ErrBadPath) {
				t.Errorf("error %v, want ErrBadPath", err)
			}
		})
	}
	if b := s.branch(t, "gantry/drift/web"); b != nil {
		t.Errorf("a refused request pushed %s", b.Hash)
	}
}
