// Where `gotrace report` gets its events from: a trace file, decoded into ABI-shaped batches.
//
// Design note
// -----------
// The analysis pass wants `gotrace_event` structs (plain values, no allocation per event) in batches,
// plus the definitions (strings, stacks, modules) recorded as they stream past so that look-ups later
// answer from host-owned memory. `TraceReaderEventSource` adapts `GoTrace.TraceReader` — the one reader
// that knows how to recover from damage — so every diagnostic the reader produces is kept.
//
// The file's kind table is read up front (it is the first chunk a writer emits) so that plugins can
// resolve kinds and arguments by name in `create`, before the first event.

import CGoTracePlugin
import GoTrace

/// The names and argument lists of every kind this trace may contain: built-in kinds, extended or joined
/// by the file's kind table exactly as `TraceReader` merges them.
public struct KindCatalogue: Sendable {
    public private(set) var specs: [EventKindSpec?] = EventKindSpec.builtInByCode

    public init() {}

    /// Merges a file's table: known codes may gain trailing arguments; unknown codes are adopted.
    public mutating func adopt(_ fileSpecs: [EventKindSpec]) {
        for fileSpec in fileSpecs {
            let code = Int(fileSpec.kind.rawValue)
            if let merged = EventKindSpec.merging(fileSpec, into: specs[code]) { specs[code] = merged }
        }
    }

    public func code(named name: String) -> UInt8? { specs.compactMap { $0 }.first { $0.name == name }?.kind.rawValue }

    /// Reads the kind-table chunk that follows the file header, if there is one and it is intact.
    public static func reading(path: String) -> KindCatalogue {
        var catalogue = KindCatalogue()
        guard case .success(let source) = FileByteSource.open(path: path),
              let head = source.read(at: 0, count: TraceLimits.maxHeaderSize),
              case .success(let (_, headerSize)) = FileHeader.decode(head[...]),
              let chunkHead = source.read(at: UInt64(headerSize), count: ChunkHeader.encodedSize),
              case .success(let (chunk, chunkHeaderSize)) = ChunkHeader.decode(chunkHead[...]),
              chunk.type == .kindTable,
              let stored = source.read(at: UInt64(headerSize + chunkHeaderSize), count: Int(chunk.storedPayloadSize)),
              case .success(let payload) = ChunkCodec.payload(of: chunk, stored: stored[...]),
              let specs = KindTableCodec.decode(payload)
        else { return catalogue }
        catalogue.adopt(specs)
        return catalogue
    }
}

/// Receives definitions as they stream past.
protocol DefinitionSink: AnyObject {
    func defineString(_ id: UInt64, _ bytes: [UInt8])
    func defineStack(_ id: UInt64, _ programCounters: [UInt64])
}

/// A source of events in time order.
protocol EventSource: AnyObject {
    /// Fills `batch` from the start; returns how many events were written (0 at the end).
    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: DefinitionSink) -> Int
    var eventsRead: UInt64 { get }
    /// Total events if the trace says (its end chunk), for progress.
    var expectedEvents: UInt64? { get }
}

final class TraceReaderEventSource: EventSource {
    let reader: TraceReader

    init(reader: TraceReader) { self.reader = reader }

    var eventsRead: UInt64 { reader.eventsRead }
    var expectedEvents: UInt64? { reader.endChunk?.events }

    func fill(_ batch: UnsafeMutableBufferPointer<gotrace_event>, definitions: DefinitionSink) -> Int {
        var count = 0
        while count < batch.count, let event = reader.next() {
            var converted = gotrace_event()
            converted.kind = event.kind.rawValue
            converted.time_ns = event.nanoseconds
            converted.machine = event.machine
            converted.proc = event.proc ?? noID
            converted.goroutine = event.goroutine ?? noID
            let arguments = event.arguments
            converted.argument_count = UInt8(min(arguments.count, Int(GOTRACE_MAX_EVENT_ARGUMENTS)))
            withUnsafeMutableBytes(of: &converted.arguments) { raw in
                let slots = raw.bindMemory(to: UInt64.self)
                for index in 0..<Int(converted.argument_count) { slots[index] = arguments[index].number ?? 0 }
            }
            if event.kind == .string || event.kind == .stack, arguments.count >= 2, case .number(let id) = arguments[0] {
                switch arguments[1] {
                case .bytes(let bytes): definitions.defineString(id, bytes)
                case .numbers(let pcs): definitions.defineStack(id, pcs)
                case .number: break
                }
            }
            batch[count] = converted
            count += 1
        }
        return count
    }
}
