#!/usr/bin/env bash
# bench-policy.sh: gantry's policy engine against `conftest test` on the same
# 1,500 objects and conftest-style policies (issue 4's `make bench`).
#
# conftest is built once with the local Go toolchain into
# ${GANTRY_CACHE:-$HOME/.cache/gantry}/bin, from a throwaway directory, never
# through gantry's go.mod. Usage: hack/bench-policy.sh [runs]
set -euo pipefail

CONFTEST_VERSION=v0.71.1 # its go.mod says go 1.26.8: builds with go1.26.8
RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${GANTRY_CACHE:-$HOME/.cache/gantry}
BIN=$CACHE/bin
CONFTEST=$BIN/conftest-$CONFTEST_VERSION
export GOTOOLCHAIN=local

mkdir -p "$BIN"
if [[ ! -x $CONFTEST ]]; then
  echo "building conftest $CONFTEST_VERSION (once) ..." >&2
  build=$CACHE/conftest-build
  mkdir -p "$build"
  (cd "$build" && GOBIN=$build/bin GOFLAGS=-mod=mod go install "github.com/open-policy-agent/conftest@$CONFTEST_VERSION")
  mv "$build/bin/conftest" "$CONFTEST"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The gantry side runs as a compiled test binary: a whole process that
# reads the same files, loads the policies and evaluates, like conftest.
(cd "$ROOT" && go test -c -o "$work/policy.test" ./policy)
GANTRY_BENCH_DIR=$work/fixture "$work/policy.test" -test.run '^TestWriteBenchFixture$' >/dev/null

now() { date +%s%N; }
best_conftest=
best_gantry=
for ((i = 1; i <= RUNS; i++)); do
  t0=$(now)
  # conftest exits 1 when policies fail, which they do on purpose.
  "$CONFTEST" test --no-color --policy "$work/fixture/policy" "$work/fixture/objects" >"$work/conftest.out" 2>&1 || true
  t1=$(now)
  GANTRY_BENCH_DIR=$work/fixture "$work/policy.test" -test.run '^TestBenchEndToEnd$' -test.v >"$work/gantry.out" 2>&1
  t2=$(now)
  c=$(((t1 - t0) / 1000000))
  g=$(((t2 - t1) / 1000000))
  [[ -z $best_conftest || $c -lt $best_conftest ]] && best_conftest=$c
  [[ -z $best_gantry || $g -lt $best_gantry ]] && best_gantry=$g
done

conftest_failures=$(grep -c '^FAIL' "$work/conftest.out" || true)
conftest_warnings=$(grep -c '^WARN' "$work/conftest.out" || true)
gantry_summary=$(grep -o 'bench: .*' "$work/gantry.out" || true)

printf '%-28s %10s  %s\n' "tool (best of $RUNS)" "wall ms" "result"
printf '%-28s %10d  %s failures, %s warnings\n' "conftest $CONFTEST_VERSION" "$best_conftest" "$conftest_failures" "$conftest_warnings"
printf '%-28s %10d  %s\n' "gantry policy (process)" "$best_gantry" "${gantry_summary#bench: }"
awk -v c="$best_conftest" -v g="$best_gantry" 'BEGIN { if (g < 1) g = 1; printf "ratio conftest/gantry: %.1fx\n", c / g }'

echo
echo "in-process evaluation (policies loaded once, 1,500 objects per op):"
(cd "$ROOT" && go test -run '^$' -bench '^BenchmarkEvaluate1500$' -benchmem -count 1 ./policy | grep -E '^Benchmark')
