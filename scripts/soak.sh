#!/usr/bin/env bash
# The soak: SECONDS (default 600) of the mixed workload (`TraceScenarios soak`: channels, select, mutexes,
# timers, TCP on loopback, spawn churn, blocking calls, recursion DEPTH deep) on 2 Ps under `gotrace record`, then
#   1. `gotrace stat --check`: the event accounting reconciles exactly (every spawn ends or is in the final
#      snapshot, every park is unparked or still parked at the end, no event dropped, the end chunk's totals
#      match what was read);
#   2. RSS stays flat after warm-up. VmRSS of the traced program is sampled every second from
#      /proc/PID/status. Warm-up is the first 20% of the samples, and at least the first 10 (RSS climbs
#      from ~15 to ~20 MB over the first ~8 s while every component reaches its working size). The
#      baseline is the largest sample of the next 20% (at least 4 samples). "Flat" means: the largest
#      sample of the last third is at most 10% above the baseline. At the soak's ~5 k spawns/s a leak of even
#      100 bytes per goroutine adds ~30 MB a minute. Needs at least 15 samples (a 20 s run;
#      30 s on a loaded machine, where sampling falls behind).
# With SOAK_FLIGHT=DURATION (e.g. 2s) it records with `gotrace record --flight-recorder DURATION` instead: the
# recorder keeps only the last generations in memory and writes that window at the end, so
#   1. the check is on the window (it must reconcile exactly, as the whole trace does), and the window's
#      duration must lie between DURATION and twice it;
#   2. the recorder's RSS (VmRSS of `gotrace record`, sampled beside the program's) must be flat by the same
#      rule: memory bounded by the window, not by the run (docs/reliability.md, "The flight recorder").
# Exits non-zero, saying why, if the recorder or the program fails, the check fails, or RSS grows.
#
# Usage: scripts/soak.sh [SECONDS] [DEPTH]     (GOTRACE_BIN: the directory holding gotrace and
#        TraceScenarios; default .build/debug, built if missing; SOAK_DIR: where the trace and the RSS
#        samples go, kept — by default a temporary directory, removed if the soak passes)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
depth=${2:-400}
bin=${GOTRACE_BIN:-.build/debug}
if [[ ! -x $bin/gotrace || ! -x $bin/TraceScenarios ]]; then
    swift build --product gotrace
    swift build --product TraceScenarios
fi
dir=${SOAK_DIR:-$(mktemp -d /tmp/gotrace-soak.XXXXXX)}
mkdir -p "$dir"
trace=$dir/soak.gtrace
fail() { echo "soak: FAILED: $*" >&2; exit 1; }

flight=${SOAK_FLIGHT:-}
"$bin/gotrace" record ${flight:+--flight-recorder "$flight"} -o "$trace" -- "$bin/TraceScenarios" soak "$seconds" "$depth" \
    >"$dir/program.out" 2>"$dir/record.err" &
recorder=$!
# The program says its pid first; wait for that line rather than for a fixed time.
pid=
for _ in $(seq 1 300); do
    pid=$(sed -n 's/^soak pid=\([0-9]*\)$/\1/p' "$dir/program.out" 2>/dev/null | head -1)
    [[ -n $pid ]] && break
    kill -0 "$recorder" 2>/dev/null || break
    sleep 0.1
done
[[ -n $pid ]] || fail "the program never announced its pid: $(cat "$dir/program.out" "$dir/record.err")"

: >"$dir/rss.txt"
: >"$dir/recorder-rss.txt"
start=$(date +%s)
while [[ -r /proc/$pid/status ]]; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $rss ]] && echo "$(($(date +%s) - start)) $rss" >>"$dir/rss.txt"
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$recorder/status" 2>/dev/null || true)
    [[ -n $rss ]] && echo "$(($(date +%s) - start)) $rss" >>"$dir/recorder-rss.txt"
    sleep 1
done
status=0
wait "$recorder" || status=$?
cat "$dir/program.out"
cat "$dir/record.err"
[[ $status -eq 0 ]] || fail "gotrace record exited with status $status"

check_status=0
"$bin/gotrace" stat --check "$trace" >"$dir/stat.txt" 2>"$dir/check.err" || check_status=$?
grep -E '^(events|duration|dropped events|corrupt chunks skipped|check):|^  (spawned|parks|dropped)' "$dir/stat.txt" || true
cat "$dir/check.err"
[[ $check_status -eq 0 ]] || fail "gotrace stat --check exited with status $check_status"

if [[ -n $flight ]]; then
    # The window's duration (stat's JSON), against DURATION as gotrace parses it (the stat line says it in s).
    window_ns=$("$bin/gotrace" stat --format json "$trace" | sed -n 's/.*"durationNanoseconds" *: *\([0-9]*\).*/\1/p' | head -1)
    asked_ns=$(awk -v d="$flight" 'BEGIN {
        n = d + 0; u = substr(d, length(n "") + 1)
        f = (u == "ms") ? 1e6 : (u == "s") ? 1e9 : (u == "m") ? 60e9 : -1
        if (f < 0) { print "unsupported"; exit } ; printf "%d", n * f }')
    [[ $asked_ns != unsupported ]] || fail "SOAK_FLIGHT: write the window in ms, s or m (e.g. 2s)"
    echo "flight recorder window: $window_ns ns (asked $asked_ns ns)"
    [[ -n $window_ns && $window_ns -ge $asked_ns && $window_ns -le $((asked_ns * 2)) ]] \
        || fail "the window lasts $window_ns ns, not between $asked_ns and twice that"
fi

# RSS: kB samples "t rss"; see the header for the definition of flat.
check_flat() {
awk -v tolerance=0.10 -v name="$2" '
    { t[NR] = $1; rss[NR] = $2 }
    END {
        n = NR
        if (n < 15) { print "soak: RSS: only " n " samples (run at least 20 s; 30 s under load)"; exit 1 }
        warm = int(n * 0.2); if (warm < 10) warm = 10
        span = int(n * 0.2); if (span < 4) span = 4
        second = warm + span; tail = n - int(n / 3) + 1
        baseline = 0; for (i = warm + 1; i <= second; i++) if (rss[i] > baseline) baseline = rss[i]
        tailmax = 0; for (i = tail; i <= n; i++) if (rss[i] > tailmax) tailmax = rss[i]
        peak = 0; for (i = 1; i <= n; i++) if (rss[i] > peak) peak = rss[i]
        growth = (tailmax - baseline) / baseline * 100
        printf name " RSS: %d samples over %d s; first %d kB, baseline %d kB (max of samples %d-%d), last third max %d kB (%+.1f%%), peak %d kB, final %d kB\n", \
            n, t[n], rss[1], baseline, warm + 1, second, tailmax, growth, peak, rss[n]
        if (tailmax > baseline * (1 + tolerance)) { printf "soak: RSS grew %.1f%% after warm-up (limit %d%%)\n", growth, tolerance * 100; exit 1 }
        print name " RSS: flat (last third within " tolerance * 100 "% of the baseline)"
    }' "$1" || fail "$2 RSS is not flat (samples in $1)"
}
check_flat "$dir/rss.txt" program
if [[ -n $flight ]]; then check_flat "$dir/recorder-rss.txt" recorder; fi
if [[ -z ${SOAK_DIR:-} ]]; then
    rm -rf "$dir"  # a passing run's trace is large and says nothing a failing one would not
    echo "soak: PASSED ($seconds s, depth $depth)"
else
    echo "soak: PASSED ($seconds s, depth $depth; trace and samples in $dir)"
fi
