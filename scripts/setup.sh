#!/usr/bin/env bash
# Installs the system packages gotrace builds against (Debian). Idempotent; needs root or sudo.
set -euo pipefail
# golang-go: `go tool pprof` checks the pprof exports; python3-pip: flameshow, whose parsers check the other
# export formats (Tests/GoTraceAnalysisTests/Export*.swift).
packages=(zlib1g-dev libelf-dev libdw-dev pkg-config golang-go python3-pip)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
python3 -c "import flamegraph_textual.parsers" 2>/dev/null \
    || python3 -m pip install --quiet flameshow 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages flameshow
