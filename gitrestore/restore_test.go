package gitrestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gantryops/gantry/fixtures/githubsim"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/google/go-cmp/cmp"
)

const (
	owner  = "acme"
	name   = "ops"
	author = "alice"
)

// sim is a GitHub simulator with one repository, reached by gantry over
// smart HTTP with an installation token.
type sim struct {
	srv     *githubsim.Server
	url     string
	token   string
	initial string
}

func newSim(t testing.TB, files map[string]string) *sim {
	t.Helper()
	srv := githubsim.New(githubsim.Options{T: t}).Start()
	sha, err := srv.CreateRepo(owner, name, githubsim.RepoOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetPermission(owner, name, author, "write"); err != nil {
		t.Fatal(err)
	}
	tok, err := srv.InstallationToken(owner)
	if err != nil {
		t.Fatal(err)
	}
	return &sim{srv: srv, url: srv.URL() + "/" + owner + "/" + name + ".git", token: tok, initial: sha}
}

// push commits to main as alice and returns the commit.
func (s *sim) push(t testing.TB, files map[string]string, deletes []string, msg string) string {
	t.Helper()
	sha, err := s.srv.Push(author, owner, name, "main", files, deletes, msg)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

// merge opens a pull request with files and deletes and merges it with a
// merge commit, which it returns.
func (s *sim) merge(t testing.TB, head string, files map[string]string, deletes []string) string {
	t.Helper()
	n, _, err := s.srv.OpenPR(author, owner, name, githubsim.PullOptions{Head: head, Title: "change " + head, Files: files, Delete: deletes})
	if err != nil {
		t.Fatal(err)
	}
	sha, err := s.srv.MergePR(author, owner, name, n)
	if err != nil {
		t.Fatal(err)
	}
	return sha
}

func (s *sim) request(before, after string, paths ...string) Request {
	return Request{
		URL: s.url, Token: s.token, Base: "main", Before: before, After: after, Paths: paths,
		Branch: "gantry/revert/" + after[:7], Message: "Revert " + after[:7] + "\n",
		Author: Signature{Name: "gantry[bot]", Email: "gantry@example.com"},
	}
}

// open reads the simulator's bare repository directly.
func (s *sim) open(t *testing.T) *git.Repository {
	t.Helper()
	repo, err := git.PlainOpen(s.srv.RepoDir(owner, name))
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// branch returns the commit at a branch on the server, or nil.
func (s *sim) branch(t *testing.T, branch string) *object.Commit {
	t.Helper()
	repo := s.open(t)
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// files reads every file of a commit on the server.
func files(t *testing.T, c *object.Commit) map[string]string {
	t.Helper()
	iter, err := c.Files()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	err = iter.ForEach(func(f *object.File) error {
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		out[f.Name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func restore(t testing.TB, r *Restorer, req Request) *Result {
	t.Helper()
	res, err := r.Restore(context.Background(), req)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return res
}

var initialFiles = map[string]string{
	"README.md":            "readme v1\n",
	"apps/web/deploy.yaml": "web v1\n",
	"apps/web/svc.yaml":    "svc v1\n",
	"apps/api/deploy.yaml": "api v1\n",
	"patches/web.yaml":     "patch v1\n",
}

// A merged pull request's change to an app's paths is undone on the base
// head over smart HTTP: a modified file goes back, an added one goes, a
// deleted one returns; what the PR changed outside the paths stays.
func TestRestoreUndoesAMergedPullRequest(t *testing.T) {
	s := newSim(t, initialFiles)
	after := s.merge(t, "feature", map[string]string{
		"apps/web/deploy.yaml": "web v2\n",
		"apps/web/hpa.yaml":    "hpa\n",
		"patches/web.yaml":     "patch v2\n",
		"apps/api/deploy.yaml": "api v2\n",
		"README.md":            "readme v2\n",
	}, []string{"apps/web/svc.yaml"})
	r := &Restorer{Dir: t.TempDir()}
	req := s.request(s.initial, after, "apps/web", "patches/web.yaml")
	res := restore(t, r, req)

	want := &Result{
		Commit: res.Commit, BaseHead: after,
		Restored: []string{"apps/web/deploy.yaml", "apps/web/hpa.yaml", "apps/web/svc.yaml", "patches/web.yaml"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Result (-want +got):\n%s", diff)
	}
	got := s.branch(t, req.Branch)
	if got == nil || got.Hash.String() != res.Commit {
		t.Fatalf("branch %s = %v, want the commit %s", req.Branch, got, res.Commit)
	}
	if diff := cmp.Diff([]plumbing.Hash{plumbing.NewHash(after)}, got.ParentHashes); diff != "" {
		t.Errorf("parents (-want +got):\n%s", diff)
	}
	if got.Author.Name != "gantry[bot]" || got.Message != req.Message {
		t.Errorf("commit by %q with %q, want gantry[bot] with %q", got.Author.Name, got.Message, req.Message)
	}
	wantFiles := map[string]string{
		"README.md":            "readme v2\n", // outside the paths: as at the base head
		"apps/api/deploy.yaml": "api v2\n",
		"apps/web/deploy.yaml": "web v1\n",
		"apps/web/svc.yaml":    "svc v1\n",
		"patches/web.yaml":     "patch v1\n",
	}
	if diff := cmp.Diff(wantFiles, files(t, got)); diff != "" {
		t.Errorf("files at %s (-want +got):\n%s", req.Branch, diff)
	}
	if head := s.branch(t, "main"); head.Hash.String() != after {
		t.Errorf("main moved to %s", head.Hash)
	}
}

// A file After changed that a later commit changed again keeps the later
// content and is reported with the commits that changed it; the rest of
// After's change is still undone.
func TestRestoreLeavesLaterChangesAndNamesTheirCommits(t *testing.T) {
	s := newSim(t, initialFiles)
	after := s.merge(t, "feature", map[string]string{
		"apps/web/deploy.yaml": "web v2\n",
		"apps/web/svc.yaml":    "svc v2\n",
	}, nil)
	later := s.push(t, map[string]string{"apps/web/deploy.yaml": "web v3\n"}, nil, "Bump web to v3\n\nbody")
	s.push(t, map[string]string{"apps/api/deploy.yaml": "api v2\n"}, nil, "Bump api")
	head := s.merge(t, "again", map[string]string{"apps/web/deploy.yaml": "web v4\n"}, nil)
	prCommit := s.branch(t, "again").Hash.String()

	res := restore(t, &Restorer{Dir: t.TempDir()}, s.request(s.initial, after, "apps/web"))
	wantLater := []LaterChange{{Path: "apps/web/deploy.yaml", Commits: []CommitRef{
		{SHA: later, Subject: "Bump web to v3"},
		{SHA: prCommit, Subject: "change again"},
		{SHA: head, Subject: "Merge pull request #2 from acme/again"},
	}}}
	if diff := cmp.Diff(wantLater, res.Later); diff != "" {
		t.Errorf("Later (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apps/web/svc.yaml"}, res.Restored); diff != "" {
		t.Errorf("Restored (-want +got):\n%s", diff)
	}
	got := files(t, s.branch(t, "gantry/revert/"+after[:7]))
	if got["apps/web/deploy.yaml"] != "web v4\n" || got["apps/web/svc.yaml"] != "svc v1\n" {
		t.Errorf("deploy.yaml %q (want the later web v4), svc.yaml %q (want svc v1)", got["apps/web/deploy.yaml"], got["apps/web/svc.yaml"])
	}
}

// Nothing is pushed when there is nothing to restore: the base already has
// Before's content, or After changed nothing under the paths, or every
// file it changed was changed again.
func TestRestoreWithNothingToRestorePushesNothing(t *testing.T) {
	s := newSim(t, initialFiles)
	after := s.merge(t, "feature", map[string]string{"apps/web/deploy.yaml": "web v2\n", "apps/api/deploy.yaml": "api v2\n"}, nil)
	r := &Restorer{Dir: t.TempDir()}

	outside := restore(t, r, s.request(s.initial, after, "patches"))
	s.push(t, map[string]string{"apps/web/deploy.yaml": "web v1\n"}, nil, "Put web back by hand")
	byHand := restore(t, r, s.request(s.initial, after, "apps/web"))
	s.push(t, map[string]string{"apps/api/deploy.yaml": "api v3\n"}, nil, "Bump api")
	changedAgain := restore(t, r, s.request(s.initial, after, "apps/api"))

	for what, res := range map[string]*Result{"outside the paths": outside, "restored by hand": byHand, "changed again": changedAgain} {
		if !res.Empty || res.Commit != "" || len(res.Restored) != 0 {
			t.Errorf("%s: %+v, want Empty with no commit", what, res)
		}
	}
	if len(changedAgain.Later) != 1 || changedAgain.Later[0].Path != "apps/api/deploy.yaml" {
		t.Errorf("changed again: Later = %+v, want apps/api/deploy.yaml", changedAgain.Later)
	}
	if b := s.branch(t, "gantry/revert/"+after[:7]); b != nil {
		t.Errorf("branch pushed at %s, want none", b.Hash)
	}
}

// A revert branch left from an earlier run is force-updated onto the
// current base head, through the same cache.
func TestRestoreForceUpdatesAnExistingBranch(t *testing.T) {
	s := newSim(t, initialFiles)
	after := s.merge(t, "feature", map[string]string{"apps/web/deploy.yaml": "web v2\n"}, nil)
	req := s.request(s.initial, after, "apps/web")
	if _, err := s.srv.Push(author, owner, name, req.Branch, map[string]string{"stray.txt": "x"}, nil, "unrelated"); err != nil {
		t.Fatal(err)
	}
	r := &Restorer{Dir: t.TempDir()}
	first := restore(t, r, req)
	head := s.push(t, map[string]string{"README.md": "readme v2\n"}, nil, "Docs")
	second := restore(t, r, req)

	got := s.branch(t, req.Branch)
	if got.Hash.String() != second.Commit || second.Commit == first.Commit {
		t.Fatalf("branch at %s; first run %s, second %s: want the second", got.Hash, first.Commit, second.Commit)
	}
	if second.BaseHead != head || len(got.ParentHashes) != 1 || got.ParentHashes[0].String() != head {
		t.Errorf("second run on %s with parents %v, want on the new head %s", second.BaseHead, got.ParentHashes, head)
	}
	f := files(t, got)
	if _, ok := f["stray.txt"]; ok || f["apps/web/deploy.yaml"] != "web v1\n" || f["README.md"] != "readme v2\n" {
		t.Errorf("files at %s: %v", req.Branch, f)
	}
}

// A request that could touch what it must not is refused before any
// network traffic: bad paths, pushing to the base, other transports.
func TestRestoreRefusesBadRequests(t *testing.T) {
	good := Request{
		URL: "http://127.0.0.1:1/acme/ops.git", Token: "t", Base: "main",
		Before: strings.Repeat("a", 40), After: strings.Repeat("b", 40),
		Paths: []string{"apps/web"}, Branch: "gantry/revert/bbbbbbb",
	}
	tests := []struct {
		name   string
		modify func(*Request)
		want   string
		is     error
	}{
		{"a path leaving the repository", func(r *Request) { r.Paths = []string{"apps/web", "../../etc"} }, `"../../etc"`, ErrBadPath},
		{"an absolute path", func(r *Request) { r.Paths = []string{"/apps/web"} }, `"/apps/web"`, ErrBadPath},
		{"no paths", func(r *Request) { r.Paths = nil }, "none given", ErrBadPath},
		{"the base as the branch", func(r *Request) { r.Branch = "main" }, "is the base branch", nil},
		{"an invalid branch", func(r *Request) { r.Branch = "gantry/revert/a..b" }, "not a valid branch name", nil},
		{"a short SHA", func(r *Request) { r.After = "bbbbbbb" }, `after "bbbbbbb"`, nil},
		{"a file URL", func(r *Request) { r.URL = "file:///srv/ops.git" }, "not an http(s) clone URL", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.modify(&req)
			dir := t.TempDir()
			_, err := (&Restorer{Dir: dir}).Restore(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Restore = %v, want an error with %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Restore = %v, want it to wrap %v", err, tt.is)
			}
		})
	}
}

// A revert of a commit that never reached the base is refused by name.
func TestRestoreRefusesACommitNotOnTheBase(t *testing.T) {
	s := newSim(t, initialFiles)
	unmerged, err := s.srv.Push(author, owner, name, "wip", map[string]string{"apps/web/deploy.yaml": "wip\n"}, nil, "wip")
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Restorer{Dir: t.TempDir()}).Restore(context.Background(), s.request(s.initial, unmerged, "apps/web"))
	if !errors.Is(err, ErrNotOnBase) || !strings.Contains(err.Error(), unmerged) {
		t.Errorf("Restore = %v, want ErrNotOnBase naming %s", err, unmerged)
	}
}

// A push the server refuses fails with the server's reason, and leaves
// no branch behind.
func TestRestorePushRefusedSaysWhy(t *testing.T) {
	t.Run("protected branch", func(t *testing.T) {
		s := newSim(t, initialFiles)
		after := s.merge(t, "feature", map[string]string{"apps/web/deploy.yaml": "web v2\n"}, nil)
		req := s.request(s.initial, after, "apps/web")
		if err := s.srv.SetBranchProtection(owner, name, req.Branch, githubsim.BranchProtection{RequirePullRequest: true}); err != nil {
			t.Fatal(err)
		}
		_, err := (&Restorer{Dir: t.TempDir()}).Restore(context.Background(), req)
		for _, want := range []string{"push " + req.Branch, "protected branch hook declined", "Changes must be made through a pull request"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Restore = %v, want an error with %q", err, want)
			}
		}
		if b := s.branch(t, req.Branch); b != nil {
			t.Errorf("branch pushed at %s", b.Hash)
		}
	})
	t.Run("read-only token", func(t *testing.T) {
		s := newSim(t, initialFiles)
		after := s.merge(t, "feature", map[string]string{"apps/web/deploy.yaml": "web v2\n"}, nil)
		tok, err := s.srv.InstallationTokenWith(owner, githubsim.TokenOptions{Permissions: githubsim.Permissions{"contents": "read"}})
		if err != nil {
			t.Fatal(err)
		}
		req := s.request(s.initial, after, "apps/web")
		req.Token = tok
		_, err = (&Restorer{Dir: t.TempDir()}).Restore(context.Background(), req)
		if !errors.Is(err, transport.ErrAuthorizationFailed) || !strings.Contains(err.Error(), "push "+req.Branch) ||
			!strings.Contains(err.Error(), "Permission to acme/ops.git denied") || strings.Contains(err.Error(), tok) {
			t.Errorf("Restore = %v, want the server's 403 on the push, without the token", err)
		}
		if b := s.branch(t, req.Branch); b != nil {
			t.Errorf("branch pushed at %s", b.Hash)
		}
	})
}

// BenchmarkRestore reverts a merge with 200 later commits on the base
// (one of them changing a reverted file again): cold makes a new cache each
// time, warm reuses one, so its fetch brings nothing new.
func BenchmarkRestore(b *testing.B) {
	s := newSim(b, initialFiles)
	after := s.merge(b, "feature", map[string]string{"apps/web/deploy.yaml": "web v2\n", "apps/web/svc.yaml": "svc v2\n"}, nil)
	for i := range 200 {
		f := fmt.Sprintf("apps/other%d/cm.yaml", i%20)
		if i == 100 {
			f = "apps/web/svc.yaml"
		}
		s.push(b, map[string]string{f: fmt.Sprintf("v%d\n", i)}, nil, fmt.Sprintf("commit %d", i))
	}
	req := s.request(s.initial, after, "apps/web")
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			restore(b, &Restorer{Dir: b.TempDir()}, req)
		}
	})
	b.Run("warm", func(b *testing.B) {
		r := &Restorer{Dir: b.TempDir()}
		restore(b, r, req)
		for b.Loop() {
			restore(b, r, req)
		}
	})
}
