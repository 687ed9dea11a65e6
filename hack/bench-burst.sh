#!/usr/bin/env bash
# bench-burst.sh measures the bot's throughput on the GitHub simulator and
# a real local cluster: a burst of pull requests of three apps (plain YAML,
# Kustomize, Helm; 300 objects each) opened at once, planned by 1, 2 and 4
# workers: pull requests planned per minute, and webhook -> checks
# in_progress p50/p99 under the burst. GANTRY_BENCH_PRS sets the burst.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
go test ./bot/ -run '^$' -bench '^BenchmarkBurstThroughput$' -benchtime 1x -count 1 -timeout 60m | grep -E '^workers|^Benchmark'
