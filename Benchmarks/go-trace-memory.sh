#!/usr/bin/env bash
# Peak memory of `gotrace report` (leak + latency) on a Go 1.22+ trace and on one ten times longer: the Go
# 1.22+ reader holds one generation at a time (docs/go-traces.md), so its peak RSS should not grow with the
# trace's length. Go's own `go tool trace -pprof=sched` is measured beside it for scale.
#
# The traces come from the peers' pingpong (/work/shared/peers/go), ~6 Go events per round trip; Go cuts a
# generation about every second, so the longer run has about ten times the generations, not larger ones.
# Go's tool, for scale, runs on the short trace only.
#
#   Benchmarks/go-trace-memory.sh                  200,000 and 2,000,000 round trips (ROUNDTRIPS=N for the first)
#   GO=.toolchains/go1.27.3/bin/go Benchmarks/...  the Go release that writes the traces (default: Go 1.27.3)
#   SCRATCH=.build-x Benchmarks/...                the scratch path of the release build (default .build)
# Prints one line per run: "NAME roundtrips=N bytes=B events=E seconds=S rss_kb=K".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT"
ROUNDTRIPS=${ROUNDTRIPS:-200000}
SCRATCH=${SCRATCH:-.build}
GO=${GO:-.toolchains/go1.27.3/bin/go}
case "$GO" in */*) GO=$(cd "$(dirname "$GO")" && pwd)/$(basename "$GO") ;; esac
export GOTOOLCHAIN=local GOPROXY=off
WORK=$(mktemp -d /tmp/gotrace-go-memory.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for product in gotrace LeakAnalyzer LatencyAnalyzer; do
  swift build -c release -j 2 --scratch-path "$SCRATCH" --product "$product" >/dev/null
done
BIN=$SCRATCH/release
cp -r /work/shared/peers/go "$WORK/peers"
(cd "$WORK/peers" && "$GO" build -o bin/ ./cmd/pingpong)
GOTOOL=$("$GO" env GOTOOLDIR)/trace
if [ ! -x "$GOTOOL" ]; then
  "$GO" build -o "$WORK/go-tool-trace" cmd/trace
  GOTOOL=$WORK/go-tool-trace
fi
echo "# $(uname -srm); $(nproc) CPUs; $("$GO" version); gotrace $(git rev-parse --short HEAD); $(uptime)"
for n in "$ROUNDTRIPS" $((ROUNDTRIPS * 10)); do
  trace=$WORK/pingpong-$n.trace
  "$WORK/peers/bin/pingpong" -n "$n" -trace "$trace" >/dev/null
  events=$("$BIN/gotrace" stat --format json "$trace" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
  bytes=$(stat -c %s "$trace")
  # Go's tool only on the short trace: on the long one it needs gigabytes (docs/performance.md).
  tools=gotrace-report
  [ "$n" = "$ROUNDTRIPS" ] && tools="$tools go-tool-trace-pprof-sched"
  for tool in $tools; do
    if [ "$tool" = gotrace-report ]; then
      set -- "$BIN/gotrace" report "$trace" --analyzer leak --analyzer latency --no-progress
    else
      set -- "$GOTOOL" -pprof=sched "$trace"
    fi
    /usr/bin/time -v "$@" > /dev/null 2> "$WORK/time.txt"
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    echo "$tool roundtrips=$n bytes=$bytes events=$events seconds=$wall rss_kb=$rss"
  done
done
