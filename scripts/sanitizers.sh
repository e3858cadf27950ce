#!/usr/bin/env bash
# Runs the runtime's tests (Tests/GoRuntimeTests) under ThreadSanitizer and then AddressSanitizer (with
# LeakSanitizer). Passes only with every test passing and no sanitizer report at all; the suppressions in
# Sanitizers/tsan.supp and Sanitizers/lsan.supp each say why they are there. See docs/reliability.md.
#
#   scripts/sanitizers.sh [thread|address]...    (both by default)
#
# Builds the Sanitizers/ package (the runtime and its tests only) into .build-tsan / .build-asan, with
# GORT_SANITIZER_FIBERS defined for C and Swift: that compiles in the fiber annotations at every goroutine
# switch (Sources/CGoRuntime/include/sanitizer_fibers.h), without which neither sanitizer can follow a
# stack switch.
set -euo pipefail
cd "$(dirname "$0")/.."
kinds=("$@")
((${#kinds[@]})) || kinds=(thread address)
fibers=(-Xcc -DGORT_SANITIZER_FIBERS -Xswiftc -Xcc -Xswiftc -DGORT_SANITIZER_FIBERS)
root=$PWD
status=0
# Under ThreadSanitizer, asynchronous preemption is off (cooperative preemption stays on): TSan defers an
# asynchronous signal to its next interceptor and then calls our handler with a *copy* of the interrupted
# context (or at once, but only while the thread is inside a TSan interceptor, where the safe-PC rule refuses
# anyway), so a handler cannot redirect the interrupted goroutine into the preemption trampoline. The tests
# that need the asynchronous path are skipped there; they run under AddressSanitizer, whose runtime leaves
# SIGURG alone, and in every normal `swift test`.
async_preemption_tests=(--skip "PreemptionTests/asynchronousPreemption" --skip "PreemptionTests/stackThroughTrampoline"
    --skip "PreemptionTests/errnoSurvivesPreemption" --skip "PreemptionTests/preemptEvents"
    --skip "PreemptionTests/safePCRule")
for kind in "${kinds[@]}"; do
    # A fault that is not a stack growth goes to the previous SIGSEGV handler, which in these builds is the
    # sanitizer's: it reports the fault and exits 1 (ASan) or 66 (TSan) rather than dying by SIGSEGV as the
    # test expects of a normal build. StackTests/foreignFaultReachesPreviousHandler checks the same chain
    # with a handler of its own, and runs here.
    skips=(--skip "StackTests/foreignFaultStillCrashes")
    # The debug server's end-to-end suite drives child processes (DebugServerFixture, gotrace, go tool pprof)
    # that this package does not build; its in-process suites (DebugServerClientTests, GoroutineProfileTests,
    # DebugRequestTargetTests: the server, the stack capture and the request parser) run here.
    skips+=(--skip "DebugServerTests/")
    unset GODEBUG
    case "$kind" in
        thread)
            scratch=.build-tsan
            export GODEBUG=asyncpreemptoff=1
            skips+=("${async_preemption_tests[@]}")
            # TSan keeps a thread state, a 512 KB shadow call stack and trace parts per live fiber: 100,000
            # (manyGoroutines) or 10,000 (tenThousandConnections) goroutines alive at once exhaust
            # vm.max_map_count and memory. Both run under AddressSanitizer below, and the same code paths
            # (spawn, park, netpoll) run under TSan in the other tests with fewer goroutines.
            # millionParked (1,000,000 goroutines, in a child process) likewise.
            skips+=(--skip "RuntimeTests/manyGoroutines" --skip "NetTests/tenThousandConnections"
                --skip "StackTests/millionParked")
            export TSAN_OPTIONS="suppressions=$root/Sanitizers/tsan.supp:halt_on_error=0:history_size=4:log_path=$root/$scratch/reports/report"
            ;;
        address)
            scratch=.build-asan
            export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=0:log_path=$root/$scratch/reports/report"
            export LSAN_OPTIONS="suppressions=$root/Sanitizers/lsan.supp"
            ;;
        *) echo "usage: $0 [thread|address]..." >&2; exit 2 ;;
    esac
    start=$(date +%s)
    mkdir -p "$scratch"
    echo "== $kind sanitizer: build"
    swift build --package-path Sanitizers --build-tests --sanitize="$kind" --scratch-path "$scratch" "${fibers[@]}" \
        > "$scratch/sanitizer-build.log" 2>&1 || { tail -30 "$scratch/sanitizer-build.log"; exit 1; }
    built=$(date +%s)
    echo "== $kind sanitizer: test (build took $((built - start)) s)"
    log="$scratch/sanitizer-test.log"
    rm -rf "$scratch/reports" && mkdir -p "$scratch/reports"
    result=0
    # One test at a time: the leak-check tests count every goroutine of the process, and the sync tests'
    # fairness windows (100 ms) are meant for one test's load, not for several slowed by a sanitizer.
    swift test --package-path Sanitizers --skip-build --scratch-path "$scratch" --no-parallel "${skips[@]}" \
        > "$log" 2>&1 || result=$?
    # Reports go to files, one per process (log_path): exit tests run in child processes whose standard
    # error the test library keeps to itself, so a child's report would otherwise show only as its status.
    reports=$(cat "$scratch"/reports/report.* 2>/dev/null | grep -cE "WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)" || true)
    grep -E "^.{0,4}Test run with .* (passed|failed)" "$log" | tail -1 || true
    echo "$kind sanitizer: exit $result, $reports report(s), test run $(( $(date +%s) - built )) s"
    if ((result != 0 || reports != 0)); then
        status=1
        grep -E "✘" "$log" | head -20 >&2 || true
        cat "$scratch"/reports/report.* 2>/dev/null | grep -E -A30 "WARNING: ThreadSanitizer|ERROR: (AddressSanitizer|LeakSanitizer)" | head -80 >&2 || true
        echo "$kind sanitizer FAILED: see $log" >&2
    fi
done
exit $status
