/// One argument value of an event, in the shape of its wire type.
public enum TraceValue: Hashable, Sendable {
    /// A `uvarint` argument.
    case number(UInt64)
    /// A `uvarintList` argument (e.g. the program counters of a stack definition).
    case numbers([UInt64])
    /// A `bytes` argument (e.g. the text of a string definition).
    case bytes([UInt8])

    /// The value if this is a single number.
    public var number: UInt64? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// One decoded event, as the reader yields it.
public struct TraceEvent: Sendable {
    /// The kind's description: the built-in one when this build knows the code, otherwise the one from the
    /// file's kind table (so the name and argument names of kinds newer than the reader are still known).
    public var spec: EventKindSpec
    public var kind: EventKind { spec.kind }
    /// Raw clock value, in the file's ticks.
    public var ticks: UInt64
    /// Nanoseconds since the trace started (`FileHeader.startTicks`), converted with the file's frequency.
    public var nanoseconds: UInt64
    /// The M whose buffer recorded the event.
    public var machine: UInt64
    /// The P the event concerns: its P argument if it has one, else the P the M held at the time (if known).
    public var proc: UInt64?
    /// The goroutine the event concerns: its first goroutine argument if it has one, else the goroutine
    /// running on the M at the time (if known).
    public var goroutine: UInt64?
    /// The arguments in table order. When the file's table lists more arguments than this build knows, the
    /// extra ones are present too (and `spec` has been extended with their names).
    public var arguments: [TraceValue]

    /// For readers of other formats (GoTraceGo) that produce the same events.
    public init(spec: EventKindSpec, ticks: UInt64, nanoseconds: UInt64, machine: UInt64, proc: UInt64?,
                goroutine: UInt64?, arguments: [TraceValue]) {
        self.spec = spec
        self.ticks = ticks
        self.nanoseconds = nanoseconds
        self.machine = machine
        self.proc = proc
        self.goroutine = goroutine
        self.arguments = arguments
    }

    /// The argument named `name` (as spelled in the kind table), if present.
    public func argument(_ name: String) -> TraceValue? {
        guard let index = spec.arguments.firstIndex(where: { $0.name == name }), index < arguments.count else {
            return nil
        }
        return arguments[index]
    }

    /// The stack id argument, for kinds that have one; 0 means none captured.
    public var stackID: UInt64? {
        guard let index = spec.arguments.firstIndex(where: { $0.role == .stackID }), index < arguments.count else {
            return nil
        }
        return arguments[index].number
    }
}
