#!/usr/bin/env bash
# fuzz-one.sh PKG TARGET TIME runs one fuzz target for TIME. A failure
# that wrote a failing input (a real finding) fails at once. Go's fuzzing
# engine sometimes ends a run with a bare "context deadline exceeded" and
# no input, when a worker is slow to stop at the deadline; that run, and
# only that, is tried once more.
set -uo pipefail
pkg=$1 name=$2 time=$3
export GOTOOLCHAIN=local
for attempt in 1 2; do
	out=$(go test -run='^$' -fuzz="^${name}\$" -fuzztime="$time" "$pkg" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^fuzz: elapsed'
	[[ $rc -eq 0 ]] && exit 0
	if [[ $attempt -eq 1 ]] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input written' <<<"$out"; then
		echo "fuzz: $name: the engine stopped at its deadline without a finding; once more"
		continue
	fi
	exit "$rc"
done
