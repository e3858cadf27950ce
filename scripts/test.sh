#!/usr/bin/env bash
# Sets up and runs the whole test suite: the README's test command and what CI runs.
# Prints `skipped: N` at the end: tests that cannot run here (a tool that cannot be installed) are counted,
# never silent; with every tool installed N is 0.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# A compiler warning fails the run: CI builds from a clean clone, so every file is compiled and any warning
# shows here (an incremental build only shows those of the files it recompiles).
build_log=$(mktemp)
log=$(mktemp)
trap 'rm -f "$build_log" "$log"' EXIT
swift build --build-tests 2>&1 | tee "$build_log"
if grep -q -E '(^|: )warning: ' "$build_log"; then
    echo "test.sh: the build printed compiler warnings:" >&2
    grep -E '(^|: )warning: ' "$build_log" | sort -u >&2
    exit 1
fi
status=0
swift test --skip-build 2>&1 | tee "$log" || status=$?
# Swift Testing reports each disabled test or suite on one line: "<symbol> Test "name" skipped: …".
skipped=$(grep -cE '^[^ ]+ (Test|Suite) .* skipped' "$log" || true)
echo "skipped: $skipped"
exit "$status"
