// The one table of event kinds.
//
// Design note
// -----------
// Every kind of trace event is described exactly once, in `EventKindSpec.builtIn` below: its wire code,
// its name (the spelling used by `gotrace dump`, by `gotrace stat` and as JSON keys), and its arguments
// in order, each with a name, a wire type and a role. Everything else is derived from this table:
//   1. the writer (`TraceBuffer`) checks in debug builds that each `emit` passes as many arguments as the
//      table says (the arity-specific `emit` overloads are what make the fast path fast);
//   2. the writer copies the table into a kind-table chunk at the front of every file, so a reader that is
//      older than the writer still knows how many arguments — and of which wire type — an unknown kind
//      carries, and can skip it or print it generically;
//   3. the reader decodes arguments by wire type and attaches names, and resolves string and stack ids by
//      role;
//   4. the text dump prints `name=value` pairs using the roles (goroutine ids as `g12`, park reasons by
//      name, strings resolved through the string table).
//
// Compatibility rules (also in docs/trace-format.md): a code, once published, keeps its meaning; new kinds
// take new codes; a kind may gain arguments only at the end of its list. Readers decode the arguments they
// know and skip the rest using the file's kind table.
//
// Rejected: a length prefix on every event (one more byte per event, ~25% of the budget on ping-pong
// workloads) — the per-file kind table gives the same skippability for free.

/// The code of an event kind as it appears on the wire: the first byte of every event.
///
/// A struct rather than an enum so that codes unknown to this build (written by a newer writer) are still
/// representable.
public struct EventKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The largest code a kind may have. The kind byte's high bit is reserved in format versions 1 and 2 (it
    /// must be 0) so that a later version can use it as a flag. (Version 2 shrank goroutine arguments with
    /// deltas instead of the flag once planned here; GoroutineDelta.swift says why.)
    public static let maxCode: UInt8 = 0x7f

    // Metadata kinds. Codes below 16 are reserved for metadata.
    public static let string = EventKind(rawValue: 1)
    public static let stack = EventKind(rawValue: 2)
    public static let module = EventKind(rawValue: 3)
    public static let goroutineLabel = EventKind(rawValue: 4)
    public static let clockSync = EventKind(rawValue: 5)
    public static let eventsLost = EventKind(rawValue: 6)

    // Scheduling and goroutine life-cycle kinds.
    public static let spawn = EventKind(rawValue: 16)
    public static let start = EventKind(rawValue: 17)
    public static let park = EventKind(rawValue: 18)
    public static let unpark = EventKind(rawValue: 19)
    public static let end = EventKind(rawValue: 20)
    public static let steal = EventKind(rawValue: 21)
    public static let preempt = EventKind(rawValue: 22)
    public static let stackGrow = EventKind(rawValue: 23)
    public static let stackShrink = EventKind(rawValue: 24)
    public static let procStart = EventKind(rawValue: 25)
    public static let procStop = EventKind(rawValue: 26)
    public static let syscallEnter = EventKind(rawValue: 27)
    public static let syscallExit = EventKind(rawValue: 28)
    public static let snapshot = EventKind(rawValue: 29)
    public static let regionBegin = EventKind(rawValue: 30)
    public static let regionEnd = EventKind(rawValue: 31)
    public static let log = EventKind(rawValue: 32)
    public static let cpuSample = EventKind(rawValue: 33)
    // Lock ownership: what a deadlock analysis needs to build its wait-for graph.
    public static let mutexAcquire = EventKind(rawValue: 34)
    public static let mutexRelease = EventKind(rawValue: 35)
    public static let mutexWait = EventKind(rawValue: 36)

    /// The built-in description of this kind, or nil if this build does not know the code.
    public var spec: EventKindSpec? { EventKindSpec.builtInByCode[Int(rawValue)] }

    public var description: String { spec?.name ?? "kind-\(rawValue)" }
}

/// How an argument is laid out on the wire. A reader needs only this to skip an argument.
public enum WireType: UInt8, Sendable {
    /// One unsigned LEB128 varint.
    case uvarint = 0
    /// A varint count `n` (at most `TraceLimits.maxListCount`) followed by `n` varints.
    case uvarintList = 1
    /// A varint length `n` (at most `TraceLimits.maxByteStringLength`) followed by `n` raw bytes.
    case bytes = 2
}

/// What an argument means; drives resolution in the reader and formatting in the dump.
public enum ArgumentRole: UInt8, Sendable {
    case number = 0
    case goroutine = 1
    case proc = 2
    case machine = 3
    /// An id defined by a `stack` event; 0 means "no stack captured".
    case stackID = 4
    /// An id defined by a `string` event; 0 means the empty string.
    case stringID = 5
    case parkReason = 6
    case preemptKind = 7
    case goroutineState = 8
    case address = 9
    case byteCount = 10
    case text = 11
    case programCounters = 12
    case wallTimeNanoseconds = 13
}

public struct ArgumentSpec: Sendable, Equatable {
    public var name: String
    public var wireType: WireType
    public var role: ArgumentRole

    public init(_ name: String, _ role: ArgumentRole, wire: WireType = .uvarint) {
        self.name = name
        self.role = role
        self.wireType = wire
    }
}

/// How an event changes the "current" goroutine and P of the M that emitted it. The reader uses this to
/// attach a P and a goroutine to events that do not name them explicitly.
public enum ContextEffect: UInt8, Sendable {
    case none = 0
    /// The event's goroutine now runs on this M.
    case startsGoroutine = 1
    /// The event's goroutine no longer runs on this M.
    case stopsGoroutine = 2
    /// The M now holds the event's P.
    case acquiresProc = 3
    /// The M released its P.
    case releasesProc = 4
}

public struct EventKindSpec: Sendable, Equatable {
    public var kind: EventKind
    public var name: String
    public var arguments: [ArgumentSpec]
    public var contextEffect: ContextEffect

    public init(_ kind: EventKind, _ name: String, _ arguments: [ArgumentSpec], effect: ContextEffect = .none) {
        self.kind = kind
        self.name = name
        self.arguments = arguments
        self.contextEffect = effect
    }

    /// Whether one of the arguments is a stack id.
    public var hasStack: Bool { arguments.contains { $0.role == .stackID } }

    /// Whether every argument is a single varint — the kinds the fixed-arity `emit` overloads can write.
    public var isFixedArity: Bool { arguments.allSatisfy { $0.wireType == .uvarint } }

    /// The table. Order is irrelevant; codes must be unique (checked by a test).
    public static let builtIn: [EventKindSpec] = [
        // Metadata.
        EventKindSpec(.string, "string", [.init("id", .number), .init("text", .text, wire: .bytes)]),
        EventKindSpec(.stack, "stack", [.init("id", .number), .init("pcs", .programCounters, wire: .uvarintList)]),
        EventKindSpec(.module, "module", [
            .init("path", .stringID), .init("load-bias", .address), .init("build-id", .stringID),
        ]),
        EventKindSpec(.goroutineLabel, "goroutine-label", [.init("goroutine", .goroutine), .init("label", .stringID)]),
        EventKindSpec(.clockSync, "clock-sync", [.init("wall-ns", .wallTimeNanoseconds)]),
        EventKindSpec(.eventsLost, "events-lost", [.init("count", .number)]),
        // Goroutines and scheduling.
        EventKindSpec(.spawn, "spawn", [.init("parent", .goroutine), .init("child", .goroutine), .init("stack", .stackID)]),
        EventKindSpec(.start, "start", [.init("goroutine", .goroutine)], effect: .startsGoroutine),
        EventKindSpec(.park, "park", [
            .init("goroutine", .goroutine), .init("reason", .parkReason), .init("stack", .stackID),
        ], effect: .stopsGoroutine),
        EventKindSpec(.unpark, "unpark", [
            .init("goroutine", .goroutine), .init("waker", .goroutine), .init("stack", .stackID),
        ]),
        EventKindSpec(.end, "end", [.init("goroutine", .goroutine)], effect: .stopsGoroutine),
        EventKindSpec(.steal, "steal", [.init("thief", .proc), .init("victim", .proc), .init("count", .number)]),
        EventKindSpec(.preempt, "preempt", [.init("goroutine", .goroutine), .init("kind", .preemptKind)]),
        EventKindSpec(.stackGrow, "stack-grow", [
            .init("goroutine", .goroutine), .init("old", .byteCount), .init("new", .byteCount),
        ]),
        EventKindSpec(.stackShrink, "stack-shrink", [
            .init("goroutine", .goroutine), .init("old", .byteCount), .init("new", .byteCount),
        ]),
        EventKindSpec(.procStart, "proc-start", [.init("proc", .proc)], effect: .acquiresProc),
        EventKindSpec(.procStop, "proc-stop", [.init("proc", .proc)], effect: .releasesProc),
        EventKindSpec(.syscallEnter, "syscall-enter", [.init("goroutine", .goroutine), .init("stack", .stackID)]),
        EventKindSpec(.syscallExit, "syscall-exit", [.init("goroutine", .goroutine)]),
        EventKindSpec(.snapshot, "snapshot", [
            .init("goroutine", .goroutine), .init("state", .goroutineState), .init("reason", .parkReason),
            .init("stack", .stackID), .init("waited", .number),
        ]),
        EventKindSpec(.regionBegin, "region-begin", [.init("goroutine", .goroutine), .init("name", .stringID)]),
        EventKindSpec(.regionEnd, "region-end", [.init("goroutine", .goroutine), .init("name", .stringID)]),
        EventKindSpec(.log, "log", [
            .init("goroutine", .goroutine), .init("category", .stringID), .init("message", .stringID),
        ]),
        EventKindSpec(.cpuSample, "cpu-sample", [.init("goroutine", .goroutine), .init("stack", .stackID)]),
        EventKindSpec(.mutexAcquire, "mutex-acquire", [.init("goroutine", .goroutine), .init("object", .address)]),
        EventKindSpec(.mutexRelease, "mutex-release", [.init("goroutine", .goroutine), .init("object", .address)]),
        EventKindSpec(.mutexWait, "mutex-wait", [.init("goroutine", .goroutine), .init("object", .address)]),
    ]

    /// The spec a reader uses for a code after reading a file's kind table (`fileSpec`), given the spec it
    /// already has for that code (`current`, nil when the code is unknown to it). An unknown code takes the
    /// file's spec; a known one gains the arguments the file appends, or — a file written before this build
    /// appended some (`snapshot`'s `waited`) — loses those the file does not have, so its events are read with
    /// the arguments they carry; a file spec that contradicts the known wire types, or is the same length,
    /// changes nothing (nil).
    public static func merging(_ fileSpec: EventKindSpec, into current: EventKindSpec?) -> EventKindSpec? {
        guard let current else { return fileSpec }
        let known = current.arguments.count
        if fileSpec.arguments.count < known,
           zip(current.arguments, fileSpec.arguments).allSatisfy({ $0.wireType == $1.wireType }) {
            var older = current
            older.arguments = Array(current.arguments.prefix(fileSpec.arguments.count))
            return older
        }
        guard fileSpec.arguments.count > known,
              zip(current.arguments, fileSpec.arguments).allSatisfy({ $0.wireType == $1.wireType })
        else { return nil }
        var extended = current
        extended.arguments += fileSpec.arguments[known...]
        return extended
    }

    /// `builtIn` indexed by wire code, for O(1) lookup by the reader.
    public static let builtInByCode: [EventKindSpec?] = {
        var table = [EventKindSpec?](repeating: nil, count: 256)
        for spec in builtIn { table[Int(spec.kind.rawValue)] = spec }
        return table
    }()

    /// Looks a built-in kind up by its name (`"stack-grow"`).
    public static func named(_ name: String) -> EventKindSpec? { builtIn.first { $0.name == name } }
}

/// Why a goroutine parked. Values are wire codes: append only.
public enum ParkReason: UInt8, CaseIterable, Sendable {
    case chanReceive = 0, chanSend, select, mutex, rwmutex, waitgroup, cond, sleep, io, syscall, yield, preempted
    case other

    /// The spelling used in dumps and JSON.
    public var name: String {
        switch self {
        case .chanReceive: "chan-receive"
        case .chanSend: "chan-send"
        case .select: "select"
        case .mutex: "mutex"
        case .rwmutex: "rwmutex"
        case .waitgroup: "waitgroup"
        case .cond: "cond"
        case .sleep: "sleep"
        case .io: "io"
        case .syscall: "syscall"
        case .yield: "yield"
        case .preempted: "preempted"
        case .other: "other"
        }
    }
}

/// What a `preempt` event records: a request or the goroutine honouring it, cooperative (at a safe point the
/// goroutine reached itself) or asynchronous (a signal interrupted it). Values are wire codes.
public enum PreemptKind: UInt8, CaseIterable, Sendable {
    case requestedCooperative = 0, requestedAsynchronous, honouredCooperative, honouredAsynchronous

    public var name: String {
        switch self {
        case .requestedCooperative: "requested-cooperative"
        case .requestedAsynchronous: "requested-asynchronous"
        case .honouredCooperative: "honoured-cooperative"
        case .honouredAsynchronous: "honoured-asynchronous"
        }
    }
}

/// A goroutine's state in a `snapshot` event. Values are wire codes.
public enum GoroutineState: UInt8, CaseIterable, Sendable {
    case runnable = 0, running, waiting, syscall

    public var name: String {
        switch self {
        case .runnable: "runnable"
        case .running: "running"
        case .waiting: "waiting"
        case .syscall: "syscall"
        }
    }
}
