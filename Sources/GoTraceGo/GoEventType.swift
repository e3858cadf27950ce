// The one table of Go execution-trace event types (Go 1.11–1.21 wire format).
//
// Design note
// -----------
// Every Go event type this reader understands is described once, in `GoEventType.table`: its wire code, Go's
// name, the Go version that introduced it, how many plain arguments it carries after the timestamp, whether
// a stack id follows them, and whether it has a timestamp at all. The raw decoder checks each event's
// argument count against this table (a mismatch means damage); the converter (`GoTraceReader+Mapping`)
// maps types onto gotrace kinds by code. Codes and meanings are those of `runtime/trace.go` in Go 1.11–1.21:
// the format did not change between those versions except for additions, recorded by `minimumVersion`.
// Go 1.22 replaced the format: `GoEventType122` describes it, `GoTraceReader122` reads it.

public struct GoEventType: Sendable {
    public var code: UInt8
    public var name: String
    /// Go version × 1000 + minor that introduced the type (1011 = Go 1.11).
    public var minimumVersion: Int
    /// Plain arguments after the timestamp (not counting the stack id).
    public var arguments: Int
    public var hasStack: Bool
    public var hasTimestamp: Bool

    init(_ code: UInt8, _ name: String, _ arguments: Int, stack: Bool = false, since: Int = 1011,
         timestamp: Bool = true) {
        self.code = code
        self.name = name
        self.minimumVersion = since
        self.arguments = arguments
        self.hasStack = stack
        self.hasTimestamp = timestamp
    }

    /// The number of varints an event of this type carries on the wire (timestamp, arguments, stack).
    public var wireArgumentCount: Int { (hasTimestamp ? 1 : 0) + arguments + (hasStack ? 1 : 0) }

    // Codes, as Go names them (runtime/trace.go, `traceEv*`).
    public static let batch: UInt8 = 1
    public static let frequency: UInt8 = 2
    public static let stack: UInt8 = 3
    public static let gomaxprocs: UInt8 = 4
    public static let procStart: UInt8 = 5
    public static let procStop: UInt8 = 6
    public static let gcStart: UInt8 = 7
    public static let goCreate: UInt8 = 13
    public static let goStart: UInt8 = 14
    public static let goEnd: UInt8 = 15
    public static let goStop: UInt8 = 16
    public static let goSched: UInt8 = 17
    public static let goPreempt: UInt8 = 18
    public static let goSleep: UInt8 = 19
    public static let goBlock: UInt8 = 20
    public static let goUnblock: UInt8 = 21
    public static let goBlockSend: UInt8 = 22
    public static let goBlockRecv: UInt8 = 23
    public static let goBlockSelect: UInt8 = 24
    public static let goBlockSync: UInt8 = 25
    public static let goBlockCond: UInt8 = 26
    public static let goBlockNet: UInt8 = 27
    public static let goSysCall: UInt8 = 28
    public static let goSysExit: UInt8 = 29
    public static let goSysBlock: UInt8 = 30
    public static let goWaiting: UInt8 = 31
    public static let goInSyscall: UInt8 = 32
    public static let timerGoroutine: UInt8 = 35
    public static let string: UInt8 = 37
    public static let goStartLocal: UInt8 = 38
    public static let goUnblockLocal: UInt8 = 39
    public static let goSysExitLocal: UInt8 = 40
    public static let goStartLabel: UInt8 = 41
    public static let goBlockGC: UInt8 = 42
    public static let userTaskCreate: UInt8 = 45
    public static let userTaskEnd: UInt8 = 46
    public static let userRegion: UInt8 = 47
    public static let userLog: UInt8 = 48
    public static let cpuSample: UInt8 = 49
    /// One past the largest code of the 1.11–1.21 format.
    public static let count: UInt8 = 50

    /// The table, indexed by code (nil: no such type). `stack` and `string` have variable layouts and are
    /// decoded specially; their entries only say they exist.
    public static let table: [GoEventType?] = {
        let types: [GoEventType] = [
            GoEventType(batch, "Batch", 2, timestamp: false),  // [p, ticks]: ticks is an argument, not a delta
            GoEventType(frequency, "Frequency", 1, timestamp: false),
            GoEventType(stack, "Stack", 0, timestamp: false),
            GoEventType(gomaxprocs, "Gomaxprocs", 1, stack: true),
            GoEventType(procStart, "ProcStart", 1),
            GoEventType(procStop, "ProcStop", 0),
            GoEventType(gcStart, "GCStart", 1, stack: true),
            GoEventType(8, "GCDone", 0),
            GoEventType(9, "GCSTWStart", 1),
            GoEventType(10, "GCSTWDone", 0),
            GoEventType(11, "GCSweepStart", 0, stack: true),
            GoEventType(12, "GCSweepDone", 2),
            GoEventType(goCreate, "GoCreate", 2, stack: true),
            GoEventType(goStart, "GoStart", 2),
            GoEventType(goEnd, "GoEnd", 0),
            GoEventType(goStop, "GoStop", 0, stack: true),
            GoEventType(goSched, "GoSched", 0, stack: true),
            GoEventType(goPreempt, "GoPreempt", 0, stack: true),
            GoEventType(goSleep, "GoSleep", 0, stack: true),
            GoEventType(goBlock, "GoBlock", 0, stack: true),
            GoEventType(goUnblock, "GoUnblock", 2, stack: true),
            GoEventType(goBlockSend, "GoBlockSend", 0, stack: true),
            GoEventType(goBlockRecv, "GoBlockRecv", 0, stack: true),
            GoEventType(goBlockSelect, "GoBlockSelect", 0, stack: true),
            GoEventType(goBlockSync, "GoBlockSync", 0, stack: true),
            GoEventType(goBlockCond, "GoBlockCond", 0, stack: true),
            GoEventType(goBlockNet, "GoBlockNet", 0, stack: true),
            GoEventType(goSysCall, "GoSysCall", 0, stack: true),
            GoEventType(goSysExit, "GoSysExit", 3),
            GoEventType(goSysBlock, "GoSysBlock", 0),
            GoEventType(goWaiting, "GoWaiting", 1),
            GoEventType(goInSyscall, "GoInSyscall", 1),
            GoEventType(33, "HeapAlloc", 1),
            GoEventType(34, "HeapGoal", 1),
            GoEventType(timerGoroutine, "TimerGoroutine", 1, timestamp: false),
            GoEventType(36, "FutileWakeup", 0),
            GoEventType(string, "String", 0, timestamp: false),
            GoEventType(goStartLocal, "GoStartLocal", 1),
            GoEventType(goUnblockLocal, "GoUnblockLocal", 1, stack: true),
            GoEventType(goSysExitLocal, "GoSysExitLocal", 2),
            GoEventType(goStartLabel, "GoStartLabel", 3),
            GoEventType(goBlockGC, "GoBlockGC", 0, stack: true),
            GoEventType(43, "GCMarkAssistStart", 0, stack: true),
            GoEventType(44, "GCMarkAssistDone", 0),
            GoEventType(userTaskCreate, "UserTaskCreate", 3, stack: true),
            GoEventType(userTaskEnd, "UserTaskEnd", 1, stack: true),
            GoEventType(userRegion, "UserRegion", 3, stack: true),
            GoEventType(userLog, "UserLog", 2, stack: true),  // followed by the value string
            GoEventType(cpuSample, "CPUSample", 3, stack: true, since: 1019),  // [real ts, p, g], stack
        ]
        var table = [GoEventType?](repeating: nil, count: 64)
        for type in types { table[Int(type.code)] = type }
        return table
    }()
}

/// The Go trace header: `go 1.N trace` padded with NULs to 16 bytes.
public enum GoTraceHeader {
    public static let size = 16
    /// The oldest and newest versions of the first format (Go 1.11 … Go 1.21 share it); the versions of the
    /// second are `GoEventType122.versions`.
    public static let oldestVersion = 1011
    public static let newestVersion = 1021
    /// What an unsupported version is told: the formats this build reads.
    public static let supportedRange = "Go 1.11–1.21 and 1.22–1.26 traces (written by Go 1.11 through Go 1.27)"

    public enum Verdict: Equatable, Sendable {
        /// Not a Go trace header at all.
        case notGo
        /// A Go header of a version this reader does not decode (Go × 1000 + minor).
        case unsupported(Int)
        case supported(Int)
    }

    /// Reads a 16-byte header. Never traps: anything malformed is `.notGo`.
    public static func classify(_ bytes: [UInt8]) -> Verdict {
        guard bytes.count >= size, bytes[0] == UInt8(ascii: "g"), bytes[1] == UInt8(ascii: "o"),
              bytes[2] == UInt8(ascii: " "), bytes[3] >= UInt8(ascii: "1"), bytes[3] <= UInt8(ascii: "9"),
              bytes[4] == UInt8(ascii: ".")
        else { return .notGo }
        var minor = 0
        var index = 5
        while index < 8, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            minor = minor * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        guard index > 5 else { return .notGo }
        let suffix = Array(" trace".utf8)
        guard index + suffix.count <= size, Array(bytes[index..<index + suffix.count]) == suffix,
              bytes[(index + suffix.count)..<size].allSatisfy({ $0 == 0 })
        else { return .notGo }
        let version = Int(bytes[3] - UInt8(ascii: "0")) * 1000 + minor
        let known = (version >= oldestVersion && version <= newestVersion) || GoEventType122.versions.contains(version)
        return known ? .supported(version) : .unsupported(version)
    }

    /// "1.19" for 1019.
    public static func spell(_ version: Int) -> String { "\(version / 1000).\(version % 1000)" }

    /// Whether `version` is of the generation-based format Go 1.22 introduced.
    public static func isGenerational(_ version: Int) -> Bool { version >= 1022 }
}
