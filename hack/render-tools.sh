#!/usr/bin/env bash
# Builds the kustomize and helm CLIs that render's goldens and benchmark
# compare against, into ${GANTRY_CACHE:-$HOME/.cache/gantry}/bin, from the Go
# module proxy (never into gantry's go.mod). Product code never runs them.
# Source it for KUSTOMIZE and HELM, or run it to just build them.
set -euo pipefail

KUSTOMIZE_VERSION=v5.8.2 # v5.8.3 needs Go 1.27
HELM_VERSION=v3.19.0     # the Helm SDK version in go.mod
CACHE="${GANTRY_CACHE:-$HOME/.cache/gantry}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

build_tool() { # name package version
	local name=$1 pkg=$2 version=$3
	local out="$BIN/$name-$version"
	if [[ ! -x "$out" ]]; then
		echo "building $name $version into $BIN (first time only)" >&2
		local tmp
		tmp=$(mktemp -d "$CACHE/build-$name.XXXXXX")
		(cd "$tmp" && GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$tmp/bin" go install "$pkg@$version")
		mv "$tmp/bin/$name" "$out"
		rm -rf "$tmp"
	fi
	echo "$out"
}

KUSTOMIZE=$(build_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION")
HELM=$(build_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION")
export KUSTOMIZE HELM
