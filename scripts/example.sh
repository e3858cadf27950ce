#!/usr/bin/env bash
# Sets up, builds in release mode, and runs the main job on a bundled example: record the
# PrintMessage example under `gotrace record`, then summarise the trace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release
out=${OUT:-/tmp/gotrace-example.gtrace}
.build/release/gotrace record -o "$out" -- .build/release/PrintMessage
.build/release/gotrace stat "$out"
