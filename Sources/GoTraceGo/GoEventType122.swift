// The one table of Go execution-trace event types for the format Go 1.22 introduced (trace versions 1.22,
// 1.23, 1.25 and 1.26 — written by Go 1.22 through Go 1.27).
//
// Design note
// -----------
// Every event type of the generation-based format is described once, in `GoEventType122.table`: its wire
// code, Go's name, the trace version that introduced it, how many varints it carries (the timestamp delta
// included, for timed events), and which of them are stack ids and string ids. The format only grew between
// versions: a version reads the types whose `since` is not above it, and a code beyond that is damage. What
// changed besides new types is structural and is handled by the reader, keyed by version:
//   - 1.23: experimental batches (`ExperimentalBatch`, an experiment byte before the batch header);
//     goroutine coroutine switches (`GoSwitch`, `GoSwitchDestroy`, `GoCreateBlocked`); `GoStatusStack`.
//   - 1.25: the lone frequency batch becomes a sync batch (`Sync`: frequency + clock snapshot).
//   - 1.26: generations end with an in-band `EndOfGeneration` byte instead of by the next generation number.
// Experimental events (codes 128 and up, the alloc/free experiment) only occur in experimental batches,
// which the reader skips whole; they need no entry.

public struct GoEventType122: Sendable {
    public var code: UInt8
    public var name: String
    /// The trace version that introduced the type (Go × 1000 + minor, 1022 = `go 1.22 trace`).
    public var since: Int
    /// Varints after the type byte, the timestamp delta first for timed events.
    public var arguments: Int
    /// Indices (into the arguments, the delta being 0) of stack ids and string ids.
    public var stackArguments: [Int]
    public var stringArguments: [Int]
    /// Whether the event appears in per-M batches with a timestamp delta.
    public var isTimed: Bool

    init(_ code: UInt8, _ name: String, _ arguments: Int, stacks: [Int] = [], strings: [Int] = [],
         since: Int = 1022, timed: Bool = true) {
        self.code = code
        self.name = name
        self.since = since
        self.arguments = arguments
        self.stackArguments = stacks
        self.stringArguments = strings
        self.isTimed = timed
    }

    // Codes, as Go names them (`Ev*` in Go's trace format definition).
    public static let eventBatch: UInt8 = 1
    public static let stacks: UInt8 = 2
    public static let stack: UInt8 = 3
    public static let strings: UInt8 = 4
    public static let string: UInt8 = 5
    public static let cpuSamples: UInt8 = 6
    public static let cpuSample: UInt8 = 7
    public static let frequency: UInt8 = 8
    public static let procsChange: UInt8 = 9
    public static let procStart: UInt8 = 10
    public static let procStop: UInt8 = 11
    public static let procSteal: UInt8 = 12
    public static let procStatus: UInt8 = 13
    public static let goCreate: UInt8 = 14
    public static let goCreateSyscall: UInt8 = 15
    public static let goStart: UInt8 = 16
    public static let goDestroy: UInt8 = 17
    public static let goDestroySyscall: UInt8 = 18
    public static let goStop: UInt8 = 19
    public static let goBlock: UInt8 = 20
    public static let goUnblock: UInt8 = 21
    public static let goSyscallBegin: UInt8 = 22
    public static let goSyscallEnd: UInt8 = 23
    public static let goSyscallEndBlocked: UInt8 = 24
    public static let goStatus: UInt8 = 25
    public static let goLabel: UInt8 = 39
    public static let userRegionBegin: UInt8 = 42
    public static let userRegionEnd: UInt8 = 43
    public static let userLog: UInt8 = 44
    public static let goSwitch: UInt8 = 45
    public static let goSwitchDestroy: UInt8 = 46
    public static let goCreateBlocked: UInt8 = 47
    public static let goStatusStack: UInt8 = 48
    public static let experimentalBatch: UInt8 = 49
    public static let sync: UInt8 = 50
    public static let clockSnapshot: UInt8 = 51
    public static let endOfGeneration: UInt8 = 52
    /// One past the largest code.
    public static let count: UInt8 = 53

    /// The table, indexed by code (nil: no such type).
    public static let table: [GoEventType122?] = {
        let types: [GoEventType122] = [
            // Structural: batch headers and the tables. Their layouts are read by the scan, not from here.
            GoEventType122(eventBatch, "EventBatch", 4, timed: false),  // [generation, M, ticks, length]
            GoEventType122(stacks, "Stacks", 0, timed: false),
            GoEventType122(stack, "Stack", 2, timed: false),  // [id, frames], then 4 varints per frame
            GoEventType122(strings, "Strings", 0, timed: false),
            GoEventType122(string, "String", 1, timed: false),  // [id], then length and bytes
            GoEventType122(cpuSamples, "CPUSamples", 0, timed: false),
            GoEventType122(cpuSample, "CPUSample", 5, stacks: [4], timed: false),  // [ticks, M, P, G, stack]
            GoEventType122(frequency, "Frequency", 1, timed: false),
            // Ps.
            GoEventType122(procsChange, "ProcsChange", 3, stacks: [2]),
            GoEventType122(procStart, "ProcStart", 3),  // [dt, P, P seq]
            GoEventType122(procStop, "ProcStop", 1),
            GoEventType122(procSteal, "ProcSteal", 4),  // [dt, P, P seq, M stolen from]
            GoEventType122(procStatus, "ProcStatus", 3),  // [dt, P, status]
            // Goroutines.
            GoEventType122(goCreate, "GoCreate", 4, stacks: [3, 2]),  // [dt, new G, its start stack, stack]
            GoEventType122(goCreateSyscall, "GoCreateSyscall", 2),
            GoEventType122(goStart, "GoStart", 3),  // [dt, G, G seq]
            GoEventType122(goDestroy, "GoDestroy", 1),
            GoEventType122(goDestroySyscall, "GoDestroySyscall", 1),
            GoEventType122(goStop, "GoStop", 3, stacks: [2], strings: [1]),  // [dt, reason, stack]
            GoEventType122(goBlock, "GoBlock", 3, stacks: [2], strings: [1]),
            GoEventType122(goUnblock, "GoUnblock", 4, stacks: [3]),  // [dt, G, G seq, stack]
            GoEventType122(goSyscallBegin, "GoSyscallBegin", 3, stacks: [2]),  // [dt, P seq, stack]
            GoEventType122(goSyscallEnd, "GoSyscallEnd", 1),
            GoEventType122(goSyscallEndBlocked, "GoSyscallEndBlocked", 1),
            GoEventType122(goStatus, "GoStatus", 4),  // [dt, G, M, status]
            // Stop-the-world and GC ranges, heap metrics.
            GoEventType122(26, "STWBegin", 3, stacks: [2], strings: [1]),
            GoEventType122(27, "STWEnd", 1),
            GoEventType122(28, "GCActive", 2),
            GoEventType122(29, "GCBegin", 3, stacks: [2]),
            GoEventType122(30, "GCEnd", 2),
            GoEventType122(31, "GCSweepActive", 2),
            GoEventType122(32, "GCSweepBegin", 2, stacks: [1]),
            GoEventType122(33, "GCSweepEnd", 3),
            GoEventType122(34, "GCMarkAssistActive", 2),
            GoEventType122(35, "GCMarkAssistBegin", 2, stacks: [1]),
            GoEventType122(36, "GCMarkAssistEnd", 1),
            GoEventType122(37, "HeapAlloc", 2),
            GoEventType122(38, "HeapGoal", 2),
            // Annotations.
            GoEventType122(goLabel, "GoLabel", 2, strings: [1]),
            GoEventType122(40, "UserTaskBegin", 5, stacks: [4], strings: [3]),
            GoEventType122(41, "UserTaskEnd", 3, stacks: [2]),
            GoEventType122(userRegionBegin, "UserRegionBegin", 4, stacks: [3], strings: [2]),  // [dt, task, name, stack]
            GoEventType122(userRegionEnd, "UserRegionEnd", 4, stacks: [3], strings: [2]),
            GoEventType122(userLog, "UserLog", 5, stacks: [4], strings: [2, 3]),  // [dt, task, key, value, stack]
            // Go 1.23: coroutines (iter.Pull), statuses with a stack, experimental batches.
            GoEventType122(goSwitch, "GoSwitch", 3, since: 1023),  // [dt, next G, its seq]
            GoEventType122(goSwitchDestroy, "GoSwitchDestroy", 3, since: 1023),
            GoEventType122(goCreateBlocked, "GoCreateBlocked", 4, stacks: [3, 2], since: 1023),
            GoEventType122(goStatusStack, "GoStatusStack", 5, stacks: [4], since: 1023),  // [dt, G, M, status, stack]
            GoEventType122(experimentalBatch, "ExperimentalBatch", 5, since: 1023, timed: false),
            // Go 1.25: the sync batch (frequency and a clock snapshot).
            GoEventType122(sync, "Sync", 0, since: 1025, timed: false),
            GoEventType122(clockSnapshot, "ClockSnapshot", 4, since: 1025, timed: false),  // [dt, mono, sec, nsec]
            // Go 1.26: the end of a generation, in band.
            GoEventType122(endOfGeneration, "EndOfGeneration", 0, since: 1026, timed: false),
        ]
        var table = [GoEventType122?](repeating: nil, count: 256)
        for type in types { table[Int(type.code)] = type }
        return table
    }()

    /// Go's goroutine statuses (GoStatus events).
    public enum GoroutineStatus: UInt8 { case bad = 0, runnable, running, syscall, waiting }
    /// Go's P statuses (ProcStatus events). `syscallAbandoned`: a P first mentioned by its theft.
    public enum ProcStatus: UInt8 { case bad = 0, running, idle, syscall, syscallAbandoned }

    /// The trace versions of this format Go writes (Go 1.24 writes 1.23, Go 1.27 writes 1.26).
    public static let versions: Set<Int> = [1022, 1023, 1025, 1026]
    /// Go's limits, which the reader enforces too: batches of at most 64 KiB, 128 frames per stack, strings
    /// of at most 1 KiB.
    public static let maxBatchSize: UInt64 = 64 << 10
    public static let maxFrames: UInt64 = 128
    public static let maxStringLength: UInt64 = 1 << 10
}
