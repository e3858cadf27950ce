#!/usr/bin/env bash
# Checks the HTML report in a real browser (headless Chromium): for traces of example programs with known
# behaviour and one large synthetic trace, loads each page, fails on any JavaScript error, compares the
# numbers the page shows with `gotrace report --format json`, and saves screenshots
# (scripts/browser_check.py does the checking). Installs Chromium (and Node.js, which checks the page's
# scripts' syntax) from Debian if missing: they pull in a few hundred MB, so they are installed here rather
# than in scripts/setup.sh.
#   scripts/browser-check.sh [--update-screenshot]    (the latter rewrites docs/report.png)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=${SCRATCH_PATH:-.build}
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The page's scripts are files of their own (Sources/GoProfile/Resources): a syntax error fails here, named
# by file and line, before any page is loaded.
for script in Sources/GoProfile/Resources/*.js; do node --check "$script"; done
swift build --scratch-path "$scratch" --product gotrace >/dev/null
swift build --scratch-path "$scratch" >/dev/null  # the analyzer plugins and the example programs
bin=$(swift build --scratch-path "$scratch" --show-bin-path)
out=${BROWSER_CHECK_OUT:-$(mktemp -d /tmp/gotrace-browser-check.XXXXXX)}
mkdir -p "$out"
# Programs with known behaviour: 100 leaked receivers; an ABBA mutex deadlock (exits 2, which is expected);
# a worker pool; work stealing; a program blocked 80% of its time in blockedMostly(); one burning CPU.
for scenario in leak abba workerpool steal; do
    "$bin/gotrace" record -o "$out/$scenario.gtrace" -- "$bin/TraceScenarios" "$scenario" >/dev/null 2>&1 || true
done
"$bin/gotrace" record -o "$out/block.gtrace" -- "$bin/ProfileScenarios" block >/dev/null 2>&1
# CPU samples: spin() is the hottest function.
"$bin/gotrace" record -o "$out/cpu.gtrace" -- "$bin/ProfileScenarios" cpu >/dev/null 2>&1
# About a million events: the page must stay small and quick.
GOTRACE_OUT="$out/large.gtrace" "$bin/TraceFixtureEmitter" --rounds 52600 --workload mixed >/dev/null
screenshot=()
[ "${1:-}" = "--update-screenshot" ] && screenshot=(--screenshot-to docs/report.png)
python3 scripts/browser_check.py --gotrace "$bin/gotrace" --out "$out" "${screenshot[@]}" \
    "$out/leak.gtrace" "$out/abba.gtrace" "$out/workerpool.gtrace" "$out/steal.gtrace" "$out/block.gtrace" "$out/cpu.gtrace" \
    "$out/large.gtrace"
echo "pages and screenshots in $out"
