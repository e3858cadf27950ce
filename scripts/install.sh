#!/usr/bin/env bash
# Installs gotrace under a prefix (default /usr/local):
#   bin/gotrace
#   lib/gotrace/plugins/lib{Leak,Latency,Summary,Flamegraph,HTMLReport}Analyzer.so
#   include/gotrace_plugin.h
#   share/man/man1/gotrace.1
#   share/bash-completion/completions/gotrace, share/zsh/site-functions/_gotrace,
#   share/fish/vendor_completions.d/gotrace.fish
#
# Design note
# -----------
# The layout is the contract with PluginLoader: an installed gotrace finds its analyzers in
# <its own directory>/../lib/gotrace/plugins, so the prefix can be anywhere and need not be on any path.
# Nothing but gotrace goes into bin/ (it is shared with other programs, and a plugin there would also be found
# by the "directory of the executable" rule, hiding a broken lib/ layout).
#
# The Swift runtime is not copied: gotrace and its plugins link the toolchain's shared runtime (libswiftCore,
# Foundation, ...) through the absolute RUNPATH SwiftPM writes, so the host and every Swift plugin share one
# runtime, as the plugin ABI requires (docs/plugins.md). A statically linked stdlib in the executable was
# rejected: the first Swift plugin to load would bring the toolchain's libswiftCore.so in beside it, two
# runtimes in one process. The cost: the installed gotrace needs the toolchain that built it to stay where it
# is; the script checks with ldd that every library resolves before it reports success.
#
# The man page comes from swift-argument-parser's generate-manual plugin. The plugin builds the package
# itself, which --no-build must not do (inside `swift test` the build directory is locked by the running
# test, and a second build would wait for it forever), so with --no-build the plugin's own tool,
# generate-manual, is built from the resolved swift-argument-parser checkout in a scratch directory of its
# own and run on the already built gotrace: the same program on the same input. The page is dated by the
# last commit, not by today, so installing twice from one commit writes identical files.
#
# Files are copied to a temporary name in the destination directory and renamed over the old one, so a
# gotrace that is running while a new one is installed keeps its (unlinked) libraries instead of having
# them rewritten under it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
configuration=release
scratch_path=$root/.build
build=1
plugins=(LeakAnalyzer LatencyAnalyzer SummaryAnalyzer FlamegraphAnalyzer HTMLReportAnalyzer)

usage() {
    cat <<EOF
Usage: scripts/install.sh [--prefix DIR] [--configuration release|debug] [--scratch-path DIR] [--no-build]

Builds gotrace and installs it under DIR (default /usr/local):
  DIR/bin/gotrace
  DIR/lib/gotrace/plugins/lib*Analyzer.so      the built-in analyzers (found by gotrace from there)
  DIR/include/gotrace_plugin.h                 the plugin C ABI
  DIR/share/man/man1/gotrace.1                 the manual (swift-argument-parser's generate-manual)
  DIR/share/bash-completion/completions/gotrace
  DIR/share/zsh/site-functions/_gotrace
  DIR/share/fish/vendor_completions.d/gotrace.fish

Options:
  --prefix DIR           Install under DIR (created if missing). Default: /usr/local.
  -c, --configuration C  Build configuration to build and install: release (default) or debug.
  --scratch-path DIR     SwiftPM's build directory. Default: .build in the package.
  --no-build             Do not run swift build: install the products already built in
                         SCRATCH/CONFIGURATION (e.g. build as yourself, then sudo install).
  -h, --help             Show this help.

Installing again over an existing prefix replaces the files. The installed gotrace uses the Swift
runtime of the toolchain that built it, which must stay installed.
EOF
}

fail() {
    echo "install.sh: error: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --prefix | --configuration | -c | --scratch-path)
            [[ $# -ge 2 && -n $2 ]] || fail "$1 needs a value (see --help)"
            case $1 in
                --prefix) prefix=$2 ;;
                --configuration | -c) configuration=$2 ;;
                --scratch-path) scratch_path=$2 ;;
            esac
            shift 2
            ;;
        --prefix=* ) prefix=${1#*=}; [[ -n $prefix ]] || fail "--prefix needs a value"; shift ;;
        --configuration=*) configuration=${1#*=}; shift ;;
        --scratch-path=*) scratch_path=${1#*=}; [[ -n $scratch_path ]] || fail "--scratch-path needs a value"; shift ;;
        --no-build) build=0; shift ;;
        -h | --help) usage; exit 0 ;;
        *) fail "unknown option '$1' (see --help)" ;;
    esac
done

case $configuration in
    release | debug) ;;
    *) fail "--configuration must be release or debug, not '$configuration'" ;;
esac

# sudo resets PATH to its secure_path, which rarely holds the toolchain: say so instead of "command not found".
command -v swift >/dev/null ||
    fail "swift is not on PATH (under sudo, keep yours: sudo env PATH=\"\$PATH\" scripts/install.sh ...)"
mkdir -p "$prefix" 2>/dev/null || fail "cannot create $prefix (choose another --prefix, or run as a user who may write there)"
prefix=$(cd "$prefix" && pwd)
[[ -w $prefix ]] || fail "cannot write to $prefix (choose another --prefix, or run as a user who may write there)"
if [[ $build -eq 1 ]]; then
    mkdir -p "$scratch_path"
fi
[[ -d $scratch_path ]] || fail "no build directory $scratch_path (build first, or drop --no-build)"
scratch_path=$(cd "$scratch_path" && pwd)
products=$scratch_path/$configuration

man_date=$(git -C "$root" log -1 --format=%cs 2>/dev/null || date +%Y-%m-%d)
man_output=$(mktemp -d)
trap 'rm -rf "$man_output"' EXIT

if [[ $build -eq 1 ]]; then
    echo "==> swift build -c $configuration"
    swift build --package-path "$root" --scratch-path "$scratch_path" -c "$configuration"
    # The plugin builds all products again in the same configuration (a no-op after the line above), then runs
    # generate-manual on every ArgumentParser executable; gotrace is the only one.
    echo "==> swift package plugin generate-manual"
    swift package --package-path "$root" --scratch-path "$scratch_path" plugin generate-manual \
        --configuration "$configuration" --date "$man_date"
    cp "$scratch_path/plugins/GenerateManual/outputs/gotrace/gotrace.1" "$man_output/gotrace.1"
fi

[[ -x $products/gotrace ]] || fail "$products/gotrace is not built (run swift build -c $configuration, or drop --no-build)"
for plugin in "${plugins[@]}"; do
    [[ -f $products/lib$plugin.so ]] || fail "$products/lib$plugin.so is not built (run swift build -c $configuration)"
done

if [[ $build -eq 0 ]]; then
    parser_checkout=$scratch_path/checkouts/swift-argument-parser
    [[ -f $parser_checkout/Package.swift ]] ||
        fail "no swift-argument-parser checkout in $parser_checkout (run swift build once to resolve it)"
    tool_scratch=$scratch_path/install-tools
    # Run as another user than the build directory's owner (sudo after a build as yourself), build the tool in a
    # throwaway directory rather than leave files in the build directory that its owner cannot delete.
    if [[ ! -O $scratch_path ]]; then
        tool_scratch=$man_output/tools
    fi
    echo "==> building generate-manual (swift-argument-parser's manual tool) in $tool_scratch"
    swift build --package-path "$parser_checkout" --scratch-path "$tool_scratch" --product generate-manual \
        >"$man_output/build.log" 2>&1 || { cat "$man_output/build.log" >&2; fail "building generate-manual failed"; }
    "$tool_scratch/debug/generate-manual" "$products/gotrace" --date "$man_date" --output-directory "$man_output"
fi
[[ -s $man_output/gotrace.1 ]] || fail "generate-manual wrote no gotrace.1"

installed=()
# put SOURCE DESTINATION MODE: copy beside the destination, then rename over it (see the top).
put() {
    local destination=$2
    mkdir -p "$(dirname "$destination")"
    install -m "$3" "$1" "$destination.installing.$$"
    mv -f "$destination.installing.$$" "$destination"
    installed+=("$destination")
}

put "$products/gotrace" "$prefix/bin/gotrace" 0755
for plugin in "${plugins[@]}"; do
    put "$products/lib$plugin.so" "$prefix/lib/gotrace/plugins/lib$plugin.so" 0755
done
put "$root/Sources/CGoTracePlugin/include/gotrace_plugin.h" "$prefix/include/gotrace_plugin.h" 0644
put "$man_output/gotrace.1" "$prefix/share/man/man1/gotrace.1" 0644
for shell in bash zsh fish; do
    "$products/gotrace" --generate-completion-script "$shell" >"$man_output/completion.$shell"
    [[ -s $man_output/completion.$shell ]] || fail "gotrace wrote no $shell completion script"
done
put "$man_output/completion.bash" "$prefix/share/bash-completion/completions/gotrace" 0644
put "$man_output/completion.zsh" "$prefix/share/zsh/site-functions/_gotrace" 0644
put "$man_output/completion.fish" "$prefix/share/fish/vendor_completions.d/gotrace.fish" 0644

# Every library of the installed binary and plugins must resolve from the prefix, not only from the build tree.
for file in "$prefix/bin/gotrace" "$prefix"/lib/gotrace/plugins/lib*Analyzer.so; do
    missing=$(ldd "$file" | grep 'not found' || true)
    [[ -z $missing ]] || fail "$file: libraries not found:"$'\n'"$missing"
done
runtime=$(ldd "$prefix/bin/gotrace" | awk '$1 == "libswiftCore.so" { print $3 }')

echo "==> installed $("$prefix/bin/gotrace" --version):"
printf '  %s\n' "${installed[@]}"
[[ -z $runtime ]] || echo "Swift runtime: ${runtime%/*} (the toolchain that built gotrace; keep it installed)"
if [[ ":$PATH:" != *":$prefix/bin:"* ]]; then
    echo "Note: $prefix/bin is not on PATH."
fi
