#!/usr/bin/env bash
# bench-shards.sh measures sharding with real `gantry serve` processes on
# the local cluster and the GitHub simulator (hatest's TestShardedBurst):
# a burst of pull requests over 8 repositories and 8 shards, deliveries
# spread round-robin over 1, 2 and 4 replicas: pull requests planned per
# minute, then the same with the replica holding the most shards
# SIGKILLed once a quarter is planned (nothing may be lost: the test
# fails unless every head has one green run per check and one comment).
# GANTRY_BENCH_PRS sets the burst (default 40).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
prs=${GANTRY_BENCH_PRS:-40}
go test -c -o bin/hatest.test ./hatest/
printf '%-9s %-5s %-16s %-9s %-12s\n' replicas prs "replica killed" seconds "PRs/minute"
for run in "1 0" "2 0" "4 0" "2 1" "4 1"; do
	set -- $run
	out=$(cd hatest && GANTRY_SHARD_BENCH="replicas=$1,prs=$prs,kill=$2" ../bin/hatest.test -test.run '^TestShardedBurst$' -test.count 1 -test.timeout 30m -test.v 2>&1) || {
		echo "$out" | tail -40
		exit 1
	}
	line=$(echo "$out" | grep -o 'shardbench .*')
	secs=$(echo "$line" | sed -n 's/.*seconds=\([0-9.]*\).*/\1/p')
	rate=$(echo "$line" | sed -n 's/.*prs_per_min=\([0-9.]*\).*/\1/p')
	killed=no
	[ "$2" = 1 ] && [ "$1" -gt 1 ] && killed=yes
	printf '%-9s %-5s %-16s %-9s %-12s\n' "$1" "$prs" "$killed" "$secs" "$rate"
done
