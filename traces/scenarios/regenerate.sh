#!/bin/sh
# Records the TraceScenarios fixtures and their expected `gotrace report --format json` output. Run from the
# package root after `swift build`; review the diff before committing.
#   leak.gtrace        100 goroutines blocked receiving in leakyReceiver(_:)
#   abba.gtrace        AB-BA mutex deadlock (the program exits 2; the trace is complete)
#   workerpool.gtrace  a correct worker pool: nothing leaks
#   sleepers.gtrace    five goroutines sleeping 20 ms ten times each
# The program is recorded from a temporary copy that is deleted afterwards, so no machine can read the module
# again: its frames print as `TraceScenarios+0xoffset` everywhere, and the expectations do not depend on
# symbols. Frames of other modules (libc) may resolve differently per machine; `<other>` stands for them in
# the .report.json files (GroundTruthTests normalises the live output the same way).
set -eu
BIN=${BIN:-.build/debug}
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
cp "$BIN/TraceScenarios" "$copy/TraceScenarios"
for name in leak abba workerpool sleepers; do
    "$BIN/gotrace" record -o "traces/scenarios/$name.gtrace" -- "$copy/TraceScenarios" "$name" >/dev/null 2>&1 || true
done
rm -rf "$copy"
for name in leak abba workerpool sleepers; do
    "$BIN/gotrace" report "traces/scenarios/$name.gtrace" --format json --no-progress |
    python3 -c '
import json, re, sys
def normalise(value, key=None):
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        if key in ("blockedAt", "createdAt", "blockedAtFull", "createdAtFull"):
            return [f if re.fullmatch(r"TraceScenarios\+0x[0-9a-f]+", f) else "<other>" for f in value]
        return [normalise(v) for v in value]
    return value
document = json.load(sys.stdin)
document.pop("summary", None)  # the summary analyzer has its own tests (SummaryAnalyzerTests)
json.dump(normalise(document), sys.stdout, indent=2, sort_keys=True)
print()' >"traces/scenarios/$name.report.json"
done
