// Chrome trace-event JSON (the "JSON Array/Object Format" that chrome://tracing and Perfetto open), written
// event by event into one buffer.
//
// `{"traceEvents": [ … ], "displayTimeUnit": "ns"}`; every event has name, ph, ts (microseconds, three
// decimals = nanosecond resolution), pid, tid. Phases used: `X` complete slices (with `dur`), `i` instants
// (`s: "t"`, thread-scoped), `M` metadata naming processes and threads (tracks). `X` slices need not be
// emitted in time order; each track's slices must not partially overlap (they nest or are disjoint).
import GoTraceShared

public struct ChromeTraceWriter: Sendable {
    private var writer = ByteWriter(capacity: 1 << 20)
    private var first = true

    public init() { writer.append("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n") }

    public var byteCount: Int { writer.bytes.count }

    private mutating func begin(_ phase: StaticString, name: String, pid: UInt64, tid: UInt64) {
        if first { first = false } else { writer.append(",\n") }
        writer.append("{\"ph\":\"")
        writer.append(phase)
        writer.append("\",\"name\":")
        writer.appendJSONString(name)
        writer.append(",\"pid\":")
        writer.append(pid)
        writer.append(",\"tid\":")
        writer.append(tid)
    }

    /// Names a process (a group of tracks) and orders it among the others.
    public mutating func processName(pid: UInt64, _ name: String, sortIndex: Int) {
        metadata("process", pid: pid, tid: 0, name, sortIndex: String(sortIndex))
    }

    /// Names a track.
    public mutating func threadName(pid: UInt64, tid: UInt64, _ name: String) {
        metadata("thread", pid: pid, tid: tid, name, sortIndex: String(tid))
    }

    /// The two metadata events of a process or thread (`what`): its name, and its place among its kind.
    private mutating func metadata(_ what: String, pid: UInt64, tid: UInt64, _ name: String, sortIndex: String) {
        begin("M", name: what + "_name", pid: pid, tid: tid)
        writer.append(",\"args\":{\"name\":")
        writer.appendJSONString(name)
        writer.append("}}")
        begin("M", name: what + "_sort_index", pid: pid, tid: tid)
        writer.append(",\"args\":{\"sort_index\":")
        writer.append(sortIndex)
        writer.append("}}")
    }

    /// A slice from `start` to `end` nanoseconds. `args` values are written as JSON strings or numbers.
    public mutating func complete(_ name: String, category: StaticString, pid: UInt64, tid: UInt64, start: UInt64,
                                  end: UInt64, args: [(String, ArgumentValue)] = []) {
        begin("X", name: name, pid: pid, tid: tid)
        writer.append(",\"cat\":\"")
        writer.append(category)
        writer.append("\",\"ts\":")
        writer.appendMicroseconds(start)
        writer.append(",\"dur\":")
        writer.appendMicroseconds(end >= start ? end - start : 0)
        appendArgs(args)
        writer.append("}")
    }

    public mutating func instant(_ name: String, category: StaticString, pid: UInt64, tid: UInt64, at time: UInt64,
                                 args: [(String, ArgumentValue)] = []) {
        begin("i", name: name, pid: pid, tid: tid)
        writer.append(",\"cat\":\"")
        writer.append(category)
        writer.append("\",\"s\":\"t\",\"ts\":")
        writer.appendMicroseconds(time)
        appendArgs(args)
        writer.append("}")
    }

    public enum ArgumentValue: Sendable {
        case number(UInt64)
        case text(String)
    }

    private mutating func appendArgs(_ args: [(String, ArgumentValue)]) {
        guard !args.isEmpty else { return }
        writer.append(",\"args\":{")
        for (index, (key, value)) in args.enumerated() {
            if index > 0 { writer.append(",") }
            writer.appendJSONString(key)
            writer.append(":")
            switch value {
            case .number(let number): writer.append(number)
            case .text(let text): writer.appendJSONString(text)
            }
        }
        writer.append("}")
    }

    /// The bytes written so far, removed from the buffer: a writer that streams to a file drains it now and
    /// then and appends the drained bytes; the concatenation of every drain and `finish` is the document.
    public mutating func drain() -> [UInt8] { writer.take() }

    /// The finished document (or its remainder after drains).
    public mutating func finish() -> [UInt8] {
        writer.append("\n]}\n")
        return writer.take()
    }
}
