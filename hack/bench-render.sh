#!/usr/bin/env bash
# Render benchmark: gantry's in-process Kustomize and Helm render of a large
# overlay and a large chart, side by side with the kustomize and helm CLIs
# on the same generated input. Usage: hack/bench-render.sh [iterations]
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-20}
# shellcheck source=render-tools.sh
source "$ROOT/hack/render-tools.sh"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
GANTRY_RENDER_BENCH_DIR="$WORK" go test ./render/ -run '^TestWriteBenchInput$' -count=1 >/dev/null

# ms per run of a command, averaged over N runs after one warm-up.
time_cli() {
	"$@" >/dev/null
	local start end
	start=$(date +%s%N)
	for _ in $(seq "$N"); do "$@" >/dev/null; done
	end=$(date +%s%N)
	echo $(((end - start) / N / 1000))
}

kust_us=$(time_cli "$KUSTOMIZE" build "$WORK/kustomize/overlays/prod")
helm_us=$(time_cli "$HELM" template bench "$WORK/chart" --namespace shop)
objs_k=$("$KUSTOMIZE" build "$WORK/kustomize/overlays/prod" | grep -c '^kind:')
objs_h=$("$HELM" template bench "$WORK/chart" --namespace shop | grep -c '^kind:')

bench=$(go test ./render/ -run '^$' -bench 'BenchmarkRender(Kustomize|Helm)Large$' -benchtime="${N}x" -count=1)
ns_of() { awk -v name="$1" '$1 ~ "^"name"(-[0-9]+)?$" {print $3}' <<<"$bench"; }
ours_k=$(($(ns_of BenchmarkRenderKustomizeLarge) / 1000))
ours_h=$(($(ns_of BenchmarkRenderHelmLarge) / 1000))

printf '%-24s %8s %14s %14s %8s\n' input objects "gantry ms/op" "CLI ms/op" ratio
printf '%-24s %8d %14.1f %14.1f %7.2fx\n' "kustomize overlay" "$objs_k" "$(bc -l <<<"$ours_k/1000")" "$(bc -l <<<"$kust_us/1000")" "$(bc -l <<<"$ours_k/$kust_us")"
printf '%-24s %8d %14.1f %14.1f %7.2fx\n' "helm chart" "$objs_h" "$(bc -l <<<"$ours_h/1000")" "$(bc -l <<<"$helm_us/1000")" "$(bc -l <<<"$ours_h/$helm_us")"
echo "(gantry: go test -bench, in process, with strict YAML checks, source map and sorting;"
echo " CLI: wall time of one process per run, $N runs; ratio < 1 means gantry is faster)"
