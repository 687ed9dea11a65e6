#!/usr/bin/env bash
# bench-cluster.sh measures gantry's live diff and apply on a local cluster
# (etcd + kube-apiserver, no controllers) against kubectl, built from the
# same k8s.io/kubernetes module by `make kube-bin`, and against the floor:
# 1,500 concurrent server-side apply dry-runs (and applies, for the create)
# with a bare client. 1,500 objects (ConfigMaps, Deployments, Secrets,
# ServiceAccounts, Roles), then a second version with 30% of them changed
# and a third with one object changed: a diff's cost should follow the
# change, not the app. Every step runs as its own process, so its wall
# time and peak RSS are its own; each gantry step prints its requests by
# verb.
#
#   hack/bench-cluster.sh [-n 1500] [-skip-kubectl-diff] [-gantry-concurrency N]
#                         [-cpuprofile-dir DIR]   (then: go tool pprof -top DIR/create-gantry-apply.pprof)
#
# About 6-8 minutes, most of it the two kubectl diffs.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
bin="$(mktemp -d)/gantry-bench"
trap 'rm -rf "$(dirname "$bin")"' EXIT
(cd bench/cluster && go build -o "$bin" .)
kubectl="${GANTRY_KUBE_ASSETS:-${GANTRY_CACHE:-$HOME/.cache/gantry}/kube/current}/kubectl"
[[ -x "$kubectl" ]] || { echo "no kubectl at $kubectl: run make kube-bin" >&2; exit 1; }
"$kubectl" version --client 2>/dev/null | head -1 >&2
exec "$bin" -kubectl "$kubectl" "$@"
