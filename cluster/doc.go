// Package cluster is everything gantry does against a Kubernetes API
// server: the live diff of an app's rendered objects (server-side apply
// dry-runs compared with the live objects, normalized, Secrets masked),
// the staged server-side apply with its inventory and prune, the wait for
// health, and the per-app locks.
//
// Everything gantry keeps in a cluster is scoped by repository and app:
// inventories and locks are named after both (see RepositoryHash), and
// every applied object carries the app label and the repository's label
// and annotation. A live object another app or repository owns is a
// conflict (ActionConflict): not read for the diff or for policies, not
// applied, not pruned. Secrets are masked in every output and compared
// with their values masked, so no plan depends on a Secret value (see
// mask.go). Locks never expire; they live as long as their pull request.
//
// The order of an apply, in one place: CRDs, then Namespaces (waited
// for); the pre hooks (Helm pre-install on a first install, else
// pre-upgrade; Argo CD PreSync); the other objects by Argo CD sync wave,
// each wave in parallel, then its Sync hooks, then its health when there
// are several waves; prune and the wait for health; the post hooks
// (post-install or post-upgrade, PostSync); SyncFail hooks when anything
// failed. Hooks of one stage run one at a time by weight, then kind,
// namespace and name. A hook is deleted and created again, never patched
// (a Job's template is immutable), is not dry-run by the diff, and is not
// part of the inventory, so prune never deletes it (see hooks.go).
//
// Drift (drift.go) is a field gantry's apply set that another manager
// changed, or a managed object gone, attributed from managedFields; the
// watcher (watch.go) turns other managers' writes into debounced drift
// checks. A field conflict with another manager is drift, not an error,
// for a field gantry applied before: the diff shows who took it and apply
// takes it back (see takeBack).
//
// Every verb takes the rendered objects as plain
// []*unstructured.Unstructured and returns plain data (DiffSet, ChangeSet,
// Health, DriftSet) that the bot and the CLI format with WriteDiff,
// WriteApply and WriteDrift.
//
// Speed comes from three choices: the live state is read with one LIST per
// kind and namespace instead of one GET per object, dry-runs and applies
// run in a bounded pool, and the client's rate limit is sized so the pool,
// not the limiter, is what bounds the load on the API server.
//
// fluxcd/pkg/ssa's ResourceManager is not used for diff and apply: it reads
// every object with its own GET and applies after a dry-run of each object,
// three requests per object where gantry needs one (see
// hack/bench-cluster.sh for the figures). Health uses kstatus from
// github.com/fluxcd/cli-utils, the same library ssa waits with.
package cluster
