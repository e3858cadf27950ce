#!/usr/bin/env bash
# Measures `gotrace report` (leak + latency, one pass) on a large synthetic trace: events/s and peak RSS.
#
# Usage: Benchmarks/report-bench.sh [EVENTS_MILLIONS=10] [WORKLOAD=mixed|pingpong]
# The trace comes from TraceFixtureEmitter (deterministic, several Ms, every event kind for `mixed`: 17
# events per round, a new goroutine per round; `pingpong`: 3 events per round, two goroutines).
# Targets (issue #5): >= 20 M events/s and <= 200 MB peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
millions=${1:-10}
workload=${2:-mixed}
scratch=.build-report
swift build --scratch-path "$scratch" -c release >/dev/null
bin="$scratch/release"
per_round=17
[ "$workload" = pingpong ] && per_round=3
rounds=$((millions * 1000000 / per_round))
trace=$(mktemp -d)/report-bench.gtrace
trap 'rm -rf "$(dirname "$trace")"' EXIT
GOTRACE_OUT="$trace" "$bin/TraceFixtureEmitter" --rounds "$rounds" --workload "$workload"
events=$("$bin/gotrace" stat "$trace" --format json | sed -n 's/^  "events" : \([0-9]*\),*/\1/p')
"$bin/gotrace" report "$trace" --analyzer leak --analyzer latency >/dev/null  # warm the page cache
log=$(mktemp)
/usr/bin/time -v "$bin/gotrace" report "$trace" --analyzer leak --analyzer latency --format json >/dev/null 2>"$log"
seconds=$(sed -n 's/^\tElapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
rss_kb=$(sed -n 's/^\tMaximum resident set size (kbytes): //p' "$log")
rm -f "$log"
awk -v e="$events" -v s="$seconds" -v r="$rss_kb" -v w="$workload" -v b="$(stat -c %s "$trace")" 'BEGIN {
    printf "workload %s: %d events, %.1f MB trace, %.2f s, %.1f M events/s, peak RSS %.1f MB\n",
           w, e, b / 1e6, s, e / s / 1e6, r / 1024 }'
