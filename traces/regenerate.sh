#!/bin/sh
# Regenerates the golden traces of the current format and the expected `gotrace dump` output of every golden
# trace. Run from the package root after `swift build --product gotrace --product TraceFixtureEmitter`; review
# the diff before committing: a change in a .dump.txt file is a change in what users see.
#   basic-v2.gtrace   complete trace from TraceFixtureEmitter (3 Ms, every event kind), compressed chunks, in
#                     trace format 2 (goroutine arguments as deltas)
#   basic.gtrace      the same emitter's trace in format 1, written before format 2 existed; with the two below
#                     it is kept as it is, so that reading format 1 stays tested (FROZEN=0 rewrites all three
#                     from a format-2 basic trace, which ends that)
#   truncated.gtrace  basic.gtrace cut in the middle of its third event chunk (no end chunk)
#   corrupt.gtrace    basic.gtrace with one payload byte of its second event chunk flipped (CRC mismatch)
set -eu
BIN=${BIN:-.build/debug}
GOTRACE_OUT=traces/basic-v2.gtrace "$BIN/TraceFixtureEmitter" --rounds 6
if [ "${FROZEN:-1}" = 0 ]; then
cp traces/basic-v2.gtrace traces/basic.gtrace
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
fi
for name in basic-v2 basic truncated corrupt; do
    "$BIN/gotrace" dump "traces/$name.gtrace" > "traces/$name.dump.txt" 2> "traces/$name.stderr.txt" || true
done
