// WireCodes.swift — the trace format's codes that analyzers switch on, for the host's goroutine model and the
// plugins alike, without depending on the format module: a plugin links only the kit and this module.
// `WireCodeTests` checks every one against the format's own tables (`EventKind`, `ParkReason`), so a new or
// renumbered kind cannot drift.

/// Park reasons (the trace format's wire codes) with their JSON spellings. The codes and spellings are the
/// format's own (`ParkReason` in GoTraceFormat/EventKind.swift); `WireCodeTests` checks every one against it.
public enum ParkReasonName {
    static let names = [
        "chan-receive", "chan-send", "select", "mutex", "rwmutex", "waitgroup", "cond", "sleep", "io", "syscall",
        "yield", "preempted", "other",
    ]

    /// The JSON spelling of a park reason, e.g. `chan-receive`, or `reason-N` for a code newer than this kit.
    ///
    /// - Parameter code: A park reason's wire code (`gotrace_transition.reason`).
    /// - Returns: The reason's name.
    public static func name(_ code: UInt8) -> String {
        Int(code) < names.count ? names[Int(code)] : "reason-\(code)"
    }

    /// How many park reasons this kit has names for (codes 0 up to this, exclusive).
    public static var knownCount: Int { names.count }

    // Computed and inlinable, not stored: a plugin's per-event `switch` on them compiles to constants.

    /// Waiting to receive from a channel.
    @inlinable public static var chanReceive: UInt8 { 0 }
    /// Waiting for a mutex.
    @inlinable public static var mutex: UInt8 { 3 }
    /// Waiting for a reader/writer lock.
    @inlinable public static var rwmutex: UInt8 { 4 }
    /// Sleeping.
    @inlinable public static var sleep: UInt8 { 7 }
    /// Gave up its processor by choice (`Runtime.yield`): runnable, not waiting.
    @inlinable public static var yield: UInt8 { 10 }
    /// Preempted: runnable, not waiting.
    @inlinable public static var preempted: UInt8 { 11 }
}

/// Event kind wire codes of trace format v1 that analyzers commonly switch on: the format's own
/// (`EventKind` in GoTraceFormat/EventKind.swift), which `WireCodeTests` checks every one against. Computed and
/// inlinable, not stored, so that a per-event `switch` on them compiles to constants.
public enum KindCode {
    /// A goroutine was created (`spawn`).
    @inlinable public static var spawn: UInt8 { 16 }
    /// A goroutine started running on a processor (`start`).
    @inlinable public static var start: UInt8 { 17 }
    /// A goroutine parked (`park`).
    @inlinable public static var park: UInt8 { 18 }
    /// A parked goroutine was made runnable (`unpark`).
    @inlinable public static var unpark: UInt8 { 19 }
    /// A goroutine ended (`end`).
    @inlinable public static var end: UInt8 { 20 }
    /// A goroutine was preempted (`preempt`).
    @inlinable public static var preempt: UInt8 { 22 }
    /// A goroutine entered a blocking system call (`syscall-enter`).
    @inlinable public static var syscallEnter: UInt8 { 27 }
    /// A goroutine returned from a blocking system call (`syscall-exit`).
    @inlinable public static var syscallExit: UInt8 { 28 }
    /// A goroutine's state when the recording started or stopped (`snapshot`).
    @inlinable public static var snapshot: UInt8 { 29 }
}

/// The `kind` argument of a `preempt` event (trace format v1): the monitor's request (0 cooperative,
/// 1 asynchronous) and the goroutine honouring it (2 cooperative, 3 asynchronous).
public enum PreemptKindCode {
    /// Whether a `preempt` event's kind says the goroutine gave up its P. One preemption writes a request
    /// and then an honoured event, so a count of preemptions counts only the honoured ones.
    ///
    /// - Parameter kind: The event's `kind` argument (`arguments.1`).
    /// - Returns: `true` for honoured-cooperative and honoured-asynchronous.
    @inlinable
    public static func isHonoured(_ kind: UInt64) -> Bool { kind == 2 || kind == 3 }
}
