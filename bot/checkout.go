package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// Checkouts fetches commits of a repository into a per-repository bare
// cache (reused across runs, so a fetch brings only what is new) and
// writes a commit's files into a fresh directory for rendering. The
// working copy has no .git: renderers read files, nothing else.
type Checkouts struct {
	// Dir holds the bare caches, one per repository.
	Dir string
	// MaxFileSize leaves out larger blobs with an error naming them.
	// Default: 50 MiB.
	MaxFileSize int64

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Source says where a commit comes from: the clone URL, the token, the
// ref to fetch (e.g. refs/pull/7/head or refs/heads/main) and the commit
// expected at it; an empty SHA takes whatever the ref points at now (the
// base branch's head, for policies); an empty Ref fetches the commit SHA
// itself.
type Source struct {
	URL, Token string
	Ref        string
	SHA        string
}

// ErrStaleRef is returned when the ref no longer points at the commit
// asked for: a newer push superseded it.
var ErrStaleRef = errors.New("ref moved past the requested commit")

func (c *Checkouts) lock(key string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.locks == nil {
		c.locks = map[string]*sync.Mutex{}
	}
	if c.locks[key] == nil {
		c.locks[key] = &sync.Mutex{}
	}
	return c.locks[key]
}

// cacheKey names a repository's cache directory after its URL.
func cacheKey(url string) string {
	u := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://"), ".git")
	return strings.NewReplacer("/", "_", ":", "_", "@", "_").Replace(u) + ".git"
}

// Fetch brings src.SHA into the repository's cache (depth 1 on a cold
// cache) and returns the cache and the commit fetched.
func (c *Checkouts) Fetch(ctx context.Context, src Source) (*git.Repository, string, error) {
	key := cacheKey(src.URL)
	m := c.lock(key)
	m.Lock()
	defer m.Unlock()
	dir := filepath.Join(c.Dir, key)
	repo, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if repo, err = git.PlainInit(dir, true); err == nil {
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{src.URL}})
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("open checkout cache %s: %w", dir, err)
	}
	if src.SHA != "" {
		if _, err := repo.CommitObject(plumbing.NewHash(src.SHA)); err == nil {
			return repo, src.SHA, nil // already here from an earlier run
		}
	}
	local := "refs/gantry/" + strings.TrimPrefix(src.Ref, "refs/")
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", src.Ref, local))
	if src.Ref == "" {
		// A commit by its id, reachable from a branch (an app's last
		// applied commit): GitHub serves any reachable commit.
		local = "refs/gantry/commits/" + src.SHA
		spec = config.RefSpec(fmt.Sprintf("%s:%s", src.SHA, local))
	}
	err = repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RemoteURL:  src.URL,
		RefSpecs:   []config.RefSpec{spec},
		Depth:      1,
		Auth:       &githttp.BasicAuth{Username: "x-access-token", Password: src.Token},
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil, "", fmt.Errorf("fetch %s of %s: %w", src.Ref, redact(src.URL), err)
	}
	if src.SHA == "" {
		ref, err := repo.Reference(plumbing.ReferenceName(local), true)
		if err != nil {
			return nil, "", fmt.Errorf("fetch %s of %s: %w", src.Ref, redact(src.URL), err)
		}
		return repo, ref.Hash().String(), nil
	}
	if _, err := repo.CommitObject(plumbing.NewHash(src.SHA)); err != nil {
		got, _ := repo.Reference(plumbing.ReferenceName(local), true)
		at := "nothing"
		if got != nil {
			at = got.Hash().String()
		}
		return nil, "", fmt.Errorf("fetch %s of %s: want %s, found %s: %w", src.Ref, redact(src.URL), src.SHA, at, ErrStaleRef)
	}
	return repo, src.SHA, nil
}

// redact drops credentials from a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + u[i+1:]
		}
	}
	return u
}

// Checkout fetches src and writes its files into a new directory under
// parent; the caller removes it. It returns the directory and the commit.
func (c *Checkouts) Checkout(ctx context.Context, src Source, parent string) (string, string, error) {
	repo, sha, err := c.Fetch(ctx, src)
	if err != nil {
		return "", "", err
	}
	commit, err := repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", "", fmt.Errorf("read commit %s: %w", sha, err)
	}
	dir, err := os.MkdirTemp(parent, "checkout-"+shortSHA(sha)+"-")
	if err != nil {
		return "", "", fmt.Errorf("checkout %s: %w", sha, err)
	}
	if err := c.write(ctx, repo, commit, dir); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("checkout %s: %w", sha, err)
	}
	return dir, sha, nil
}

func (c *Checkouts) write(ctx context.Context, repo *git.Repository, commit *object.Commit, dir string) error {
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	limit := c.MaxFileSize
	if limit == 0 {
		limit = 50 << 20
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// A path from Git never leaves dir: go-git rejects ".." entries,
		// and we check again.
		target := filepath.Join(dir, filepath.FromSlash(name))
		if !strings.HasPrefix(target, dir+string(filepath.Separator)) {
			return fmt.Errorf("%s: path leaves the checkout", name)
		}
		switch entry.Mode {
		case filemode.Dir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		case filemode.Submodule:
			continue // submodules are not fetched; renderers see an empty dir
		}
		blob, err := repo.BlobObject(entry.Hash)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if blob.Size > limit {
			return fmt.Errorf("%s: %d bytes, larger than the %d allowed", name, blob.Size, limit)
		}
		if err := writeBlob(blob, target, entry.Mode); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
}

func writeBlob(blob *object.Blob, target string, mode filemode.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if mode == filemode.Symlink {
		// Kept as a link: the renderers' confinement refuses links that
		// lead out of the repository, with a clear error.
		dest, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return err
		}
		return os.Symlink(string(dest), target)
	}
	perm := os.FileMode(0o644)
	if mode == filemode.Executable {
		perm = 0o755
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
