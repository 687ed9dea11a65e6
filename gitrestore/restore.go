// Package gitrestore makes the Git half of a revert pull request: a commit
// on top of the base branch's head that puts an app's paths back as they
// were before a merge, pushed to a branch of its own. Files that later
// commits changed again are left as they are and reported, never dropped.
// It works on Git objects alone (go-git, no working tree, no git binary).
package gitrestore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Signature is who a revert commit is by; its time is the commit's.
type Signature struct {
	Name, Email string
}

// Request says what to restore and where to push it.
type Request struct {
	// URL is the repository's clone URL (http or https).
	URL string
	// Token is an installation token with contents: write, sent as HTTP
	// basic auth (x-access-token:Token) for the fetch and the push.
	Token string
	// Base is the base branch the revert is made on, e.g. "main".
	Base string
	// Before is the commit whose content of Paths is restored (the last
	// healthy applied commit).
	Before string
	// After is the commit (usually a merge commit) whose change to Paths
	// is undone; it must be on Base.
	After string
	// Paths are repository-relative files or directories (an app's path,
	// its patches, its values files); "." is the whole repository.
	Paths []string
	// Branch is created or force-updated with the revert commit; it may
	// not be Base.
	Branch string
	// Message is the revert commit's message.
	Message string
	// Author signs the revert commit (as author and committer).
	Author Signature
}

// Result is what a revert did.
type Result struct {
	// Commit is the new commit at Branch; empty when Empty.
	Commit string
	// BaseHead is the base branch's head the commit was made on.
	BaseHead string
	// Restored lists, sorted, the files the commit changed: modified,
	// re-added or deleted.
	Restored []string
	// Later lists the files After changed under Paths that later commits
	// changed again, left as at BaseHead, with those commits.
	Later []LaterChange
	// Empty is set when nothing was left to restore (the base already has
	// Before's content, or every change was changed again): no commit was
	// made and nothing was pushed.
	Empty bool
}

// ErrNotOnBase is wrapped when After is not in the base branch's history:
// there is no merged change to undo there.
var ErrNotOnBase = errors.New("commit is not on the base branch")

// Restorer makes revert commits from a cache of repositories, one bare
// repository per URL under Dir, kept between runs so a fetch brings only
// what is new. Its methods may be called concurrently; runs on the same
// repository take turns.
type Restorer struct {
	// Dir holds the caches, under Dir/restore/.
	Dir string
	// Now stamps revert commits; time.Now when nil.
	Now func() time.Time

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Restore makes, on the current head of req.Base, a commit that undoes
// req.After's change to req.Paths (back to req.Before's content) wherever
// no later commit changed the same file again, and force-pushes it to
// req.Branch. It pushes nothing when there is nothing to restore.
func (r *Restorer) Restore(ctx context.Context, req Request) (*Result, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	repo, head, unlock, err := r.openBase(ctx, req)
	if err != nil {
		return nil, err
	}
	defer unlock()
	before, after, err := fetchCommits(ctx, repo, req)
	if err != nil {
		return nil, err
	}
	onBase, err := after.IsAncestor(head)
	if err != nil {
		return nil, fmt.Errorf("check commit %s is on %s: %w", after.Hash, req.Base, err)
	}
	if !onBase && after.Hash != head.Hash {
		return nil, fmt.Errorf("revert commit %s: %w %s (head %s)", after.Hash, ErrNotOnBase, req.Base, head.Hash)
	}
	plan, err := planFor(repo, req.Paths, before, after, head)
	if err != nil {
		return nil, err
	}
	res := &Result{BaseHead: head.Hash.String()}
	for _, c := range plan.Restore {
		res.Restored = append(res.Restored, c.Path)
	}
	if res.Later, err = laterChanges(ctx, repo.Storer, after, head, plan.Later); err != nil {
		return nil, fmt.Errorf("find commits after %s: %w", after.Hash, err)
	}
	if len(plan.Restore) == 0 {
		res.Empty = true
		return res, nil
	}
	commit, err := r.commit(repo, req, head, plan.Restore)
	if err != nil {
		return nil, err
	}
	if err := push(ctx, repo, req, commit); err != nil {
		return nil, err
	}
	res.Commit = commit.String()
	return res, nil
}

// openBase takes the repository's cache for the caller, up to date with
// req.Base, and returns its head; unlock hands the cache back, and must be
// called (it is nil on an error).
func (r *Restorer) openBase(ctx context.Context, req Request) (repo *git.Repository, head *object.Commit, unlock func(), err error) {
	dir := r.cacheDir(req.URL)
	m := r.lock(dir)
	m.Lock()
	defer func() {
		if err != nil {
			m.Unlock()
		}
	}()
	if repo, err = openCache(dir, req.URL); err != nil {
		return nil, nil, nil, err
	}
	if head, err = fetchBase(ctx, repo, req); err != nil {
		return nil, nil, nil, err
	}
	return repo, head, m.Unlock, nil
}

// validateTarget checks where a commit is fetched from and pushed to: an
// http(s) clone URL (go-git's file and ssh transports would start git
// processes or need keys this package has no business with), and two
// valid branches, the pushed one never the base.
func validateTarget(rawURL, base, branch string) error {
	if u, err := url.Parse(rawURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("url %q: not an http(s) clone URL", redact(rawURL))
	}
	for _, b := range []struct{ field, name string }{{"base", base}, {"branch", branch}} {
		if err := plumbing.NewBranchReferenceName(b.name).Validate(); err != nil || b.name == "" {
			return fmt.Errorf("%s %q: not a valid branch name", b.field, b.name)
		}
	}
	if branch == base {
		return fmt.Errorf("branch %q: is the base branch; gantry never pushes to it", branch)
	}
	return nil
}

func (req Request) validate() error {
	if err := validateTarget(req.URL, req.Base, req.Branch); err != nil {
		return err
	}
	if err := ValidatePaths(req.Paths); err != nil {
		return err
	}
	for _, c := range []struct{ field, sha string }{{"before", req.Before}, {"after", req.After}} {
		if !plumbing.IsHash(c.sha) {
			return fmt.Errorf("%s %q: not a full commit SHA", c.field, c.sha)
		}
	}
	return nil
}

// planFor reads the three commits' files under paths and plans the revert.
func planFor(repo *git.Repository, paths []string, commits ...*object.Commit) (Plan, error) {
	var files [3]map[string]File
	for i, c := range commits {
		tree, err := c.Tree()
		if err != nil {
			return Plan{}, fmt.Errorf("read tree of commit %s: %w", c.Hash, err)
		}
		if files[i], err = filesUnder(repo.Storer, tree, paths); err != nil {
			return Plan{}, fmt.Errorf("read commit %s: %w", c.Hash, err)
		}
	}
	return PlanRevert(files[0], files[1], files[2]), nil
}

// commit stores a commit whose tree is head's with changes applied and
// whose parent is head.
func (r *Restorer) commit(repo *git.Repository, req Request, head *object.Commit, changes []Change) (plumbing.Hash, error) {
	headTree, err := head.Tree()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read tree of commit %s: %w", head.Hash, err)
	}
	byPath := make(map[string]*File, len(changes))
	for _, c := range changes {
		byPath[c.Path] = c.To
	}
	tree, empty, err := rewriteTree(repo.Storer, headTree, "", byPath)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("build tree on commit %s: %w", head.Hash, err)
	}
	if empty {
		if tree, err = emptyTree(repo); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	sig := object.Signature{Name: req.Author.Name, Email: req.Author.Email, When: now()}
	c := &object.Commit{Author: sig, Committer: sig, Message: req.Message, TreeHash: tree, ParentHashes: []plumbing.Hash{head.Hash}}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write commit on %s: %w", head.Hash, err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write commit on %s: %w", head.Hash, err)
	}
	return h, nil
}

// emptyTree stores the tree with no entries, for a revert that removes
// every file (an app at the repository root that After created).
func emptyTree(repo *git.Repository) (plumbing.Hash, error) {
	obj := repo.Storer.NewEncodedObject()
	if err := (&object.Tree{}).Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write empty tree: %w", err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write empty tree: %w", err)
	}
	return h, nil
}

func (r *Restorer) lock(key string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.locks == nil {
		r.locks = map[string]*sync.Mutex{}
	}
	if r.locks[key] == nil {
		r.locks[key] = &sync.Mutex{}
	}
	return r.locks[key]
}
