#!/usr/bin/env bash
# Before and after in one run: the runtime benchmarks (GoBench) and `gotrace report`, built at two revisions
# of this repository, measured side by side with the runs alternating, so that this shared machine's drift
# hits both alike. Also counts `gotrace report`'s instructions with callgrind, which do not move with the
# load at all. Prints one Markdown table; ratios are new / old (below 1 is faster).
#
# Usage: Benchmarks/compare-revisions.sh OLD [NEW]     (NEW defaults to the work tree as it is)
#   RUNS=N            rounds (default 5); medians are quoted
#   ONLY="..."        subset of: spawn pingpong ring workers report (default all)
#   CALLGRIND=0       skip the instruction counts
# Needs: swift, git, python3, go (for the Go trace), valgrind (for the counts).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
old_rev=${1:?usage: Benchmarks/compare-revisions.sh OLD [NEW]}
new_rev=${2:-}
RUNS=${RUNS:-5}
ONLY=${ONLY:-"spawn pingpong ring workers report"}
CALLGRIND=${CALLGRIND:-1}
WORK=$(mktemp -d /tmp/gotrace-compare.XXXXXX)
cleanup() {
    for tree in "$WORK"/tree-*; do [ -d "$tree" ] && git -C "$ROOT" worktree remove --force "$tree" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*" >&2; }
has() { [[ " $ONLY " == *" $1 "* ]]; }

# build NAME REV: release builds of GoBench and of gotrace with its analyzers, copied into $WORK/NAME/.
build() {
    local name=$1 rev=$2 tree
    if [ -z "$rev" ]; then
        tree=$ROOT
    else
        tree=$WORK/tree-$name
        git -C "$ROOT" worktree add --detach --quiet "$tree" "$rev"
    fi
    log "build $name ($(git -C "$tree" rev-parse --short HEAD)${rev:+ = $rev})"
    swift build -c release --package-path "$tree/Benchmarks" --scratch-path "$tree/Benchmarks/.build-bench" \
        > "$WORK/build-$name.log" 2>&1 || { tail -20 "$WORK/build-$name.log"; exit 1; }
    swift build -c release --package-path "$tree" --scratch-path "$tree/.build-report" \
        >> "$WORK/build-$name.log" 2>&1 || { tail -20 "$WORK/build-$name.log"; exit 1; }
    mkdir -p "$WORK/$name"
    cp "$tree/Benchmarks/.build-bench/release/GoBench" "$tree/.build-report/release/gotrace" \
        "$tree/.build-report/release/TraceFixtureEmitter" "$tree/.build-report/release/"lib*Analyzer.so "$WORK/$name/"
    # valgrind 3.19 cannot read this toolchain's DWARF 5; the counts need no line tables.
    mkdir -p "$WORK/$name-stripped"
    cp "$WORK/$name/gotrace" "$WORK/$name/"lib*Analyzer.so "$WORK/$name-stripped/"
    strip --strip-debug "$WORK/$name-stripped/"*
}
build old "$old_rev"
build new "$new_rev"
old_label=$(git -C "$ROOT" rev-parse --short "$old_rev")
new_label=${new_rev:+$(git -C "$ROOT" rev-parse --short "$new_rev")}
new_label=${new_label:-"$(git -C "$ROOT" rev-parse --short HEAD)+work tree"}

# Inputs for the report: a synthetic trace with every event kind, and a Go execution trace.
GOTRACE_OUT="$WORK/mixed.gtrace" "$WORK/new/TraceFixtureEmitter" --rounds 300000 --workload mixed --flush-every 5
if command -v go >/dev/null; then
    cp -r /work/shared/peers/go "$WORK/peers" && chmod -R u+w "$WORK/peers"
    (cd "$WORK/peers" && go build -o bin/ ./cmd/pingpong)
    "$WORK/peers/bin/pingpong" -n 500000 -trace "$WORK/pingpong.trace" >/dev/null
fi

raw=$WORK/raw.txt
: > "$raw"
# record IMPL KEY VALUE UNIT: one result line.
record() { echo "$1 $2 $3 $4" >> "$raw"; }
seconds_of() {  # prints the wall seconds of a command, its output discarded
    local start end
    start=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.4f}')"
}
ns_per_op() {  # IMPL BENCH PROCS ARGS...: GoBench's own figure, the ns_per_op of its RESULT line
    local impl=$1 bench=$2 procs=$3; shift 3
    GOMAXPROCS=$procs "$WORK/$impl/GoBench" "$bench" "$@" | grep -m1 '^RESULT' | tr ' ' '\n' \
        | sed -n 's/^ns_per_op=//p'
}
for ((round = 1; round <= RUNS; round++)); do
    log "round $round/$RUNS"
    order="old new"; (( round % 2 == 0 )) && order="new old"
    for p in 1 2; do
        for impl in $order; do
            has spawn && record "$impl" "spawn/p$p" "$(ns_per_op "$impl" spawn "$p" -n 1000000)" ns/op
            has pingpong && record "$impl" "pingpong/p$p" "$(ns_per_op "$impl" pingpong "$p" -n 1000000)" ns/op
            has ring && record "$impl" "ring/p$p" "$(ns_per_op "$impl" ring "$p" -g 10000 -hops 1000000)" ns/op
            has workers && record "$impl" "workers/p$p" "$(ns_per_op "$impl" workers "$p" -w 16 -j 1000000 -b 256)" ns/op
        done
    done
    if has report; then
        for impl in $order; do
            record "$impl" "report-mixed" "$(seconds_of "$WORK/$impl/gotrace" report "$WORK/mixed.gtrace" --format json)" s
            [ -f "$WORK/pingpong.trace" ] && record "$impl" "report-go" \
                "$(seconds_of "$WORK/$impl/gotrace" report "$WORK/pingpong.trace" --format json)" s
        done
    fi
done
if has report && [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
    log "callgrind"
    for impl in old new; do
        for trace in mixed.gtrace pingpong.trace; do
            [ -f "$WORK/$trace" ] || continue
            valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$WORK/$impl-stripped/gotrace" report \
                "$WORK/$trace" --format json > "$WORK/cg-$impl-$trace.json" 2> "$WORK/cg.log"
            record "$impl" "report-${trace%%.*}" "$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/cg.log")" instructions
        done
    done
fi
python3 - "$raw" "$old_label" "$new_label" "$RUNS" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    impl, key, value, unit = line.split()
    rows.setdefault((key, unit), {}).setdefault(impl, []).append(float(value))
print(f"| measure | old {sys.argv[2]} | new {sys.argv[3]} | new / old |")
print("|---|---|---|---|")
for (key, unit), by in rows.items():
    old, new = statistics.median(by.get("old", [0])), statistics.median(by.get("new", [0]))
    shown = (lambda v: f"{v:,.0f}") if unit == "instructions" else (lambda v: f"{v:.3f}")
    ratio = f"{new / old:.4f}" if old else "—"
    print(f"| {key} ({unit}) | {shown(old)} | {shown(new)} | {ratio} |")
print(f"\n(times: medians of {sys.argv[4]} alternating rounds; instructions: callgrind, one run each)")
EOF
