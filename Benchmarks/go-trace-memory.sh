#!/usr/bin/env bash
# Peak memory of `gotrace report` (leak + latency) on a Go 1.22+ trace and on one ten times longer: the Go
# 1.22+ reader holds one generation at a time (docs/go-traces.md), so its peak RSS should not grow with the
# trace's length. Go's own `go tool trace -pprof=sched` is measured beside it for scale.
#
# The traces come from Benchmarks/go/steadytrace: a channel ping-pong at a steady rate (~6 Go events per
# round trip) for 2 s and for 20 s. Go cuts a generation about every second, so the longer trace has ten
# times the generations, not larger ones. Go's tool, for scale, runs on the short trace only.
#
#   Benchmarks/go-trace-memory.sh                  2 s and 20 s at 84,000 round trips/s (~1 M and ~10 M events;
#                                                  TRACE_SECONDS=N for the first, RATE=N)
#   GO=.toolchains/go1.27.3/bin/go Benchmarks/...  the Go release that writes the traces (default: Go 1.27.3)
#   SCRATCH=.build-x Benchmarks/...                the scratch path of the release build (default .build)
# Prints one line per run: "NAME traced_s=T bytes=B events=E generations=G seconds=S rss_kb=K".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SECONDS_SHORT=${TRACE_SECONDS:-2}
RATE=${RATE:-84000}
GO=${GO:-.toolchains/go1.27.3/bin/go}
. "$HERE/go-trace-common.sh"
(cd "$HERE/go" && "$GO" build -o "$WORK/steadytrace" ./steadytrace)
echo "# $(uname -srm); $(nproc) CPUs; $("$GO" version); gotrace $(git rev-parse --short HEAD); $(uptime)"
for n in "$SECONDS_SHORT" $((SECONDS_SHORT * 10)); do
  trace=$WORK/steady-$n.trace
  "$WORK/steadytrace" -seconds "$n" -rate "$RATE" -trace "$trace"
  events=$("$BIN/gotrace" stat --format json "$trace" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
  # Generations: batch headers walked here, apart from the reader.
  generations=$(python3 - "$trace" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
version = int(data[5:7])
def varint(p):
    value = shift = 0
    while True:
        byte = data[p]; p += 1; value |= (byte & 0x7f) << shift
        if byte < 0x80: return value, p
        shift += 7
p, seen = 16, set()
while p < len(data):
    kind = data[p]; p += 1
    if kind == 52 and version >= 26: continue  # EndOfGeneration
    if kind == 49: p += 1  # experimental batch: its experiment byte
    generation, p = varint(p); _, p = varint(p); _, p = varint(p); length, p = varint(p)
    seen.add(generation); p += length
print(len(seen))
PY
)
  bytes=$(stat -c %s "$trace")
  # Go's tool only on the short trace: on the long one it needs gigabytes (docs/performance.md).
  tools=gotrace-report
  [ "$n" = "$SECONDS_SHORT" ] && tools="$tools go-tool-trace-pprof-sched"
  for tool in $tools; do
    if [ "$tool" = gotrace-report ]; then
      set -- "$BIN/gotrace" report "$trace" --analyzer leak --analyzer latency --no-progress
    else
      set -- "$GOTOOL" -pprof=sched "$trace"
    fi
    measure_time "$@"
    echo "$tool traced_s=$n bytes=$bytes events=$events generations=$generations seconds=$WALL rss_kb=$RSS"
  done
done
