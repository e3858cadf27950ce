// The streaming trace reader.
//
// Design note
// -----------
// Reading happens in two passes over the *headers* and one over the payloads:
//   1. Open: validate the file header (not a trace / unsupported version / corrupt header are fatal).
//   2. Index: walk the chunk headers from the end of the file header to the end of the file (`ChunkWalker`,
//      the one walk every reader shares), seeking over payloads. Each header is CRC-checked before its
//      sizes are trusted. A bad header is reported and the walk resynchronises on the next "GTCK" magic
//      whose header checks out; a chunk that runs past the end of the file is reported as the truncation
//      point. The kind-table and end chunks are decoded here (they are tiny); event chunks are only
//      remembered: offset + header, ~100 bytes per 64 KiB chunk. Payloads load through `ChunkLoader`.
//   3. Merge: for each M, its event chunks in sequence order form one stream; a binary heap keyed by
//      (timestamp, M id) picks the next event across Ms. Only the current chunk of each M is decoded and
//      held, so memory is bounded by (number of Ms) x (chunk size) plus the index, the string and stack
//      tables — never by the number of events. A chunk whose payload fails its CRC, does not inflate, or
//      holds a malformed event is reported; the events decoded before the damage are kept, the rest of
//      that chunk skipped. In a version-2 file a chunk's goroutine arguments are deltas from 0 at its start
//      (GoroutineDelta.swift), so a chunk still decodes without the ones before it.
//
// Ordering guarantee: the events come out with non-decreasing `ticks`, ties broken by M id and then by
// position in that M's stream — a total, deterministic order. Within a chunk, timestamps cannot decrease
// (deltas are unsigned); across two chunks of one M a timestamp smaller than the M's previous one (a clock
// that stepped back) is raised to the previous value rather than reported out of order. So "time stamps out
// of order" (golang/go#16755) cannot happen; such clamps are counted in `clampedTimestamps`.
//
// Robustness rule: nothing read from the file is trusted — every length is checked against the bytes that
// remain and against `TraceLimits` before use, there are no force unwraps on file data, and every problem
// becomes a `TraceDiagnostic` instead of a trap.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem found while reading, located by file name and byte offset.
public struct TraceDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Error, Sendable, Equatable {
        case cannotOpen(String)
        case notATrace
        case unsupportedVersion(UInt16)
        case corruptFileHeader(String)
        /// The file ends inside the file header or inside the chunk at `offset`.
        case truncated
        /// The chunk header at `offset` is invalid; `skippedBytes` were skipped to the next valid chunk (nil:
        /// no valid chunk follows).
        case corruptChunkHeader(reason: String, skippedBytes: UInt64?)
        /// The payload of the chunk at `offset` is damaged; the chunk (from `eventIndex` on) was skipped.
        case corruptChunk(reason: String)
        /// Damage a reader of another format (Go's) describes in its own words; reading went on.
        case damaged(String)
        /// A file a reader of another format (Go's) cannot read at all, in its own words.
        case unreadable(String)
    }

    public var fileName: String
    public var offset: UInt64
    public var problem: Problem

    public init(fileName: String, offset: UInt64, problem: Problem) {
        self.fileName = fileName
        self.offset = offset
        self.problem = problem
    }

    /// Problems after which nothing at all can be read.
    public var isFatal: Bool {
        switch problem {
        case .cannotOpen, .notATrace, .unsupportedVersion, .corruptFileHeader, .unreadable: true
        case .truncated, .corruptChunkHeader, .corruptChunk, .damaged: false
        }
    }

    /// One line: `FILE: offset N: what happened`.
    public var description: String {
        let what: String
        switch problem {
        case .cannotOpen(let reason): what = "cannot open: \(reason)"
        case .notATrace: what = "not a gotrace trace (bad magic)"
        case .unsupportedVersion(let version):
            what = "unsupported format version \(version) (this build reads up to \(traceFormatVersion))"
        case .corruptFileHeader(let reason): what = "corrupt file header: \(reason)"
        case .truncated: what = "truncated: file ends inside a chunk; read up to here"
        case .corruptChunkHeader(let reason, let skipped):
            if let skipped {
                what = "corrupt chunk header (\(reason)); skipped \(skipped) bytes to the next chunk"
            } else {
                what = "corrupt chunk header (\(reason)); no valid chunk follows"
            }
        case .corruptChunk(let reason): what = "corrupt chunk skipped (\(reason))"
        case .damaged(let reason), .unreadable(let reason): what = reason
        }
        return "\(fileName): offset \(offset): \(what)"
    }
}

/// Random access to the bytes of a trace.
public protocol TraceByteSource {
    var size: UInt64 { get }
    /// Up to `count` bytes starting at `offset` (fewer at the end of the data); nil on I/O error.
    func read(at offset: UInt64, count: Int) -> [UInt8]?
    /// Fills `buffer` from `offset` (less at the end of the data or on an I/O error); returns the bytes
    /// read. For readers that keep a buffer of their own (the chunk walk's and the chunk loader's windows).
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int
}

extension TraceByteSource {
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let bytes = read(at: offset, count: buffer.count) else { return 0 }
        buffer.copyBytes(from: bytes)
        return bytes.count
    }
}

public struct MemoryByteSource: TraceByteSource {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var size: UInt64 { UInt64(bytes.count) }
    public func read(at offset: UInt64, count: Int) -> [UInt8]? {
        guard offset < size else { return [] }
        let start = Int(offset)
        return Array(bytes[start..<start + min(count, bytes.count - start)])
    }
}

/// A regular file read with `pread`; the descriptor is closed when the source is released.
public final class FileByteSource: TraceByteSource {
    public let fileDescriptor: Int32
    public let size: UInt64

    /// Opens `path`, or returns the `strerror` text.
    public static func open(path: String) -> Result<FileByteSource, TraceDiagnostic.Problem> {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(.cannotOpen(String(cString: strerror(errno)))) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            return .failure(.cannotOpen(reason))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            return .failure(.cannotOpen("not a regular file"))
        }
        return .success(FileByteSource(fileDescriptor: descriptor, size: UInt64(info.st_size)))
    }

    init(fileDescriptor: Int32, size: UInt64) {
        self.fileDescriptor = fileDescriptor
        self.size = size
    }

    deinit { close(fileDescriptor) }

    public func read(at offset: UInt64, count: Int) -> [UInt8]? {
        guard offset < size else { return [] }
        let wanted = Int(min(UInt64(count), size - offset))
        var bytes = [UInt8](repeating: 0, count: wanted)
        let filled = bytes.withUnsafeMutableBytes { FileByteSource.readFully(fileDescriptor, at: offset, into: $0) }
        guard filled == wanted else { return filled > 0 ? Array(bytes.prefix(filled)) : nil }
        return bytes
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        FileByteSource.readFully(fileDescriptor, at: offset, into: buffer)
    }

    /// Reads until `buffer` is full, the file ends or a read fails (EINTR retried); returns the bytes read.
    /// Shared by the readers that keep their own buffer (the report's chunk loader reads into a window).
    public static func readFully(_ descriptor: Int32, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer)
        -> Int
    {
        var filled = 0
        while filled < buffer.count {
            // Safety: filled < buffer.count, so the destination range is inside the buffer.
            let got = pread(descriptor, buffer.baseAddress!.advanced(by: filled), buffer.count - filled,
                            off_t(offset) + off_t(filled))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            filled += got
        }
        return filled
    }
}

public final class TraceReader: Sequence, IteratorProtocol {
    /// Where an event chunk is, from the index pass.
    struct ChunkEntry {
        var offset: UInt64
        var headerSize: Int
        var header: ChunkHeader
        var location: ChunkLocation
    }

    /// The merge state of one M.
    struct MachineStream {
        var machine: UInt64
        var chunks: [ChunkEntry]
        var nextChunk = 0
        var events: [TraceEvent] = []
        var position = 0
        var lastTicks: UInt64 = 0
        var currentProc: UInt64?
        var currentGoroutine: UInt64?
    }

    public let fileName: String
    private let source: (any TraceByteSource)?

    public private(set) var header: FileHeader?
    /// Every problem found so far, in the order found. Index-pass problems are present right after `init`;
    /// payload problems appear as iteration reaches the chunk.
    public private(set) var diagnostics: [TraceDiagnostic] = []
    /// Whether an end chunk was found: the writer finished the trace.
    public private(set) var isComplete = false
    public private(set) var endChunk: EndChunk?
    /// The program's arguments, if the trace was recorded with `--record-args` (nil otherwise).
    public private(set) var commandLine: [String]?
    /// Event chunks found by the index pass (including ones later found damaged).
    public private(set) var eventChunkCount = 0
    /// Chunks (or stretches of bytes) skipped because they were damaged.
    public private(set) var corruptChunkCount = 0
    /// Sum of the dropped-event counts in the chunk headers.
    public private(set) var droppedEvents: UInt64 = 0
    /// Sum of raw payload sizes of the event chunks (the size before compression).
    public private(set) var rawPayloadBytes: UInt64 = 0
    /// Events yielded so far.
    public private(set) var eventsRead: UInt64 = 0
    public private(set) var clampedTimestamps: UInt64 = 0
    /// The string table: `string` events seen so far.
    public private(set) var strings: [UInt64: String] = [:]
    /// The stack table: `stack` events seen so far (program counters, innermost first).
    public private(set) var stacks: [UInt64: [UInt64]] = [:]
    public var fileSize: UInt64 { source?.size ?? 0 }

    /// The spec used for each wire code: built-in, extended or supplied by the file's kind table.
    public private(set) var kinds = KindCatalogue()
    /// Whether the file's events chunks store goroutine arguments as deltas (version 2 on: GoroutineDelta).
    private var goroutineDeltas = false
    /// Loads every chunk (nil: the file could not be opened); `payloadBuffer` is its reused destination.
    private let loader: ChunkLoader?
    private var payloadBuffer = PayloadBuffer()
    private var streams: [MachineStream] = []
    /// Min-heap of stream indices keyed by (next event ticks, M id).
    private var heap: [Int] = []

    /// The fatal problem, if the trace could not be read at all.
    public var fatalDiagnostic: TraceDiagnostic? { diagnostics.first { $0.isFatal } }

    /// Reads the trace in the file at `path`. Never throws: problems become `diagnostics`.
    public convenience init(path: String) {
        let name = path
        switch FileByteSource.open(path: path) {
        case .success(let source): self.init(source: source, fileName: name)
        case .failure(let problem): self.init(failed: TraceDiagnostic(fileName: name, offset: 0, problem: problem))
        }
    }

    /// Reads the trace on an open descriptor (which stays open and owned by the caller). A regular file is
    /// read with `pread` from its start; anything else (a pipe) is first read to its end into memory, since
    /// the reader needs to seek.
    public convenience init(fileDescriptor: Int32, fileName: String) {
        var info = stat()
        if fstat(fileDescriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
            let duplicate = dup(fileDescriptor)
            if duplicate >= 0 {
                self.init(source: FileByteSource(fileDescriptor: duplicate, size: UInt64(info.st_size)),
                          fileName: fileName)
                return
            }
        }
        var bytes: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            // Safety: read(2) writes at most `block.count` bytes into the block.
            let count = block.withUnsafeMutableBytes { read(fileDescriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += block[0..<count]
        }
        self.init(source: MemoryByteSource(bytes), fileName: fileName)
    }

    /// Reads a trace held in memory; `fileName` is used in diagnostics.
    public convenience init(bytes: [UInt8], fileName: String = "<memory>") {
        self.init(source: MemoryByteSource(bytes), fileName: fileName)
    }

    public init(source: any TraceByteSource, fileName: String) {
        self.fileName = fileName
        self.source = source
        loader = ChunkLoader(source: source)
        guard let headerSize = readFileHeader(source) else { return }
        indexChunks(source, from: UInt64(headerSize))
        for index in streams.indices where advance(streamAt: index) { heapPush(index) }
    }

    deinit { payloadBuffer.deallocate() }

    /// A reader of a file that could not be opened: `diagnostic`, fatal, is all it has to say.
    public init(failed diagnostic: TraceDiagnostic) {
        fileName = diagnostic.fileName
        source = nil
        loader = nil
        diagnostics = [diagnostic]
    }

    // MARK: Open and index

    private func report(_ offset: UInt64, _ problem: TraceDiagnostic.Problem) {
        diagnostics.append(TraceDiagnostic(fileName: fileName, offset: offset, problem: problem))
    }

    /// Validates the file header; returns its size, or nil after reporting a fatal problem.
    private func readFileHeader(_ source: any TraceByteSource) -> Int? {
        guard let bytes = source.read(at: 0, count: TraceLimits.maxHeaderSize) else {
            report(0, .cannotOpen("read error"))
            return nil
        }
        guard !bytes.isEmpty else {
            report(0, .notATrace)
            return nil
        }
        switch FileHeader.decode(bytes[...]) {
        case .success(let (header, size)):
            self.header = header
            goroutineDeltas = GoroutineDelta.applies(toFormatVersion: header.version)
            return size
        case .failure(.notATrace): report(0, .notATrace)
        case .failure(.unsupportedVersion(let version)): report(8, .unsupportedVersion(version))
        case .failure(.corrupt(let reason)): report(0, .corruptFileHeader(reason))
        case .failure(.truncated): report(UInt64(bytes.count), .corruptFileHeader("file ends inside the header"))
        }
        return nil
    }

    private func indexChunks(_ source: any TraceByteSource, from start: UInt64) {
        var chunksByMachine: [UInt64: [ChunkEntry]] = [:]
        for step in ChunkWalker(source: source, from: start) {
            switch step {
            case .chunk(let header, let headerSize, let location):
                let entry = ChunkEntry(offset: location.offset, headerSize: headerSize, header: header,
                                       location: location)
                switch header.type {
                case .events:
                    chunksByMachine[header.machine, default: []].append(entry)
                    eventChunkCount += 1
                    droppedEvents += UInt64(header.droppedEvents)
                    rawPayloadBytes += UInt64(header.rawPayloadSize)
                case .kindTable:
                    if let specs = decodeSpecial(entry, "kind table", KindTableCodec.decode) { kinds.adopt(specs) }
                case .end:
                    if let payload = loadPayload(entry) {
                        endChunk = EndChunk.decode(payload)
                        isComplete = true
                    }
                case .commandLine:
                    if let arguments = decodeSpecial(entry, "command-line chunk", CommandLineChunk.decode) {
                        commandLine = arguments
                    }
                default:
                    break  // Unknown chunk types are skipped silently: that is the extension rule.
                }
            case .truncated(let offset):
                report(offset, .truncated)
            case .corruptHeader(let offset, let reason, let resumesAt):
                corruptChunkCount += 1
                report(offset, .corruptChunkHeader(reason: reason, skippedBytes: resumesAt.map { $0 - offset }))
            }
        }
        streams = chunksByMachine.keys.sorted().map { machine in
            // Sequence order; the file offset breaks ties so a duplicated sequence number stays deterministic.
            let chunks = (chunksByMachine[machine] ?? []).sorted {
                ($0.header.sequence, $0.offset) < ($1.header.sequence, $1.offset)
            }
            return MachineStream(machine: machine, chunks: chunks, lastTicks: header?.startTicks ?? 0)
        }
    }

    /// A special chunk's payload decoded by `decode` (`what` names it), or nil after counting the chunk damaged.
    private func decodeSpecial<Decoded>(_ entry: ChunkEntry, _ what: String, _ decode: ([UInt8]) -> Decoded?)
        -> Decoded?
    {
        guard let payload = loadPayload(entry) else {
            corruptChunkCount += 1
            return nil
        }
        guard let decoded = decode(payload) else {
            report(entry.offset, .corruptChunk(reason: "\(what) does not decode"))
            corruptChunkCount += 1
            return nil
        }
        return decoded
    }

    /// The raw payload of a chunk, or nil after reporting why it is unusable.
    private func loadPayload(_ entry: ChunkEntry) -> [UInt8]? {
        guard let loader else { return nil }
        switch loader.load(entry.location, into: &payloadBuffer) {
        case .success: return Array(payloadBuffer.bytes)
        case .failure(let failure):
            report(entry.offset, .corruptChunk(reason: failure.description))
            return nil
        }
    }

    // MARK: Decoding

    /// Ticks to nanoseconds since the trace start, saturating instead of overflowing (`FileHeader`'s).
    public func nanoseconds(fromTicks ticks: UInt64) -> UInt64 { header?.nanoseconds(fromTicks: ticks) ?? ticks }

    /// Decodes the events of one chunk for `stream`, keeping those before any damage.
    private func decodeEvents(of entry: ChunkEntry, into stream: inout MachineStream) -> [TraceEvent] {
        guard let payload = loadPayload(entry) else {
            corruptChunkCount += 1
            return []
        }
        var cursor = PayloadCursor(payload)
        var ticks = entry.header.baseTicks
        // Every chunk starts its goroutine deltas from 0, so it decodes without the chunks before it.
        var previousGoroutine: UInt64 = 0
        var events: [TraceEvent] = []
        events.reserveCapacity(Int(Swift.min(entry.header.eventCount, 1 << 16)))
        while !cursor.isAtEnd {
            let eventOffset = cursor.offset
            // The kind byte's high bit is reserved (see EventKind.maxCode); a set bit means damage here.
            guard let code = cursor.readByte(), code <= EventKind.maxCode, let spec = kinds.specs[Int(code)] else {
                let code = payload[eventOffset]
                report(entry.offset, .corruptChunk(
                    reason: "event kind \(code) not in any kind table, at payload byte \(eventOffset)"))
                corruptChunkCount += 1
                break
            }
            guard let delta = cursor.readVarint(),
                  let arguments = readArguments(spec, &cursor, previousGoroutine: &previousGoroutine)
            else {
                report(entry.offset, .corruptChunk(reason: "malformed \(spec.name) event at payload byte \(eventOffset)"))
                corruptChunkCount += 1
                break
            }
            let (sum, overflow) = ticks.addingReportingOverflow(delta)
            ticks = overflow ? UInt64.max : sum
            var eventTicks = ticks
            if eventTicks < stream.lastTicks {
                eventTicks = stream.lastTicks
                clampedTimestamps += 1
            }
            stream.lastTicks = eventTicks
            var event = TraceEvent(spec: spec, ticks: eventTicks, nanoseconds: nanoseconds(fromTicks: eventTicks),
                                   machine: entry.header.machine, proc: nil, goroutine: nil, arguments: arguments)
            applyContext(to: &event, stream: &stream)
            events.append(event)
        }
        return events
    }

    /// The arguments of one event of `spec`, goroutine deltas resolved against `previousGoroutine` in a
    /// version-2 file; nil if they are malformed.
    private func readArguments(_ spec: EventKindSpec, _ cursor: inout PayloadCursor, previousGoroutine: inout UInt64)
        -> [TraceValue]?
    {
        var values: [TraceValue] = []
        values.reserveCapacity(spec.arguments.count)
        for argument in spec.arguments {
            switch argument.wireType {
            case .uvarint:
                guard let wire = cursor.readVarint() else { return nil }
                let isDelta = goroutineDeltas && argument.isGoroutineDelta
                values.append(.number(isDelta ? GoroutineDelta.decode(wire, previous: &previousGoroutine) : wire))
            case .uvarintList:
                // Each item takes at least one byte, so a count above the bytes left is malformed.
                guard let count = cursor.readVarint(), count <= UInt64(TraceLimits.maxListCount),
                      count <= UInt64(cursor.remaining)
                else { return nil }
                var items: [UInt64] = []
                items.reserveCapacity(Int(count))
                for _ in 0..<Int(count) {
                    guard let item = cursor.readVarint() else { return nil }
                    items.append(item)
                }
                values.append(.numbers(items))
            case .bytes:
                guard let length = cursor.readVarint(), length <= UInt64(TraceLimits.maxByteStringLength),
                      let bytes = cursor.readBytes(Int(length))
                else { return nil }
                values.append(.bytes(bytes))
            }
        }
        return values
    }

    /// Attaches the P and goroutine to `event` and updates the M's current P and goroutine.
    private func applyContext(to event: inout TraceEvent, stream: inout MachineStream) {
        let arguments = event.spec.arguments
        var goroutine: UInt64?
        var proc: UInt64?
        for (index, argument) in arguments.enumerated() where index < event.arguments.count {
            if argument.role == .goroutine, goroutine == nil { goroutine = event.arguments[index].number }
            if argument.role == .proc, proc == nil { proc = event.arguments[index].number }
        }
        event.goroutine = goroutine ?? stream.currentGoroutine
        event.proc = proc ?? stream.currentProc
        switch event.spec.contextEffect {
        case .startsGoroutine: stream.currentGoroutine = event.goroutine
        case .stopsGoroutine: if stream.currentGoroutine == event.goroutine { stream.currentGoroutine = nil }
        case .acquiresProc: stream.currentProc = event.proc
        case .releasesProc: stream.currentProc = nil
        case .none: break
        }
    }

    /// Makes sure the stream at `index` has a current event, decoding further chunks as needed. Returns
    /// false when the stream is exhausted.
    private func advance(streamAt index: Int) -> Bool {
        while streams[index].position >= streams[index].events.count {
            guard streams[index].nextChunk < streams[index].chunks.count else {
                streams[index].events = []
                return false
            }
            let entry = streams[index].chunks[streams[index].nextChunk]
            streams[index].nextChunk += 1
            var stream = streams[index]
            stream.events = []  // release the previous chunk before decoding the next
            let events = decodeEvents(of: entry, into: &stream)
            stream.events = events
            stream.position = 0
            streams[index] = stream
        }
        return true
    }

    // MARK: Iteration

    /// The next event in timestamp order, or nil at the end (or if the trace could not be read).
    public func next() -> TraceEvent? {
        guard let top = heap.first else { return nil }
        let event = streams[top].events[streams[top].position]
        streams[top].position += 1
        if advance(streamAt: top) {
            heapSiftDown(0)
        } else {
            heapPopTop()
        }
        eventsRead += 1
        recordDefinition(event)
        return event
    }

    private func recordDefinition(_ event: TraceEvent) {
        guard event.arguments.count >= 2, case .number(let id) = event.arguments[0] else { return }
        if event.kind == .string, case .bytes(let text) = event.arguments[1] {
            strings[id] = String(decoding: text, as: UTF8.self)
        } else if event.kind == .stack, case .numbers(let pcs) = event.arguments[1] {
            stacks[id] = pcs
        }
    }

    /// The text of string `id`: "" for 0, nil if not (yet) defined.
    public func string(_ id: UInt64) -> String? { id == 0 ? "" : strings[id] }

    // MARK: Heap of streams

    private func heapKey(_ index: Int) -> (UInt64, UInt64) {
        let stream = streams[index]
        return (stream.events[stream.position].ticks, stream.machine)
    }

    private func heapLess(_ a: Int, _ b: Int) -> Bool { heapKey(heap[a]) < heapKey(heap[b]) }

    private func heapPush(_ index: Int) {
        heap.append(index)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heapLess(child, parent) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func heapPopTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        if !heap.isEmpty { heapSiftDown(0) }
    }

    private func heapSiftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heapLess(left, smallest) { smallest = left }
            if right < heap.count && heapLess(right, smallest) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
