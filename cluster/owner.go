package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Every record gantry keeps in a cluster, and every object it applies,
// carries the identity of the repository it came from, so that two
// repositories with an app of the same name never share an inventory, a
// lock or an object.
//
// A repository is "owner/name", compared case-insensitively (GitHub's
// names are). Label values cannot hold a slash and are limited to 63
// characters, so the label holds RepositoryHash of the lower-cased name
// (for selection) and the annotation the lower-cased name itself (for
// people, and to tell a hash collision from the same repository).
const (
	// RepositoryLabel holds RepositoryHash of the owning repository.
	RepositoryLabel = "gantry.dev/repository"
	// RepositoryAnnotation holds the owning repository, lower-cased.
	RepositoryAnnotation = "gantry.dev/repository"
	// LocalRepository is the identity of `gantry diff` and `gantry apply`
	// run without --repository: a repository of its own, so a local apply
	// never takes over the objects, inventory or locks of a repository the
	// bot manages.
	LocalRepository = "local"
)

// ErrNoRepository is returned by the verbs that need a repository's
// identity when none is given: fail closed rather than share records
// between repositories.
var ErrNoRepository = errors.New("no repository identity given")

// normalRepository returns the repository's identity as stored: trimmed
// and lower-cased.
func normalRepository(repo string) string { return strings.ToLower(strings.TrimSpace(repo)) }

// RepositoryHash is the short hash of a repository's identity used in
// names and labels: 16 hex digits of the SHA-256 of the lower-cased name.
// 64 bits make a deliberate collision with a given repository
// impractical, and every read compares the full name in
// RepositoryAnnotation anyway.
func RepositoryHash(repo string) string {
	sum := sha256.Sum256([]byte(normalRepository(repo)))
	return hex.EncodeToString(sum[:8])
}

// recordName is the name of a record of kind prefix (InventoryPrefix,
// LockPrefix) for one app of one repository: prefix, the repository's
// hash, the app. An app name is a DNS label (at most 63 characters), so the
// name stays far below the 253 characters a ConfigMap or Lease name may
// have.
func recordName(prefix, repo, app string) string {
	return prefix + RepositoryHash(repo) + "-" + app
}

// ownerLabels are the labels gantry sets on what an app of a repository
// owns.
func ownerLabels(repo, app string) map[string]string {
	return map[string]string{AppLabel: app, RepositoryLabel: RepositoryHash(repo)}
}

// markOwner sets the owner labels and annotation on a desired object.
func markOwner(u *unstructured.Unstructured, repo, app string) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	for k, v := range ownerLabels(repo, app) {
		labels[k] = v
	}
	u.SetLabels(labels)
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[RepositoryAnnotation] = normalRepository(repo)
	u.SetAnnotations(ann)
}

// foreignOwner says who else owns a live object: empty when the object is
// the app's own (same app, same repository) or carries no owner label at
// all (it is adopted); otherwise a description of the owner for a note,
// e.g. `app "web" of repository acme/other`. An object with gantry's app
// label but no repository mark (applied before repositories were recorded)
// belongs to no known repository and is not adopted either: remove its
// gantry.dev/app label to let an app take it over.
func foreignOwner(live *unstructured.Unstructured, repo, app string) string {
	if live == nil {
		return ""
	}
	labels, ann := live.GetLabels(), live.GetAnnotations()
	ownerApp, hasApp := labels[AppLabel]
	hash, hasHash := labels[RepositoryLabel]
	name, hasName := ann[RepositoryAnnotation]
	if !hasApp && !hasHash && !hasName {
		return ""
	}
	sameRepo := hasHash && hash == RepositoryHash(repo) && hasName && normalRepository(name) == normalRepository(repo)
	if sameRepo && hasApp && ownerApp == app {
		return ""
	}
	who := "app (none)"
	if ownerApp != "" {
		who = fmt.Sprintf("app %q", short(ownerApp))
	}
	switch {
	case sameRepo:
		who += " of this repository"
	case hasName:
		who += fmt.Sprintf(" of repository %q", short(name))
	default:
		who += " of an unrecorded repository"
	}
	return who
}

// short cuts an owner's name read from a live object to a length fit for
// a note: annotations can be long, and the note is not the place to
// quote one whole.
func short(s string) string {
	const limit = 100
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// conflictNote is the note of an object another owner has: who, and what
// gantry does about it. Nothing of the live object's content is in it.
func conflictNote(owner string) string {
	return fmt.Sprintf("owned by %s: not compared, not applied, not pruned (the live object's content is not shown)", owner)
}
