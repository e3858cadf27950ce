#!/usr/bin/env bash
# Sets up and runs the whole test suite: the README's test command and what CI runs.
# Ends by printing how many tests and suites were skipped ("skipped: N"): only a tool that cannot be installed
# may disable a test, so N is 0 on a machine scripts/setup.sh has set up, and anything else is worth a look.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test --skip-build 2>&1 | tee "$log" || status=$?
# Swift Testing reports each disabled test or suite on one line: "<symbol> Test "name" skipped: …".
skipped=$(grep -cE '^[^ ]+ (Test|Suite) .* skipped' "$log" || true)
echo "skipped: $skipped"
exit "$status"
