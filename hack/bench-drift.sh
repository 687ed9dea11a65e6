#!/usr/bin/env bash
# bench-drift.sh measures drift end to end on the GitHub simulator and a
# real local cluster: 1,000 managed objects in five apps, an out-of-band
# edit to its drift pull request open (p50, p95 over 20 edits; goals 5 s
# and 10 s), and the CPU the idle watches cost (goal under 2% of a core).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
go test ./bot/ -run '^$' -bench '^BenchmarkEditToDriftPR$' -benchtime 20x -count 1 -timeout 20m | grep -E '^edit|^Benchmark'
