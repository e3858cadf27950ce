#!/usr/bin/env bash
# Loopback TCP echo: GoRuntime's netpoller (GoBench netecho) against Go 1.19's (Benchmarks/go/netecho).
#
# Both programs hold both ends in one process: -c client goroutines each do -n round trips of a -b byte
# message against a server goroutine per connection. RUNS rounds; each round runs ours and Go's back to
# back at each proc count (who goes first alternates), so host drift hits both alike. Prints every RESULT
# line, then per proc count the median round trips/s and p99 latency of each, and the ratios ours/Go.
#
#   Benchmarks/net-bench.sh                      5 rounds, procs 1 and 2, c=64 n=20000 b=64
#   RUNS=3 PROCS="2" ARGS="-c 256 -n 5000" Benchmarks/net-bench.sh
# Separate from run.sh (another engineer's): its own scratch path (.build-netbench), its own output.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-5}
PROCS=${PROCS:-"1 2"}
ARGS=${ARGS:-"-c 64 -n 20000 -b 64"}
TIMEOUT=${TIMEOUT:-120}
WORK=$(mktemp -d /tmp/gotrace-netbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
log() { echo "[$(date +%T)] $*" >&2; }

log "build GoBench (release)"
if ! swift build -c release --package-path "$HERE" --scratch-path "$HERE/.build-netbench" > "$WORK/build.log" 2>&1; then
  grep -E 'error' "$WORK/build.log" | head -20 >&2
  echo "GoBench did not build" >&2
  exit 1
fi
cp "$HERE/.build-netbench/release/GoBench" "$WORK/GoBench"
log "build Go peer"
(cd "$HERE/go" && go build -o "$WORK/netecho-go" ./netecho)

RAW=$WORK/raw.txt
: > "$RAW"
for round in $(seq 1 "$RUNS"); do
  for procs in $PROCS; do
    if (( round % 2 )); then order="ours go"; else order="go ours"; fi
    for impl in $order; do
      # shellcheck disable=SC2086
      if [[ $impl == ours ]]; then cmd=("$WORK/GoBench" netecho $ARGS); else cmd=("$WORK/netecho-go" $ARGS); fi
      line=$(GOMAXPROCS=$procs timeout -k 5 "$TIMEOUT" "${cmd[@]}" 2>&1 | grep -m1 '^RESULT' || echo "FAIL impl=$impl procs=$procs")
      echo "$line" | tee -a "$RAW"
    done
  done
done

python3 - "$RAW" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    if not line.startswith("RESULT"):
        continue
    kv = dict(f.split("=", 1) for f in line.split()[1:])
    impl = "gotrace" if kv["impl"] == "gotrace" else "go"
    rows[kv["procs"]][impl].append((float(kv["rtt_per_sec"]), float(kv["p99_us"]), float(kv["p50_us"])))
print("\n| procs | gotrace rtt/s | go rtt/s | throughput ours/go | gotrace p50 µs | go p50 µs | gotrace p99 µs | go p99 µs | p99 ours/go |")
print("|---|---|---|---|---|---|---|---|---|")
for procs in sorted(rows):
    ours, go = rows[procs]["gotrace"], rows[procs]["go"]
    if not ours or not go:
        continue
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print(f"| {procs} | {med(ours,0):,.0f} | {med(go,0):,.0f} | {med(ours,0)/med(go,0):.2f} | {med(ours,2):.1f} | {med(go,2):.1f} "
          f"| {med(ours,1):.1f} | {med(go,1):.1f} | {med(ours,1)/med(go,1):.2f} |")
PY
