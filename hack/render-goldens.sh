#!/usr/bin/env bash
# Regenerates render/testdata/golden/*.yaml with the real kustomize and helm
# CLIs (built by hack/render-tools.sh), so that render's tests can compare
# gantry's in-process render with what the CLIs produce, without needing
# the CLIs. Run from anywhere: hack/render-goldens.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=render-tools.sh
source "$ROOT/hack/render-tools.sh"
REPO="$ROOT/render/testdata/repo"
OUT="$ROOT/render/testdata/golden"
mkdir -p "$OUT"

# Each golden names the app of render/testdata/repo/.gantry.yaml it is for;
# the CLI flags mirror that app's settings.
"$KUSTOMIZE" build "$REPO/apps/kustomize/overlays/prod" >"$OUT/web-prod.yaml"

# helm template: the app's release name, namespace, values and set values;
# CRDs included and test hooks left out as gantry does; the Kubernetes
# version gantry defaults to (config.KubeLibraryVersion for client-go v0.34).
(cd "$REPO/apps/helm/shop" && "$HELM" template shop . \
	--namespace shop \
	--values values-prod.yaml \
	--set frontend.replicas=4 \
	--include-crds --skip-tests \
	--kube-version v1.34.4) >"$OUT/shop.yaml"

# Block scalars that end template documents (the prometheus chart's shape):
# Helm's own splitting and trimming decide their final newlines.
(cd "$REPO/apps/helm/monitoring" && "$HELM" template monitoring . \
	--namespace monitoring \
	--include-crds --skip-tests \
	--kube-version v1.34.4) >"$OUT/monitoring.yaml"

echo "wrote $(ls "$OUT" | wc -l) goldens to $OUT with $("$KUSTOMIZE" version) and $("$HELM" version --short)"
