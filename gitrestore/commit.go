package gitrestore

import (
	"context"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// CommitRequest says which files to write on top of a base branch and
// where to push the commit (a drift pull request's branch, say).
type CommitRequest struct {
	// URL is the repository's clone URL (http or https).
	URL string
	// Token is an installation token with contents: write.
	Token string
	// Base is the branch whose head the commit is made on.
	Base string
	// Branch is created or force-updated with the commit; never Base.
	Branch string
	// Message is the commit's message.
	Message string
	// Author signs the commit (as author and committer).
	Author Signature
	// Files are repository-relative paths and their new content; a new
	// file is a regular file, an existing one keeps its executable bit.
	Files map[string][]byte
	// Deleted are repository-relative files to remove; a missing one is
	// no change.
	Deleted []string
}

// CommitResult is what Commit did.
type CommitResult struct {
	// Commit is the new commit at Branch; empty when Empty.
	Commit string
	// BaseHead is the base branch's head the commit was made on.
	BaseHead string
	// Empty is set when the files already are so at BaseHead: no commit
	// was made and nothing was pushed.
	Empty bool
}

// Commit makes, on the current head of req.Base, a commit that writes
// req.Files and removes req.Deleted, and force-pushes it to req.Branch.
// It pushes nothing when the tree would not change, so a caller can tell a
// drift that the base already holds from one that needs a pull request.
func (r *Restorer) Commit(ctx context.Context, req CommitRequest) (*CommitResult, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	// The fetch and push helpers take a revert Request; only its
	// transport fields and the commit's signature are read.
	base := Request{URL: req.URL, Token: req.Token, Base: req.Base, Branch: req.Branch, Message: req.Message, Author: req.Author}
	repo, head, unlock, err := r.openBase(ctx, base)
	if err != nil {
		return nil, err
	}
	defer unlock()
	headTree, err := head.Tree()
	if err != nil {
		return nil, fmt.Errorf("read tree of commit %s: %w", head.Hash, err)
	}
	changes, err := blobChanges(repo.Storer, headTree, req)
	if err != nil {
		return nil, err
	}
	res := &CommitResult{BaseHead: head.Hash.String()}
	byPath := make(map[string]*File, len(changes))
	for _, c := range changes {
		byPath[c.Path] = c.To
	}
	tree, empty, err := rewriteTree(repo.Storer, headTree, "", byPath)
	if err != nil {
		return nil, fmt.Errorf("build tree on commit %s: %w", head.Hash, err)
	}
	if !empty && tree == head.TreeHash {
		res.Empty = true
		return res, nil
	}
	commit, err := r.commit(repo, base, head, changes)
	if err != nil {
		return nil, err
	}
	if err := push(ctx, repo, base, commit); err != nil {
		return nil, err
	}
	res.Commit = commit.String()
	return res, nil
}

func (req CommitRequest) validate() error {
	if err := validateTarget(req.URL, req.Base, req.Branch); err != nil {
		return err
	}
	paths := append(sortedKeys(req.Files), req.Deleted...)
	if len(paths) == 0 {
		return fmt.Errorf("commit to %s: no files to write or delete: %w", req.Branch, ErrBadPath)
	}
	if err := ValidatePaths(paths); err != nil {
		return err
	}
	for _, p := range paths {
		if p == "." {
			return fmt.Errorf("path %q: names the whole repository, not a file: %w", p, ErrBadPath)
		}
	}
	for _, d := range req.Deleted {
		if _, ok := req.Files[d]; ok {
			return fmt.Errorf("path %q: both written and deleted: %w", d, ErrBadPath)
		}
	}
	return nil
}

// blobChanges stores the new contents as blobs and returns the changes to
// head's tree, sorted by path.
func blobChanges(s storer.EncodedObjectStorer, head *object.Tree, req CommitRequest) ([]Change, error) {
	var changes []Change
	for _, p := range sortedKeys(req.Files) {
		mode := filemode.Regular
		if e, err := lookup(s, head, p); err != nil {
			return nil, fmt.Errorf("read %s at base: %w", p, err)
		} else if e != nil && e.Mode == filemode.Executable {
			mode = filemode.Executable
		}
		obj := s.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, err := obj.Writer()
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		if _, err := w.Write(req.Files[p]); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		h, err := s.SetEncodedObject(obj)
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		changes = append(changes, Change{Path: p, To: &File{Hash: h, Mode: mode}})
	}
	for _, p := range req.Deleted {
		changes = append(changes, Change{Path: p})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}
