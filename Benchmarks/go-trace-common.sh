# Sourced by go-trace-bench.sh and go-trace-memory.sh: what both need before measuring. Expects HERE (the
# Benchmarks folder) and GO (the Go toolchain's `go`, a path or a command name). Goes to the package root,
# builds gotrace and the two analyzers it runs (release, in SCRATCH, default .build) and sets:
#   BIN     the release products
#   GO      made absolute when it is a path
#   WORK    a temporary folder, removed at exit
#   GOTOOL  that release's `go tool trace` binary, run directly (not through the `go` wrapper) so that its
#           RSS is its own; Go 1.24+ ships it as sources built on first use: built once here
#   measure_time COMMAND…  runs it under /usr/bin/time -v; sets WALL (s), CPU (user + system s), RSS (KB)
ROOT=$(dirname "$HERE")
cd "$ROOT"
SCRATCH=${SCRATCH:-.build}
case "$GO" in */*) GO=$(cd "$(dirname "$GO")" && pwd)/$(basename "$GO") ;; esac
export GOTOOLCHAIN=local GOPROXY=off
WORK=$(mktemp -d /tmp/gotrace-go-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for product in gotrace LeakAnalyzer LatencyAnalyzer; do
  swift build -c release -j 2 --scratch-path "$SCRATCH" --product "$product" >/dev/null
done
BIN=$SCRATCH/release
GOTOOL=$("$GO" env GOTOOLDIR)/trace
if [ ! -x "$GOTOOL" ]; then
  "$GO" build -o "$WORK/go-tool-trace" cmd/trace
  GOTOOL=$WORK/go-tool-trace
fi

measure_time() {
  /usr/bin/time -v "$@" > /dev/null 2> "$WORK/time.txt"
  WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
  CPU=$(awk -F': ' '/User time|System time/ {sum += $2} END {print sum}' "$WORK/time.txt")
}
