package policy

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
)

// Trust says where a policy set comes from, and so how much it may do.
type Trust int

const (
	// Trusted policies come from a directory of the server configuration.
	// They may call every Rego builtin.
	Trusted Trust = iota
	// Repository policies come from the managed repository's base branch.
	// They run without network and host builtins (see UnsafeBuiltins).
	Repository
)

// String returns "trusted" or "repository".
func (t Trust) String() string {
	if t == Repository {
		return "repository"
	}
	return "trusted"
}

// RegoVersion selects the Rego syntax of a policy set's files.
type RegoVersion string

// The accepted Rego versions.
const (
	// RegoAuto detects the version per file: a file that imports
	// future.keywords is read as v0 (it was written for v0, and v1 would
	// change the meaning of `deny[msg] if`); otherwise v1 is tried first and
	// v0 is the fallback.
	RegoAuto RegoVersion = ""
	// RegoV0 reads every file of the set as Rego v0.
	RegoV0 RegoVersion = "v0"
	// RegoV1 reads every file of the set as Rego v1.
	RegoV1 RegoVersion = "v1"
)

// Source is one policy set to load: a directory and how far it is trusted.
type Source struct {
	// Name identifies the set in findings and errors.
	Name string
	// Dir is the directory on disk; it is read recursively.
	Dir string
	// Root confines every read of the set: the repository checkout for a
	// repository set (set by RepoSource), so that no symlink in it reaches
	// outside the checkout. Default: Dir.
	Root string
	// Prefix is how the set's files are named in findings and errors, e.g.
	// "policy" for a repository's policy/ directory, so annotations land on
	// repository paths. Default: Dir.
	Prefix string
	// Trust says whether the set is the server's or the repository's.
	Trust Trust
	// Namespaces are the Rego packages whose deny/violation/warn rules
	// count, conftest style. Default ["main"]; ["*"] means every package.
	// Packages named gantry or gantry.* are always evaluated, with gantry's
	// own input document.
	Namespaces []string
	// RegoVersion forces the syntax of every file. Default: detect per file.
	RegoVersion RegoVersion
	// FS, when set, is read instead of Dir and Root: a set shipped inside
	// the binary (an embed.FS), such as the starter pack.
	FS fs.FS
	// Data is merged at the root of the set's data document, beside what
	// its data files hold (a key both set is an error): settings a program
	// passes to its policies, such as the starter pack's.
	Data map[string]any
}

// RepoSource is the untrusted source for one of a repository's policy
// paths (config.Policies.Paths). root is a checkout of the base branch,
// never of a pull request's head; rel must stay inside it.
func RepoSource(root, rel string, namespaces []string) (Source, error) {
	clean := path.Clean(filepath.ToSlash(rel))
	if !filepath.IsLocal(filepath.FromSlash(clean)) {
		return Source{}, fmt.Errorf("resolve policy path %q: outside the repository", rel)
	}
	return Source{
		Name:       "repo:" + clean,
		Dir:        filepath.Join(root, filepath.FromSlash(clean)),
		Root:       root,
		Prefix:     clean,
		Trust:      Repository,
		Namespaces: namespaces,
	}, nil
}

// display is the name of a file of the source in findings and errors.
func (s Source) display(rel string) string {
	prefix := s.Prefix
	if prefix == "" {
		prefix = filepath.ToSlash(s.Dir)
	}
	return path.Join(prefix, filepath.ToSlash(rel))
}

// namespaces returns the configured packages, defaulted.
func (s Source) namespaces() []string {
	if len(s.Namespaces) == 0 {
		return []string{"main"}
	}
	return s.Namespaces
}
