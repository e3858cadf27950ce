#!/bin/sh
# Records the committed Go trace and the known answer it is checked against (GoldenGoTraceTests). Run from the
# package root with Debian's Go 1.19 (golang-go); review the diff before committing.
#   totals.trace               Tests/Fixtures/GoPrograms/totals run under runtime/trace (Go 1.19 format)
#   totals.go-tool-trace.txt   Go's own totals for it, not gotrace's: `go tool trace -pprof=sync|sched`,
#                              summed with `go tool pprof -raw`, as "KIND SAMPLES NANOSECONDS"
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
GO111MODULE=off GOCACHE="$work/cache" go build -o "$work/totals" Tests/Fixtures/GoPrograms/totals/main.go
"$work/totals" traces/go/totals.trace
{
    echo "# $(go version): go tool trace -pprof=KIND traces/go/totals.trace | go tool pprof -raw, summed"
    for kind in sync sched; do
        go tool trace -pprof=$kind traces/go/totals.trace > "$work/$kind.pb"
        # After "Samples:" and its header line, each sample is "COUNT NANOSECONDS: LOCATIONS" until "Locations".
        go tool pprof -raw "$work/$kind.pb" 2>/dev/null | awk -v kind=$kind '
            /^Samples:/ { on = 1; next }
            /^Locations/ { on = 0 }
            on && $2 ~ /:$/ { sub(":", "", $2); count += $1; ns += $2 }
            END { print kind, count, ns }'
    done
} > traces/go/totals.go-tool-trace.txt
