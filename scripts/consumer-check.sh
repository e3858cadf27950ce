#!/usr/bin/env bash
# Depends on gotrace the way another project does, and fails if that does not work.
#
# Every test in this repository reaches the package by path, which SwiftPM exempts from its rules for
# dependencies (no `unsafeFlags` in a dependency reached by version, products only); this check does not:
#   1. a bare clone of this checkout's HEAD, tagged with the version in Sources/gotrace/GotraceVersion.swift;
#   2. a package in a temporary folder outside the repository that depends on it by `file://` URL and
#      `from:` that version, built in release: a goroutine program (GoRuntime), the Swift analyzer plugin
#      of docs/plugins.md copied verbatim (GoTracePluginKit, a dynamic library), and gotrace's own
#      executable and built-in analyzers, taken from the dependency;
#   3. `gotrace record` runs the program; `gotrace report --plugin LIB --analyzer spawns --format json`
#      loads the Swift plugin and prints its count, checked against the program's known number of goroutines;
#      the leak analyzer names the program's own function as the leaked goroutines' blocking site (the
#      stack walk works in a release build of a dependency);
#   4. scripts/install.sh installs into a temporary prefix from that build, and a C plugin built with
#      nothing but PREFIX/include/gotrace_plugin.h is loaded the same way and counts the same spawns.
# Usage: scripts/consumer-check.sh  (KEEP=1 keeps the temporary folder and prints its path)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/gotrace-consumer.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then echo "consumer-check: keeping $work"; else trap 'rm -rf "$work"' EXIT; fi
fail() { echo "consumer-check: FAILED: $*" >&2; exit 1; }
step() { echo "consumer-check: $*"; }

version=$(sed -n 's/^let gotraceVersion = "\([0-9][0-9.]*\)".*/\1/p' "$root/Sources/gotrace/GotraceVersion.swift")
[ -n "$version" ] || fail "no version found in Sources/gotrace/GotraceVersion.swift"
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
    echo "consumer-check: note: uncommitted changes are not in the clone; it checks HEAD $(git -C "$root" rev-parse --short HEAD)"
fi

step "bare clone of $(git -C "$root" rev-parse --short HEAD) tagged $version"
git clone --quiet --bare "$root" "$work/gotrace.git"
git -C "$work/gotrace.git" tag -f "$version" HEAD >/dev/null

consumer=$work/consumer
mkdir -p "$consumer/Sources/LeakyProgram" "$consumer/Sources/SpawnCounter"
cat > "$consumer/Package.swift" <<EOF
// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "consumer",
    products: [
        .library(name: "SpawnCounter", type: .dynamic, targets: ["SpawnCounter"]),
    ],
    dependencies: [
        .package(url: "file://$work/gotrace.git", from: "$version"),
    ],
    targets: [
        .executableTarget(name: "LeakyProgram", dependencies: [.product(name: "GoRuntime", package: "gotrace")]),
        .target(name: "SpawnCounter", dependencies: [.product(name: "GoTracePluginKit", package: "gotrace")]),
    ]
)
EOF
# 8 goroutines that finish and 3 that block forever on a channel nobody sends on: 12 spawns, the 11 `go`s and
# the main goroutine that Runtime.run starts (as Go's runtime.main is a goroutine of its own).
cat > "$consumer/Sources/LeakyProgram/main.swift" <<'EOF'
import GoRuntime

@inline(never)
func waitForeverOn(_ channel: Channel<Int>) {
    _ = channel.receive()
}

Runtime.run {
    let finished = WaitGroup()
    let nobodySends = Channel<Int>()
    for _ in 0..<8 {
        finished.add(1)
        go {
            Runtime.sleep(for: .milliseconds(1))
            finished.done()
        }
    }
    for _ in 0..<3 {
        go { waitForeverOn(nobodySends) }
    }
    finished.wait()
    Runtime.sleep(for: .milliseconds(50))  // the three reach their receive long before this
}
EOF
# The plugin exactly as docs/plugins.md shows it: the first ```swift block of "## A plugin in Swift".
awk '/^## A plugin in Swift/ { section = 1 } section && /^```swift/ { copying = 1; next }
     copying && /^```/ { exit } copying { print }' "$root/docs/plugins.md" > "$consumer/Sources/SpawnCounter/SpawnCounter.swift"
grep -q 'gotrace_plugin_v1' "$consumer/Sources/SpawnCounter/SpawnCounter.swift" \
    || fail "no Swift plugin example found in docs/plugins.md"

step "resolve and build the consumer in release (depends on gotrace from: $version)"
build=$consumer/.build/release
(cd "$consumer" && swift build -c release > "$work/build.log" 2>&1) || { tail -30 "$work/build.log"; fail "the consumer did not build"; }
# gotrace's executable and its five built-in analyzers, built from the dependency as a user installing it would
# (scripts/install.sh installs them all).
for product in gotrace LeakAnalyzer LatencyAnalyzer SummaryAnalyzer FlamegraphAnalyzer HTMLReportAnalyzer; do
    (cd "$consumer" && swift build -c release --product "$product" >> "$work/build.log" 2>&1) \
        || { tail -30 "$work/build.log"; fail "the dependency's product $product did not build"; }
done
grep -q "unsafe build flags" "$work/build.log" && fail "SwiftPM reported unsafe build flags"

step "record the program with the dependency's gotrace"
trace=$work/leaky.gtrace
(cd "$work" && "$build/gotrace" record -o "$trace" -- "$build/LeakyProgram") || fail "gotrace record failed"

step "report with the Swift plugin"
spawns_json=$("$build/gotrace" report "$trace" --plugin "$build/libSpawnCounter.so" --analyzer spawns --format json) \
    || fail "gotrace report with the Swift plugin failed"
echo "$spawns_json"
spawns=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["spawns"]["spawns"])' <<<"$spawns_json")
[ "$spawns" = 12 ] || fail "the Swift plugin counted $spawns spawns; the program has 11 go statements and a main goroutine"

step "leak report: the blocking site is the program's own function"
leak_json=$("$build/gotrace" report "$trace" --plugin "$build/libLeakAnalyzer.so" --analyzer leak --format json) \
    || fail "gotrace report --analyzer leak failed"
python3 - "$leak_json" <<'EOF' || fail "the leak report does not name waitForeverOn for 3 goroutines"
import json, sys
leak = json.loads(sys.argv[1])["leak"]
groups = [g for g in leak["groups"] if any("waitForeverOn" in frame for frame in g["blockedAt"])]
# An optimised build may unroll the loop of three `go`s into three call sites: one group each, all blocked
# in waitForeverOn.
blocked_there = sum(g["count"] for g in groups)
print(f"consumer-check: leaked {leak['leaked']}, {blocked_there} at waitForeverOn; blocked at {groups[0]['blockedAt'][:2] if groups else None}")
sys.exit(0 if leak["leaked"] == 3 and blocked_there == 3 else 1)
EOF

step "install into a temporary prefix, build a C plugin against PREFIX/include only"
prefix=$work/prefix
"$root/scripts/install.sh" --prefix "$prefix" --scratch-path "$consumer/.build" --no-build > "$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "scripts/install.sh failed"; }
cc -shared -fPIC -I "$prefix/include" \
    -o "$work/libEventCount.so" "$root/Plugins/EventCount/event_count.c" || fail "the C plugin did not build"
counts_json=$(cd "$work" && "$prefix/bin/gotrace" report "$trace" --plugin "$work/libEventCount.so" --analyzer event-count --format json) \
    || fail "the installed gotrace did not run the C plugin"
c_spawns=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["event-count"]["spawn"])' <<<"$counts_json")
[ "$c_spawns" = 12 ] || fail "the C plugin counted $c_spawns spawn events; expected 12"
step "passed: Swift plugin 12 spawns, C plugin 12 spawns, 3 leaked at waitForeverOn"
