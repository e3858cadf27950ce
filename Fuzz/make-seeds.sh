#!/usr/bin/env bash
# Builds the seed inputs of the fuzz corpora into Fuzz/Seeds/ (not committed: the minimized corpora in
# Fuzz/Corpus/ are): the .gtrace files of traces/ (complete, truncated, corrupt), each also rewritten with
# inflated (uncompressed) chunks so that mutations hit event bytes rather than zlib's; and small Go 1.19
# execution traces from the fixture programs and Fuzz/GoSeeds, whole and cut short; and the Go 1.22+ traces of
# traces/go.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=Fuzz/Seeds
rm -rf "$seeds"
mkdir -p "$seeds/gtrace" "$seeds/go" "$seeds/go122"
python3 - "$seeds/gtrace" traces/*.gtrace traces/scenarios/*.gtrace <<'PY'
import os, struct, sys, zlib
out = sys.argv[1]
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    name = os.path.basename(path)
    open(os.path.join(out, name), "wb").write(data)
    # The same trace with every compressed chunk stored raw (flag cleared, sizes and CRCs rewritten).
    offset = struct.unpack_from("<H", data, 10)[0]
    rewritten = bytearray(data[:offset])
    while offset + 72 <= len(data) and data[offset:offset + 4] == b"GTCK":
        size = struct.unpack_from("<H", data, offset + 6)[0]
        stored = struct.unpack_from("<I", data, offset + 56)[0]
        header = bytearray(data[offset:offset + size])
        payload = data[offset + size:offset + size + stored]
        if header[5] & 1 and len(payload) == stored:
            payload = zlib.decompress(payload)
            header[5] &= ~1
            struct.pack_into("<III", header, 52, len(payload), len(payload), 0)
        struct.pack_into("<I", header, 64, zlib.crc32(payload))
        struct.pack_into("<I", header, size - 4, zlib.crc32(bytes(header[:size - 4])))
        rewritten += header + payload
        offset += size + stored
    rewritten += data[offset:]
    open(os.path.join(out, "raw-" + name), "wb").write(bytes(rewritten))
PY
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
for program in Tests/Fixtures/GoPrograms/correct Tests/Fixtures/GoPrograms/leaks Tests/Fixtures/GoPrograms/totals Fuzz/GoSeeds; do
    name=$(basename "$program")
    (cd "$program" && GO111MODULE=off go build -o "$build/$name" .)
    "$build/$name" "$seeds/go/$name.trace" >/dev/null 2>&1
done
# Cut-short copies: a trace stopped mid-write (no frequency or stack table at the end).
for name in correct totals; do
    head -c 4096 "$seeds/go/$name.trace" > "$seeds/go/$name-cut.trace"
done
# The totals trace is the largest (~60 KB); keep only its cut copy so inputs stay small and fast.
rm "$seeds/go/totals.trace"
# Go 1.22+ traces (formats 1.22, 1.23, 1.25, 1.26): the committed ones of traces/go, whole, cut in the middle
# and without their last 200 bytes (the end of the last generation and its tables lost).
for trace in traces/go/*-go1.2[2-9].trace; do
    name=$(basename "$trace" .trace)
    cp "$trace" "$seeds/go122/$name.trace"
    size=$(wc -c < "$trace")
    head -c $((size / 2)) "$trace" > "$seeds/go122/$name-half.trace"
    head -c $((size - 200)) "$trace" > "$seeds/go122/$name-tail.trace"
done
ls -l "$seeds"/*
