#!/usr/bin/env bash
# Measures `gotrace report` (leak + latency, one pass) on a large synthetic trace: events/s and peak RSS,
# side by side with `go tool trace -pprof=sched` (Go 1.19) reading a Go trace, rounds alternating.
#
# Usage: Benchmarks/report-bench.sh [EVENTS_MILLIONS=10] [WORKLOAD=mixed|pingpong]
#   RUNS=N          rounds (default 5); medians are quoted
#   PEER=0          skip the Go side (it needs `go`; ROUNDTRIPS=N sets its trace, default 1,000,000 ≈ 6 M events)
#   CHUNKS=full     mixed: seal chunks only when full (64 KiB, as the runtime does) instead of every 5 rounds
# Our trace comes from TraceFixtureEmitter (deterministic, 3 Ms, every event kind for `mixed`: 17 events per
# round, a new goroutine per round, an M flushed every 5 rounds so chunks are small (~90 events); `pingpong`:
# 3 events per round, two goroutines). `go tool trace` cannot read our format, so the peer reads a Go
# execution trace of the peers' pingpong (as Benchmarks/go-trace-bench.sh does) and the comparison is of
# events per second, each tool on its own format. The load average is printed with each run: the VM is
# shared, and wall times move with it; CPU seconds are printed too.
# Targets (issue #5): >= 20 M events/s and <= 200 MB peak RSS (on a 100 M-event trace).
set -euo pipefail
cd "$(dirname "$0")/.."
millions=${1:-10}
workload=${2:-mixed}
RUNS=${RUNS:-5}
CHUNKS=${CHUNKS:-small}
PEER=${PEER:-1}
ROUNDTRIPS=${ROUNDTRIPS:-1000000}
scratch=.build-report
swift build --scratch-path "$scratch" -c release >/dev/null
bin="$scratch/release"
per_round=17
[ "$workload" = pingpong ] && per_round=3
rounds=$((millions * 1000000 / per_round))
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trace=$work/report-bench.gtrace
flush_every=5
[ "$CHUNKS" = full ] && flush_every=0
GOTRACE_OUT="$trace" "$bin/TraceFixtureEmitter" --rounds "$rounds" --workload "$workload" --flush-every "$flush_every"
events=$("$bin/gotrace" stat "$trace" --format json | sed -n 's/^  "events" : \([0-9]*\),*/\1/p')
chunks=$("$bin/gotrace" stat "$trace" --format json | sed -n 's/^  "chunks" : \([0-9]*\),*/\1/p')
echo "trace: workload $workload ($CHUNKS chunks), $events events in $chunks chunks, $(stat -c %s "$trace") bytes; gotrace $(git rev-parse --short HEAD); $(date -u +%FT%TZ)"

if [ "$PEER" = 1 ] && command -v go >/dev/null; then
  cp -r /work/shared/peers/go "$work/peers"
  (cd "$work/peers" && go build -o bin/ ./cmd/pingpong)
  gotrace_file=$work/pingpong.trace
  "$work/peers/bin/pingpong" -n "$ROUNDTRIPS" -trace "$gotrace_file" >/dev/null
  # Events as gotrace counts them in a Go trace (as go-trace-bench.sh does: ~6 per round trip).
  go_events=$("$bin/gotrace" stat --format json "$gotrace_file" | sed -n 's/^  "events" : \([0-9]*\),*/\1/p')
  gotool=$(go env GOTOOLDIR)/trace
  echo "peer trace: pingpong -n $ROUNDTRIPS, $go_events Go events, $(stat -c %s "$gotrace_file") bytes; $(go version)"
else
  PEER=0
fi

# measure NAME EVENTS COMMAND…: one line "NAME seconds=S cpu=C rss_kb=K events_per_s=E load=L".
measure() {
  local name=$1 count=$2; shift 2
  local load
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v "$@" >/dev/null 2>"$work/time.txt"
  awk -F': ' -v name="$name" -v n="$count" -v load="$load" '
    /Elapsed \(wall clock\)/ { k = split($2, t, ":"); s = (k == 3) ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2] }
    /User time|System time/ { cpu += $2 }
    /Maximum resident set size/ { rss = $2 }
    END { printf "%s seconds=%.2f cpu=%.2f rss_kb=%d events_per_s=%.0f load=%s\n", name, s, cpu, rss, n / s, load }
  ' "$work/time.txt" | tee -a "$work/raw.txt"
}

"$bin/gotrace" report "$trace" --analyzer leak --analyzer latency >/dev/null  # warm the page cache
for ((round = 1; round <= RUNS; round++)); do
  measure gotrace-report "$events" "$bin/gotrace" report "$trace" --analyzer leak --analyzer latency --format json
  [ "$PEER" = 1 ] && measure go-tool-trace "$go_events" "$gotool" -pprof=sched "$gotrace_file"
done

python3 - "$work/raw.txt" "$workload" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, *fields = line.split()
    runs.setdefault(name, []).append({k: float(v) for k, v in (f.split("=") for f in fields)})
def med(name, key): return statistics.median(r[key] for r in runs[name])
ours = "gotrace-report"
print(f"workload {sys.argv[2]}: median of {len(runs[ours])}: {med(ours, 'seconds'):.2f} s wall, "
      f"{med(ours, 'cpu'):.2f} s CPU, {med(ours, 'events_per_s') / 1e6:.1f} M events/s, "
      f"peak RSS {med(ours, 'rss_kb') / 1024:.1f} MB (load average at the runs: "
      f"{min(r['load'] for r in runs[ours]):.1f}-{max(r['load'] for r in runs[ours]):.1f})")
if "go-tool-trace" in runs:
    go = "go-tool-trace"
    print(f"go tool trace -pprof=sched: median {med(go, 'events_per_s') / 1e6:.2f} M events/s, "
          f"peak RSS {med(go, 'rss_kb') / 1024:.0f} MB; ours / Go in events per second: "
          f"{med(ours, 'events_per_s') / med(go, 'events_per_s'):.1f}x")
PY
