#!/usr/bin/env bash
# Reading a Go execution trace, side by side: `gotrace report` (leak + latency analyzers, one pass) against
# `go tool trace -pprof=sched` (the Go release's own parser and its scheduling-latency profile) on the same trace.
#
# The trace comes from the peers' pingpong (/work/shared/peers/go, copied to a temporary directory) run with
# -trace: two goroutines exchanging N round trips over unbuffered channels, ~6 Go events per round trip.
# Each tool runs under /usr/bin/time -v: wall time and peak RSS. Go's tool is run directly from GOTOOLDIR
# (not through the `go` wrapper) so its RSS is its own.
#
#   Benchmarks/go-trace-bench.sh          2,000,000 round trips (~12 M events), 3 rounds (RUNS=N, ROUNDTRIPS=N to change)
#   SCRATCH=.build-x Benchmarks/...       the scratch path of the release build (default .build)
#   GO=.toolchains/go1.27.3/bin/go Benchmarks/...   the Go toolchain that builds pingpong (so writes the trace, in
#                                         its format) and whose `go tool trace` is compared with (default: `go`)
# Results: Benchmarks/results/go-trace-raw.txt (one line per run) and go-trace-table.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-3}
ROUNDTRIPS=${ROUNDTRIPS:-2000000}
RESULTS=$HERE/results
mkdir -p "$RESULTS"
RAW=$RESULTS/go-trace-raw.txt
TABLE=$RESULTS/go-trace-table.md
log() { echo "[$(date +%T)] $*" >&2; }

log "build (release)"
GO=${GO:-go}
. "$HERE/go-trace-common.sh"
cp -r /work/shared/peers/go "$WORK/peers"
(cd "$WORK/peers" && "$GO" build -o bin/ ./cmd/pingpong)
TRACE=$WORK/pingpong.trace
log "trace: pingpong -n $ROUNDTRIPS"
"$WORK/peers/bin/pingpong" -n "$ROUNDTRIPS" -trace "$TRACE" >/dev/null
events=$("$BIN/gotrace" stat --format json "$TRACE" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["events"])')
bytes=$(stat -c %s "$TRACE")
echo "# $(uname -srm); $(nproc) CPUs; $("$GO" version); gotrace $(git rev-parse --short HEAD); date=$(date -u +%FT%TZ)" > "$RAW"
echo "# trace: pingpong -n $ROUNDTRIPS, $bytes bytes, $events gotrace events after mapping" >> "$RAW"

# measure NAME COMMAND…: one line "NAME seconds=S cpu=C rss_kb=K" (C: user + system seconds).
measure() {
  local name=$1; shift
  measure_time "$@"
  echo "$name seconds=$WALL cpu=$CPU rss_kb=$RSS" | tee -a "$RAW" >&2
}

for ((round = 1; round <= RUNS; round++)); do
  log "round $round/$RUNS"
  measure go-tool-trace-pprof-sched "$GOTOOL" -pprof=sched "$TRACE"
  measure gotrace-report "$BIN/gotrace" report "$TRACE" --analyzer leak --analyzer latency --no-progress
done

python3 - "$RAW" "$TABLE" <<'PY'
import re, statistics, sys
raw, table = sys.argv[1], sys.argv[2]
runs = {}
header = []
for line in open(raw):
    if line.startswith("#"):
        header.append(line.strip("# \n"))
        continue
    name, *fields = line.split()
    values = dict(field.split("=") for field in fields)
    runs.setdefault(name, []).append((float(values["seconds"]), int(values["rss_kb"]), float(values["cpu"])))
go = runs["go-tool-trace-pprof-sched"]
ours = runs["gotrace-report"]
def med(rows, i): return statistics.median(r[i] for r in rows)
lines = [f"<!-- {h} -->" for h in header]
lines += ["| tool | wall (s, median) | CPU (s, median) | peak RSS (MB, median) |", "|---|---:|---:|---:|"]
for name, rows in (("go tool trace -pprof=sched", go), ("gotrace report (leak + latency)", ours)):
    lines.append(f"| {name} | {med(rows, 0):.2f} | {med(rows, 2):.2f} | {med(rows, 1) / 1024:.0f} |")
lines.append(f"| ratio | {med(go, 0) / med(ours, 0):.1f}× faster | {med(go, 2) / med(ours, 2):.1f}× less CPU | "
             f"{med(go, 1) / med(ours, 1):.1f}× less memory |")
open(table, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
