import GoTrace

/// Builds trace files in memory, chunk by chunk, the way `TraceFileWriter` lays them out.
struct TraceBuilder {
    var bytes: [UInt8]
    var events: UInt64 = 0
    var chunks: UInt64 = 0

    /// A file header of format `version` and a kind table of `kinds`.
    init(ticksPerSecond: UInt64 = 1_000_000_000, startTicks: UInt64 = 0, version: UInt16 = traceFormatVersion,
         kinds: [EventKindSpec] = EventKindSpec.builtIn) {
        var header = FileHeader(ticksPerSecond: ticksPerSecond, startTicks: startTicks, startWallTimeNanoseconds: 0)
        header.version = version
        bytes = header.encoded() + KindTableCodec.chunk(for: kinds)
    }

    /// Appends an uncompressed events chunk of M `machine` around `payload`, event bytes written by hand. Its
    /// start and end ticks are `baseTicks`: the readers time events by the base and the deltas alone.
    mutating func append(payload: [UInt8], eventCount: UInt32, machine: UInt64, sequence: UInt64,
                         baseTicks: UInt64 = 0) {
        events += UInt64(eventCount)
        chunks += 1
        bytes += ChunkHeader(type: .events, machine: machine, sequence: sequence, baseTicks: baseTicks,
                             startTicks: baseTicks, endTicks: baseTicks, eventCount: eventCount,
                             rawPayloadSize: UInt32(payload.count), storedPayloadSize: UInt32(payload.count),
                             payloadCRC: crc32(of: payload[...])).encoded() + payload
    }

    /// Seals `buffer` as a chunk of M `machine` and appends it (compressed unless told otherwise).
    mutating func seal(_ buffer: TraceBuffer, machine: UInt64, sequence: UInt64, compress: Bool = true) {
        events += UInt64(buffer.eventCount)
        chunks += 1
        let raw = buffer.sealChunk(machine: machine, sequence: sequence)
        bytes += compress ? ChunkCodec.compress(raw) : raw
    }

    mutating func finish() {
        bytes += EndChunk(events: events, chunks: chunks, droppedEvents: 0, endWallTimeNanoseconds: 0).encoded()
    }
}

/// Reads every event and returns them with the reader (for its diagnostics and tables).
func readAll(_ bytes: [UInt8], name: String = "test.gtrace") -> (events: [TraceEvent], reader: TraceReader) {
    let reader = TraceReader(bytes: bytes, fileName: name)
    var events: [TraceEvent] = []
    while let event = reader.next() { events.append(event) }
    return (events, reader)
}

/// Offsets and sizes of the chunks in a trace file, found by walking the headers.
func chunkLayout(_ bytes: [UInt8]) -> [(offset: Int, headerSize: Int, header: ChunkHeader)] {
    guard case .success(let (_, headerSize)) = FileHeader.decode(bytes[...]) else { return [] }
    var layout: [(Int, Int, ChunkHeader)] = []
    var offset = headerSize
    while case .success(let (header, size)) = ChunkHeader.decode(bytes[offset...]) {
        layout.append((offset, size, header))
        offset += size + Int(header.storedPayloadSize)
        if offset >= bytes.count { break }
    }
    return layout
}

