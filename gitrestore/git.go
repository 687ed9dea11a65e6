package gitrestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Refs the cache keeps, apart from the ones a checkout cache would use.
const (
	baseRefPrefix = "refs/gitrestore/base/"
	wantRefPrefix = "refs/gitrestore/want/"
	outRefPrefix  = "refs/gitrestore/out/"
	remoteName    = "origin"
)

// cacheDir names a repository's cache after its URL (without credentials),
// readable and with a hash so distinct URLs never share one.
func (r *Restorer) cacheDir(rawURL string) string {
	sum := sha256.Sum256([]byte(redact(rawURL)))
	name := strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(
		strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(redact(rawURL), "https://"), "http://"), ".git"))
	return filepath.Join(r.Dir, "restore", name+"-"+hex.EncodeToString(sum[:4])+".git")
}

// openCache opens the bare cache at dir, creating it the first time.
func openCache(dir, rawURL string) (*git.Repository, error) {
	repo, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if repo, err = git.PlainInit(dir, true); err == nil {
			// go-git fetches and pushes through a named remote; each call
			// still passes the URL it was asked for.
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{redact(rawURL)}})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open revert cache %s for %s: %w", dir, redact(rawURL), err)
	}
	return repo, nil
}

func auth(req Request) *githttp.BasicAuth {
	return &githttp.BasicAuth{Username: "x-access-token", Password: req.Token}
}

// fetch brings refspecs from req.URL into the cache, with full history
// (the walk from After to the base head needs every commit between).
func fetch(ctx context.Context, repo *git.Repository, req Request, specs ...config.RefSpec) error {
	err := repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RemoteURL:  req.URL,
		RefSpecs:   specs,
		Auth:       auth(req),
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return err
	}
	return nil
}

// fetchBase fetches the base branch and returns its head.
func fetchBase(ctx context.Context, repo *git.Repository, req Request) (*object.Commit, error) {
	local := plumbing.ReferenceName(baseRefPrefix + req.Base)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(req.Base), local))
	if err := fetch(ctx, repo, req, spec); err != nil {
		return nil, fmt.Errorf("fetch branch %s of %s: %w", req.Base, redact(req.URL), err)
	}
	ref, err := repo.Reference(local, true)
	if err != nil {
		return nil, fmt.Errorf("fetch branch %s of %s: %w", req.Base, redact(req.URL), err)
	}
	head, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("read head %s of %s: %w", ref.Hash(), req.Base, err)
	}
	return head, nil
}

// fetchCommits returns Before and After, fetching by SHA whichever the
// base branch's history did not bring.
func fetchCommits(ctx context.Context, repo *git.Repository, req Request) (before, after *object.Commit, err error) {
	var out [2]*object.Commit
	for i, sha := range []string{req.Before, req.After} {
		h := plumbing.NewHash(sha)
		c, err := repo.CommitObject(h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			spec := config.RefSpec(fmt.Sprintf("+%s:%s%s", sha, wantRefPrefix, sha))
			if err := fetch(ctx, repo, req, spec); err != nil {
				return nil, nil, fmt.Errorf("fetch commit %s of %s: %w", sha, redact(req.URL), err)
			}
			c, err = repo.CommitObject(h)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read commit %s of %s: %w", sha, redact(req.URL), err)
		}
		out[i] = c
	}
	return out[0], out[1], nil
}

// push force-updates req.Branch to commit. A refusal carries the server's
// status and whatever it said on the side band (GitHub explains protected
// branches there).
func push(ctx context.Context, repo *git.Repository, req Request, commit plumbing.Hash) error {
	local := plumbing.ReferenceName(outRefPrefix + req.Branch)
	if err := repo.Storer.SetReference(plumbing.NewHashReference(local, commit)); err != nil {
		return fmt.Errorf("push %s: record commit %s: %w", req.Branch, commit, err)
	}
	// The ref only names the commit for go-git's push; dropped after, so
	// the cache does not keep every revert ever made.
	defer func() { _ = repo.Storer.RemoveReference(local) }()
	var said bytes.Buffer
	err := repo.PushContext(ctx, &git.PushOptions{
		RemoteName: remoteName,
		RemoteURL:  req.URL,
		RefSpecs:   []config.RefSpec{config.RefSpec(fmt.Sprintf("+%s:%s", local, plumbing.NewBranchReferenceName(req.Branch)))},
		Auth:       auth(req),
		Progress:   &capped{buf: &said, max: 4096},
	})
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	if msg := strings.TrimSpace(said.String()); msg != "" {
		return fmt.Errorf("push %s to %s refused: %w (server said: %s)", req.Branch, redact(req.URL), err, msg)
	}
	return fmt.Errorf("push %s to %s refused: %w", req.Branch, redact(req.URL), err)
}

// capped keeps the first max bytes written to it.
type capped struct {
	buf *bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// redact drops credentials from a URL for messages and cache names.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
