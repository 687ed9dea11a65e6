#!/usr/bin/env bash
# bench-bot.sh measures the bot end to end on the GitHub simulator and a
# real local cluster: a pull request touching 300 objects in three apps
# (plain YAML, Kustomize, Helm), from the webhook's delivery to the check
# runs in progress and to the final comment (goals: under 1 s and 5 s);
# and the merge of such a change to its gantry/apply check, beside the CLI
# applying the same change (goal: the bot adds under 1 s).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
go test ./bot/ -run '^$' -bench '^BenchmarkWebhookToComment$' -benchtime 5x -count 1 | grep -E '^webhook|^Benchmark'
# Merge to gantry/apply completed, beside the CLI applying the same change.
bin=$(mktemp -d)/gantry
go build -o "$bin" ./cmd/gantry
GANTRY_BIN=$bin go test ./bot/ -run '^$' -bench '^BenchmarkMergeToApplied$' -benchtime 3x -count 1 | grep -E '^merge|^Benchmark'
rm -rf "$(dirname "$bin")"
