#!/usr/bin/env bash
# bench-bot.sh measures the bot end to end on the GitHub simulator and a
# real local cluster: a pull request touching 300 objects in three apps
# (plain YAML, Kustomize, Helm), from the webhook's delivery to the check
# runs in progress and to the final comment. Goals: under 1 s and 5 s.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
go test ./bot/ -run '^$' -bench '^BenchmarkWebhookToComment$' -benchtime 5x -count 1 | grep -E '^webhook|^Benchmark'
