#!/usr/bin/env bash
# The whole test suite N times in a row (default 10) beside a CPU-heavy process, as issue #20 asks: tests
# that hold on a loaded 2-core machine pass every time. Builds once, then runs `swift test --skip-build`
# N times while one busy loop per HOGS (default 1) competes for the CPUs. Prints one line per run and a
# total; exits 1 if any run failed (its log is kept in .build/stress/run-K.log).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
hogs=${HOGS:-1}
swift build --build-tests > /dev/null
mkdir -p .build/stress
pids=()
for ((h = 0; h < hogs; h++)); do sh -c 'while :; do :; done' & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
failed=0
for ((run = 1; run <= runs; run++)); do
    log=.build/stress/run-$run.log
    start=$(date +%s)
    if swift test --skip-build > "$log" 2>&1; then verdict=passed; else verdict=FAILED; failed=$((failed + 1)); fi
    echo "run $run/$runs: $verdict in $(( $(date +%s) - start )) s, load $(cut -d' ' -f1 /proc/loadavg): $(grep -E 'Test run with' "$log" | tail -1)"
    [ "$verdict" = passed ] || grep -E '✘' "$log" | head -10
done
echo "stress: $((runs - failed)) passed, $failed failed (of $runs runs beside $hogs CPU hog(s))"
[ "$failed" = 0 ]
