import GoTrace

/// What `gotrace` needs from a Go execution-trace reader, whichever format the file has: the Go 1.11–1.21
/// format (`GoTraceReader`) or the generation-based one of Go 1.22+ (`GoTraceReader122`). `GoTraceFile.open`
/// picks the reader from the header. The string and stack tables and the frames are complete before the
/// first event is asked for.
public protocol GoTraceSource: AnyObject {
    var fileName: String { get }
    /// Go version × 1000 + minor of the header (1026 for `go 1.26 trace`); nil if the header was not read.
    var version: Int? { get }
    /// One line per problem: `FILE: offset N: what`.
    var diagnostics: [String] { get }
    /// Set when nothing can be read (not a Go trace, unsupported version, unreadable file).
    var fatal: String? { get }
    /// False when the trace was cut short or damaged.
    var isComplete: Bool { get }
    var fileSize: UInt64 { get }
    /// Strings by id, stacks by id (synthetic frame addresses, innermost first), frames by address.
    var strings: [UInt64: [UInt8]] { get }
    var stacks: [UInt64: [UInt64]] { get }
    var frames: [UInt64: GoFrame] { get }
    /// Gotrace events produced so far.
    var eventsRead: UInt64 { get }
    /// Events whose timestamps stepped back and were raised to the previous one.
    var outOfOrderTimestamps: UInt64 { get }
    /// Wall-clock time of the trace's time 0, nanoseconds since 1970; 0 when the trace does not say (Go
    /// writes a clock snapshot from 1.25).
    var startWallNanoseconds: UInt64 { get }

    /// The next mapped event, or nil at the end.
    func nextMapped() -> GoMappedEvent?
    /// Fills `buffer` from its start with the next mapped events; returns how many (0 at the end).
    func nextMapped(into buffer: UnsafeMutableBufferPointer<GoMappedEvent>) -> Int
    /// The next event as `TraceEvent` (string and stack definitions first), for dump and stat.
    func next() -> TraceEvent?
    func string(_ id: UInt64) -> String?
    func describeFrame(_ address: UInt64) -> String?
}

extension GoTraceSource {
    public func string(_ id: UInt64) -> String? { id == 0 ? "" : strings[id].map { String(decoding: $0, as: UTF8.self) } }

    /// "function (file:line)" for a synthetic frame address, as the dump and analyzers show Go frames.
    public func describeFrame(_ address: UInt64) -> String? { frames[address].map(GoTraceReader.describe) }
}

/// `next()` of both readers, for dump and stat: the string and stack tables first (at time 0, ids sorted),
/// then each mapped event as a `TraceEvent`.
struct GoTraceEventView {
    private var definitions: [TraceEvent]?
    private var index = 0

    mutating func next(from source: some GoTraceSource) -> TraceEvent? {
        if definitions == nil { definitions = GoTraceEventView.definitions(of: source) }
        if let definitions, index < definitions.count {
            index += 1
            return definitions[index - 1]
        }
        guard let mapped = source.nextMapped(), let spec = mapped.kind.spec else { return nil }
        let values = withUnsafeBytes(of: mapped.arguments) { raw in
            (0..<Swift.min(mapped.argumentCount, 4)).map { TraceValue.number(raw.load(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }
        return TraceEvent(spec: spec, ticks: 0, nanoseconds: mapped.nanoseconds, machine: mapped.machine,
                          proc: mapped.proc == UInt64.max ? nil : mapped.proc,
                          goroutine: mapped.goroutine == UInt64.max ? nil : mapped.goroutine, arguments: values)
    }

    private static func definitions(of source: some GoTraceSource) -> [TraceEvent] {
        guard source.fatal == nil, let stringSpec = EventKind.string.spec, let stackSpec = EventKind.stack.spec else { return [] }
        var made: [TraceEvent] = []
        for (id, text) in source.strings.sorted(by: { $0.key < $1.key }) {
            made.append(TraceEvent(spec: stringSpec, ticks: 0, nanoseconds: 0, machine: 0, proc: nil, goroutine: nil,
                                   arguments: [.number(id), .bytes(text)]))
        }
        for (id, frames) in source.stacks.sorted(by: { $0.key < $1.key }) {
            made.append(TraceEvent(spec: stackSpec, ticks: 0, nanoseconds: 0, machine: 0, proc: nil, goroutine: nil,
                                   arguments: [.number(id), .numbers(frames)]))
        }
        return made
    }
}

/// The problems a Go reader found, each one line `FILE: offset N: what`; `fatal` the one that stopped it
/// reading anything.
struct GoTraceProblems {
    let fileName: String
    private(set) var lines: [String] = []
    private(set) var fatal: String?

    mutating func report(_ offset: Int, _ what: String) { lines.append("\(fileName): offset \(offset): \(what)") }

    mutating func fail(_ offset: Int, _ what: String) {
        report(offset, what)
        fatal = lines.last
    }
}

extension GoTraceHeader {
    enum Check {
        case version(Int)
        /// Where (the header's start, or its version digits) and what.
        case problem(offset: Int, String)
    }

    /// Whether a reader of the generation-based format (`generational`) or of the first one reads `head`.
    static func check(_ head: [UInt8], generational: Bool) -> Check {
        switch classify(head) {
        case .notGo:
            return .problem(offset: 0, "not a Go execution trace (bad header)")
        case .unsupported(let version):
            return .problem(offset: 5, "unsupported Go trace version \(spell(version)): this build reads \(supportedRange)")
        case .supported(let version) where isGenerational(version) != generational:
            return .problem(offset: 5, generational
                ? "Go trace version \(spell(version)) predates Go 1.22's format: GoTraceReader reads it"
                : "Go trace version \(spell(version)) has the Go 1.22 format: GoTraceReader122 reads it (GoTraceFile.open chooses)")
        case .supported(let version):
            return .version(version)
        }
    }
}

extension GoTraceReader: GoTraceSource {
    /// Go 1.11–1.21 traces have no clock snapshot.
    public var startWallNanoseconds: UInt64 { 0 }
}
extension GoTraceReader122: GoTraceSource {}

/// Opening a Go execution trace with the reader its header calls for.
public enum GoTraceFile {
    /// Whether the file at `path` starts with a Go trace header (of any version).
    public static func isGoTrace(path: String) -> Bool { GoTraceReader.isGoTrace(path: path) }

    public static func open(path: String, includeSystemGoroutines: Bool = GoTraceReader.systemGoroutinesRequested)
        -> any GoTraceSource
    {
        if isGenerational(FileByteSource.open(path: path).flatMapHead()) {
            return GoTraceReader122(path: path, includeSystemGoroutines: includeSystemGoroutines)
        }
        return GoTraceReader(path: path, includeSystemGoroutines: includeSystemGoroutines)
    }

    public static func open(bytes: [UInt8], fileName: String = "<memory>", includeSystemGoroutines: Bool = false)
        -> any GoTraceSource
    {
        if isGenerational(Array(bytes.prefix(GoTraceHeader.size))) {
            return GoTraceReader122(bytes: bytes, fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
        }
        return GoTraceReader(bytes: bytes, fileName: fileName, includeSystemGoroutines: includeSystemGoroutines)
    }

    private static func isGenerational(_ head: [UInt8]?) -> Bool {
        guard let head, case .supported(let version) = GoTraceHeader.classify(head) else { return false }
        return GoTraceHeader.isGenerational(version)
    }
}

extension Result where Success == FileByteSource {
    fileprivate func flatMapHead() -> [UInt8]? {
        guard case .success(let source) = self else { return nil }
        return source.read(at: 0, count: GoTraceHeader.size)
    }
}
