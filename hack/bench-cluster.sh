#!/usr/bin/env bash
# bench-cluster.sh measures gantry's live diff and apply on a local cluster
# (etcd + kube-apiserver, no controllers) against kubectl, built from the
# same k8s.io/kubernetes module by `make kube-bin`, and against the floor:
# 1,500 concurrent server-side apply dry-runs with a bare client.
# 1,500 objects (ConfigMaps, Deployments, Secrets, ServiceAccounts, Roles),
# then a second version with 30% of them changed. Every step runs as its
# own process, so its wall time and peak RSS are its own.
#
#   hack/bench-cluster.sh [-n 1500] [-skip-kubectl-diff] [-gantry-concurrency N]
#
# About 4-5 minutes, most of it kubectl diff.
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
