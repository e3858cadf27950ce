#!/bin/sh
# Regenerates the golden traces and their expected `gotrace dump` output. Run from the package root after
# `swift build --product gotrace --product TraceFixtureEmitter`; review the diff before committing: a change
# in a .dump.txt file is a change in what users see.
#   basic.gtrace      complete trace from TraceFixtureEmitter (3 Ms, every event kind), compressed chunks
#   truncated.gtrace  basic.gtrace cut in the middle of its third event chunk (no end chunk)
#   corrupt.gtrace    basic.gtrace with one payload byte of its second event chunk flipped (CRC mismatch)
set -eu
BIN=${BIN:-.build/debug}
GOTRACE_OUT=traces/basic.gtrace "$BIN/TraceFixtureEmitter" --rounds 6
python3 - <<'PY'
import struct
data = open("traces/basic.gtrace", "rb").read()
offset = struct.unpack_from("<H", data, 10)[0]
events = []
while offset < len(data):
    kind = data[offset + 4]
    size = struct.unpack_from("<H", data, offset + 6)[0]
    stored = struct.unpack_from("<I", data, offset + 56)[0]
    if kind == 0:
        events.append((offset, size, stored))
    offset += size + stored
third = events[2]
open("traces/truncated.gtrace", "wb").write(data[: third[0] + third[1] + third[2] // 2])
second = events[1]
damaged = bytearray(data)
damaged[second[0] + second[1] + second[2] // 2] ^= 0xFF
open("traces/corrupt.gtrace", "wb").write(bytes(damaged))
PY
for name in basic truncated corrupt; do
    "$BIN/gotrace" dump "traces/$name.gtrace" > "traces/$name.dump.txt" 2> "traces/$name.stderr.txt" || true
done
