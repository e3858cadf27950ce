#!/usr/bin/env bash
# Loopback HTTP/1.1: GoRuntime's HTTPServer (GoBench httpserve) against Go 1.19's net/http
# (Benchmarks/go/httpserve), both serving GET / with the same 14-byte text body, under the same wrk load.
#
# RUNS rounds; each round runs ours and Go's back to back at each proc count (who goes first alternates),
# so host drift hits both alike. Each measurement: start the server with GOMAXPROCS=procs, a 1 s wrk
# warm-up, then `wrk -t WRK_THREADS -c CONNS -d DURATION --latency` on keep-alive connections. Prints
# every RESULT line, then per proc count the median requests/s and p50/p99 latency of each, and the
# ratios ours/Go. wrk shares the machine's cores with the server, as it does for both.
#
#   Benchmarks/http-bench.sh                         5 rounds, procs 1 and 2, 64 connections, 5 s
#   RUNS=3 PROCS="2" CONNS=256 DURATION=10s Benchmarks/http-bench.sh
# Needs wrk (apt-get install -y wrk). Own scratch path (.build-netbench, shared with net-bench.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${RUNS:-5}
PROCS=${PROCS:-"1 2"}
CONNS=${CONNS:-64}
DURATION=${DURATION:-5s}
WRK_THREADS=${WRK_THREADS:-1}
WORK=$(mktemp -d /tmp/gotrace-httpbench.XXXXXX)
SERVER_PID=
cleanup() {
  if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "[$(date +%T)] $*" >&2; }

command -v wrk > /dev/null || { echo "http-bench.sh needs wrk: apt-get install -y wrk" >&2; exit 1; }

log "build GoBench (release)"
if ! swift build -c release --package-path "$HERE" --scratch-path "$HERE/.build-netbench" > "$WORK/build.log" 2>&1; then
  grep -E 'error' "$WORK/build.log" | head -20 >&2
  echo "GoBench did not build" >&2
  exit 1
fi
cp "$HERE/.build-netbench/release/GoBench" "$WORK/GoBench"
log "build Go peer"
(cd "$HERE/go" && go build -o "$WORK/httpserve-go" ./httpserve)

# Starts a server in the background; sets SERVER_PID and PORT.
start_server() {
  local impl=$1 procs=$2
  local out=$WORK/server.out
  : > "$out"
  if [[ $impl == ours ]]; then
    GOMAXPROCS=$procs "$WORK/GoBench" httpserve -port 0 > "$out" 2>&1 &
  else
    GOMAXPROCS=$procs "$WORK/httpserve-go" -port 0 > "$out" 2>&1 &
  fi
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    PORT=$(sed -n 's/^LISTENING port=\([0-9]*\)$/\1/p' "$out")
    [[ -n $PORT ]] && return 0
    sleep 0.05
  done
  echo "server $impl did not start: $(cat "$out")" >&2
  return 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# wrk latency with its unit (e.g. 812.00us, 1.20ms, 1.01s) in microseconds.
to_us() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") print n; else if (u == "ms") print n * 1000; else if (u == "s") print n * 1000000; else print n
  }'
}

RAW=$WORK/raw.txt
: > "$RAW"
for round in $(seq 1 "$RUNS"); do
  for procs in $PROCS; do
    if (( round % 2 )); then order="ours go"; else order="go ours"; fi
    for impl in $order; do
      name=$([[ $impl == ours ]] && echo gotrace || echo go)
      if ! start_server "$impl" "$procs"; then
        echo "FAIL impl=$name procs=$procs" | tee -a "$RAW"
        continue
      fi
      url="http://127.0.0.1:$PORT/"
      wrk -t "$WRK_THREADS" -c "$CONNS" -d 1s "$url" > /dev/null 2>&1 || true
      wrk -t "$WRK_THREADS" -c "$CONNS" -d "$DURATION" --latency "$url" > "$WORK/wrk.out" 2>&1 || true
      stop_server
      rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")
      p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.out")
      p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")
      errors=$(awk '/Non-2xx|Socket errors/ {print}' "$WORK/wrk.out" | tr -s ' ' | tr '\n' ' ')
      if [[ -z $rps || -z $p99 ]]; then
        echo "FAIL impl=$name procs=$procs $(tr '\n' ' ' < "$WORK/wrk.out")" | tee -a "$RAW"
        continue
      fi
      echo "RESULT impl=$name bench=http round=$round procs=$procs conns=$CONNS req_per_sec=$rps p50_us=$(to_us "$p50") p99_us=$(to_us "$p99") ${errors:+errors=\"$errors\"}" | tee -a "$RAW"
    done
  done
done

python3 - "$RAW" <<'PY'
import sys, statistics, collections
rows = collections.defaultdict(lambda: collections.defaultdict(list))
paired = collections.defaultdict(dict)  # (procs, round) -> impl -> (rps, p99)
for line in open(sys.argv[1]):
    if not line.startswith("RESULT"):
        continue
    kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f and not f.startswith("errors"))
    rows[kv["procs"]][kv["impl"]].append((float(kv["req_per_sec"]), float(kv["p99_us"]), float(kv["p50_us"])))
    paired[(kv["procs"], kv["round"])][kv["impl"]] = (float(kv["req_per_sec"]), float(kv["p99_us"]))
print("\n| procs | gotrace req/s | go req/s | throughput ours/go | gotrace p50 µs | go p50 µs | gotrace p99 µs | go p99 µs | p99 ours/go |")
print("|---|---|---|---|---|---|---|---|---|")
for procs in sorted(rows):
    ours, go = rows[procs]["gotrace"], rows[procs]["go"]
    if not ours or not go:
        continue
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    print(f"| {procs} | {med(ours,0):,.0f} | {med(go,0):,.0f} | {med(ours,0)/med(go,0):.2f} | {med(ours,2):.0f} | {med(go,2):.0f} "
          f"| {med(ours,1):.0f} | {med(go,1):.0f} | {med(ours,1)/med(go,1):.2f} |")
# Each round's two runs are back to back, so their ratio cancels most of the host's drift.
print("\nPer-round ratios ours/go (median [min–max] over rounds):")
print("\n| procs | rounds | throughput | p99 latency |")
print("|---|---|---|---|")
for procs in sorted(rows):
    pairs = [v for (p, _), v in paired.items() if p == procs and "gotrace" in v and "go" in v]
    if not pairs:
        continue
    tput = [v["gotrace"][0] / v["go"][0] for v in pairs]
    p99 = [v["gotrace"][1] / v["go"][1] for v in pairs]
    fmt = lambda xs: f"{statistics.median(xs):.2f} [{min(xs):.2f}–{max(xs):.2f}]"
    print(f"| {procs} | {len(pairs)} | {fmt(tput)} | {fmt(p99)} |")
PY
