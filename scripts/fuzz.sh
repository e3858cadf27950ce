#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ (with AddressSanitizer) and runs each for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     run the targets (all five by default), FUZZ_JOBS at a time
#   FUZZ_MERGE=1 scripts/fuzz.sh [SECONDS]    afterwards, minimize what was found into Fuzz/Corpus/ (commit it)
#
# Each target starts from its committed corpus (Fuzz/Corpus/TARGET), the inputs that once failed
# (traces/fuzz-regressions/, so every run replays them under ASan and LeakSanitizer) and the seeds
# Fuzz/make-seeds.sh builds from traces/ and small Go programs; new inputs accumulate in .build-fuzz/corpus/. A crash, a leak,
# a timeout (10 s for one input) or a single allocation over 256 MB stops the target and leaves the input in
# .build-fuzz/crashes/; the script then exits 1. Turn each into a regression test (traces/fuzz-regressions/).
# Targets run side by side, one libFuzzer job each, as many at once as there are CPUs (FUZZ_JOBS). See
# docs/reliability.md ("Fuzzing").
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(FuzzTraceReader FuzzGoTraceReader FuzzGoTraceReader122 FuzzReportPath FuzzHTTPRequest)
scratch=.build-fuzz

# swiftc keeps only the last -sanitize= it is given, and SwiftPM's `--sanitize=fuzzer --sanitize=address`
# passes two, in no fixed order (one build then has coverage but no ASan checks in Swift code, the next
# ASan but no coverage). So: SwiftPM's --sanitize=fuzzer (it then leaves `main` to libFuzzer), and one
# combined flag after it.
swift build --package-path Fuzz -c release --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address --scratch-path "$scratch" \
    2>&1 | grep -E "error|Build complete" || true
bin="$scratch/release"
[ -x "$bin/FuzzTraceReader" ] || { echo "fuzz build failed" >&2; exit 1; }
# Both instrumentations must be in the readers' code: coverage counters and ASan checks.
object="$scratch/release/GoTrace.build/TraceReader.swift.o"
if [ "$(objdump -h "$object" | grep -c sancov)" = 0 ] || [ "$(nm "$object" | grep -c __asan_report)" = 0 ]; then
    echo "fuzz build lacks coverage or ASan instrumentation ($object)" >&2
    exit 1
fi
[ -d Fuzz/Seeds/go122 ] || Fuzz/make-seeds.sh >/dev/null

# One function per target; up to FUZZ_JOBS (default: the number of CPUs) run at once, each one libFuzzer
# job on its own core, so a target gets the same fuzzing time as alone. Each one's lines are printed when it
# ends, in the order given.
run_target() {
    local target=$1 failed=0
    case "$target" in
        FuzzTraceReader) seeds=(Fuzz/Seeds/gtrace traces/fuzz-regressions) ;;
        FuzzGoTraceReader) seeds=(Fuzz/Seeds/go traces/fuzz-regressions) ;;
        FuzzGoTraceReader122) seeds=(Fuzz/Seeds/go122 traces/fuzz-regressions) ;;
        FuzzReportPath) seeds=(Fuzz/Seeds/gtrace Fuzz/Seeds/go traces/fuzz-regressions) ;;
        # Requests: the committed corpus alone (hand-written seeds, then what runs found); no trace seeds.
        FuzzHTTPRequest) seeds=() ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    # Run a copy, so that rebuilding while a long run goes on does not touch the running executable.
    mkdir -p "$scratch/run" && cp "$bin/$target" "$scratch/run/$target"
    work="$scratch/corpus/$target"
    mkdir -p "$work" "Fuzz/Corpus/$target" "$scratch/crashes"
    echo "== $target: ${seconds}s"
    # detect_leaks: the Swift runtime's metadata caches are reachable, so a reported leak is ours.
    if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 "$scratch/run/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$scratch/crashes/$target-" \
        "$work" "Fuzz/Corpus/$target" "${seeds[@]}" > "$scratch/$target.log" 2>&1
    then
        failed=1
        echo "$target FAILED: see $scratch/$target.log and $scratch/crashes/" >&2
        grep -E "ERROR|SUMMARY|Fatal error|Test unit written" "$scratch/$target.log" | head -20 >&2
    fi
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+ *DONE" "$scratch/$target.log" || true
    if [ "${FUZZ_MERGE:-0}" = 1 ]; then
        merged="$scratch/merged-$target"
        rm -rf "$merged" && mkdir -p "$merged"
        "$scratch/run/$target" -merge=1 -timeout=10 -max_len=65536 "$merged" "Fuzz/Corpus/$target" "$work" "${seeds[@]}" \
            > "$scratch/$target.merge.log" 2>&1
        rm -rf "Fuzz/Corpus/$target" && mv "$merged" "Fuzz/Corpus/$target"
        echo "$target corpus: $(ls "Fuzz/Corpus/$target" | wc -l) files, $(du -sk "Fuzz/Corpus/$target" | cut -f1) KB"
    fi
    return $failed
}
parallel=${FUZZ_JOBS:-$(nproc)}
for target in "${targets[@]}"; do
    while (( $(jobs -rp | wc -l) >= parallel )); do wait -n || true; done
    rm -f "$scratch/$target.status"
    (if run_target "$target"; then result=0; else result=1; fi; echo $result > "$scratch/$target.status") \
        > "$scratch/$target.summary" 2>&1 &
done
wait
status=0
for target in "${targets[@]}"; do
    cat "$scratch/$target.summary"
    [ "$(cat "$scratch/$target.status" 2>/dev/null)" = 0 ] || status=1
done
exit $status
