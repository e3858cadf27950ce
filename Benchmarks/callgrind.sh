#!/usr/bin/env bash
# Instructions per operation, ours and Go's side by side: counts that do not move with this shared machine's
# noise (issue #17). Each workload runs under `valgrind --tool=callgrind` at two sizes; the difference of the
# two instruction totals divided by the difference of the operation counts is the cost of one operation
# (round trip, hop, job, spawn), free of start-up, warm-up laps and exit. Then the top functions of ours
# (self instructions in the larger run), to choose what to change and to show a change's effect.
#
#   Benchmarks/callgrind.sh                     pingpong ring workers spawn, at 1 P
#   ONLY="pingpong ring" Benchmarks/callgrind.sh
#   GO_PEER=1.19 Benchmarks/callgrind.sh        the peers built with Debian's Go 1.19 (default 1.27.3)
#   TOP=25 Benchmarks/callgrind.sh              more of ours' top functions (default 15)
#   MISSES=1 Benchmarks/callgrind.sh            also L1 data-cache misses per operation (cachegrind's model:
#                                               32 KiB L1, 1 MiB last level), ring with its 10,000 goroutines
#
# How both run under valgrind 3.19, and why the figures are still comparable:
#   - GOMAXPROCS=1 and GODEBUG=asyncpreemptoff=1 for both: callgrind runs one thread at a time anyway, and
#     it aborts on Go's preemption signals (an assertion in its signal bookkeeping).
#   - GOTRACE_INITIAL_STACK=256K for ours: valgrind crashes a goroutine soon after its stack's first growth
#     fault; with stacks that never grow nothing else changes on the measured paths (growth happens once
#     per stack, outside the difference of two run lengths).
#   - GOTRACE_SHRINK_STACKS=0 for ours: under valgrind a ring's lap takes long enough that parked stacks
#     would be shrunk and copied back on a varying share of hops (docs/ARCHITECTURE.md); at full speed no
#     goroutine of these workloads stays parked the 10 ms it takes.
#   - Cycles: `perf stat` where the kernel lets it count (this VM has no hardware counters: then a note).
# Needs: valgrind (callgrind_annotate), swift, the Go toolchain (scripts/setup.sh), python3.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
ONLY=${ONLY:-"pingpong ring workers spawn"}
TOP=${TOP:-15}
PEERS=${PEERS:-/work/shared/peers/go}
GO_PEER=${GO_PEER:-1.27.3}
if [[ $GO_PEER == 1.19 ]]; then GO=go; else GO=$ROOT/.toolchains/go$GO_PEER/bin/go; fi
export GOTOOLCHAIN=local GOPROXY=off
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
"$GO" version >/dev/null 2>&1 || { echo "callgrind.sh: Go $GO_PEER is not installed at $GO: run scripts/setup.sh" >&2; exit 1; }
WORK=$(mktemp -d /tmp/gotrace-callgrind.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
log() { echo "[$(date +%T)] $*" >&2; }

log "build GoBench (release) and the Go peers"
swift build -c release --package-path "$HERE" --scratch-path "$HERE/.build-bench" > "$WORK/build.log" 2>&1 ||
  { grep -E 'error' "$WORK/build.log" | head -20 >&2; echo "GoBench did not build" >&2; exit 1; }
# valgrind 3.19 cannot read this toolchain's DWARF 5; the counts need only the symbol table.
strip --strip-debug -o "$WORK/GoBench" "$HERE/.build-bench/release/GoBench"
cp -r "$PEERS"/. "$WORK/peers"/ 2>/dev/null || { mkdir -p "$WORK/peers" && cp -r "$PEERS"/. "$WORK/peers"/; }
chmod -R u+w "$WORK/peers"
(cd "$WORK/peers" && "$GO" build -o "$WORK/go/" ./cmd/...)

# Per workload: the arguments at the small and the large size (the peers' flags, which GoBench shares), and
# how many operations a run of size N performs, warm-up included (pingpong and workers warm up with N/10;
# ring's warm-up lap is the same at both sizes; spawn runs one cold round and ROUNDS warm ones).
args() {
  case $1 in
    pingpong) echo "-n $2" ;;
    ring) echo "-g 1000 -hops $2" ;;
    workers) echo "-w 16 -j $2 -b 256" ;;
    spawn) echo "-n $2 -rounds 1" ;;
  esac
}
operations() {
  case $1 in
    pingpong | workers) echo $(($2 + $2 / 10)) ;;
    ring) echo "$2" ;;
    spawn) echo $((2 * $2)) ;;
  esac
}
sizes() {
  case $1 in
    pingpong) echo "20000 40000" ;;
    ring) echo "50000 100000" ;;
    workers) echo "20000 40000" ;;
    spawn) echo "10000 20000" ;;
  esac
}
unit() { case $1 in pingpong) echo "round trip" ;; ring) echo hop ;; workers) echo job ;; spawn) echo spawn ;; esac; }

# instructions IMPL BENCH N: the instruction total of one run under callgrind (its output file kept).
instructions() {
  local impl=$1 bench=$2 n=$3 cmd
  # shellcheck disable=SC2046 # the arguments are words on purpose
  if [[ $impl == go ]]; then cmd=("$WORK/go/$bench" $(args "$bench" "$n")); else cmd=("$WORK/GoBench" "$bench" $(args "$bench" "$n")); fi
  local out=$WORK/$impl-$bench-$n
  if ! GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 GOTRACE_INITIAL_STACK=256K GOTRACE_SHRINK_STACKS=0 \
      valgrind --tool=callgrind --callgrind-out-file="$out.cg" "${cmd[@]}" > "$out.log" 2>&1; then
    echo "callgrind.sh: ${cmd[*]} failed under valgrind:" >&2
    tail -20 "$out.log" >&2
    exit 1
  fi
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out.log"
}

cycles_note="cycles: not measured"
if perf stat -e cycles true > /dev/null 2> "$WORK/perf.log" && ! grep -q "not supported\|<not counted>" "$WORK/perf.log"; then
  cycles_note="cycles: see perf stat below"
else
  cycles_note="cycles: perf stat has no hardware counters here ($(head -c 120 "$WORK/perf.log" | tr '\n' ' '))"
fi

# misses IMPL BENCH N: "D1mr D1mw" totals of one run under cachegrind.
misses() {
  local impl=$1 bench=$2 n=$3 cmd
  local arguments
  arguments=$(args "$bench" "$n")
  [[ $bench == ring ]] && arguments="-g 10000 -hops $n"
  # shellcheck disable=SC2086 # the arguments are words on purpose
  if [[ $impl == go ]]; then cmd=("$WORK/go/$bench" $arguments); else cmd=("$WORK/GoBench" "$bench" $arguments); fi
  local out=$WORK/$impl-$bench-$n-misses
  GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1 GOTRACE_INITIAL_STACK=256K GOTRACE_SHRINK_STACKS=0 \
    valgrind --tool=cachegrind --cache-sim=yes --LL=1048576,16,64 --cachegrind-out-file="$out.cg" "${cmd[@]}" \
    > "$out.log" 2>&1 || { echo "callgrind.sh: ${cmd[*]} failed under cachegrind:" >&2; tail -20 "$out.log" >&2; exit 1; }
  python3 -c "
import sys
for line in open('$out.cg'):
    if line.startswith('events:'): names = line.split()[1:]
    if line.startswith('summary:'): totals = dict(zip(names, map(int, line.split()[1:])))
print(totals['D1mr'], totals['D1mw'])"
}

# One pass over the workloads: instructions per operation, and with MISSES=1 cachegrind's L1 misses per operation
# (ring with its 10,000 goroutines there, as Benchmarks/run.sh runs it; its warm-up lap is the same at both sizes).
instruction_rows=()
miss_rows=()
for bench in $ONLY; do
  read -r small large <<<"$(sizes "$bench")"
  delta=$(($(operations "$bench" "$large") - $(operations "$bench" "$small")))
  declare -A per=() cells=()
  for impl in gotrace go; do
    log "$bench: $impl at $small and $large"
    a=$(instructions "$impl" "$bench" "$small")
    b=$(instructions "$impl" "$bench" "$large")
    per[$impl]=$(python3 -c "print(round(($b - $a) / $delta))")
    if [[ ${MISSES:-0} == 1 ]]; then
      read -r reads_a writes_a <<<"$(misses "$impl" "$bench" "$small")"
      read -r reads_b writes_b <<<"$(misses "$impl" "$bench" "$large")"
      cells[$impl]=$(python3 -c "print(f'{($reads_b - $reads_a) / $delta:.2f} / {($writes_b - $writes_a) / $delta:.2f}')")
    fi
  done
  ratio=$(python3 -c "print(f'{${per[gotrace]} / ${per[go]}:.2f}')")
  instruction_rows+=("| $bench | $(unit "$bench") | ${per[gotrace]} | ${per[go]} | $ratio |")
  miss_rows+=("| $bench | $(unit "$bench") | ${cells[gotrace]:-} | ${cells[go]:-} |")
  unset per cells
done

echo "| workload (1 P) | per | ours: instructions | Go $GO_PEER: instructions | ours ÷ Go |"
echo "|---|---|---:|---:|---:|"
printf '%s\n' "${instruction_rows[@]}"
if [[ ${MISSES:-0} == 1 ]]; then
  echo
  echo "| workload (1 P) | per | ours: L1 read / write misses | Go $GO_PEER: L1 read / write misses |"
  echo "|---|---|---:|---:|"
  printf '%s\n' "${miss_rows[@]}"
fi
echo
echo "$cycles_note"
for bench in $ONLY; do
  read -r _ large <<<"$(sizes "$bench")"
  echo
  echo "ours, $bench at $large: top $TOP functions by self instructions (whole run)"
  callgrind_annotate --threshold=100 "$WORK/gotrace-$bench-$large.cg" 2>/dev/null |
    sed -n '/^Ir/,$p' | grep -E '^ *[0-9,]+ ' | sed -n "1,${TOP}p" | swift demangle --simplified
done
