#!/usr/bin/env bash
# Sets up, builds in release mode, and runs the main job on a bundled example: record the
# PrintMessage example under `gotrace record`, summarise the trace, and run the analyzers on it
# (leaks and latency; a correct program: no leaks).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release
out=${OUT:-/tmp/gotrace-example.gtrace}
.build/release/gotrace record -o "$out" -- .build/release/PrintMessage
.build/release/gotrace stat "$out"
.build/release/gotrace report "$out"
