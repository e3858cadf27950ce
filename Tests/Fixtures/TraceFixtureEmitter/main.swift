// A stand-in for the gotrace runtime while its hooks are being written: writes a synthetic but realistic
// trace (several Ms, every event kind, string and stack tables, chunks of different Ms interleaved and
// overlapping in time) through the same API the runtime will use, to `GOTRACE_FD` (raw chunks, as under
// `gotrace record`) or `GOTRACE_OUT` (compressed file). Everything is deterministic — the clock is
// synthetic — so its output can serve as a golden trace.
//
// Usage: TraceFixtureEmitter [--rounds N] [--workload mixed|pingpong] [--flush-every N] [--exit N | --fatal | --sigkill]
//   --flush-every N   mixed: seal an M's chunk every N rounds (default 5: small chunks whose time ranges
//                     overlap, in 8 KiB buffers); 0: only when full, in the runtime's 64 KiB buffers
//   --exit N    finish the trace, then exit with status N
//   --fatal     write about half the trace, then call fatalError (no end chunk)
//   --sigkill   write about half the trace, then SIGKILL itself (no end chunk)
//   --benchmark-emit N   time N fast-path `emit` calls (build with -c release) and print ns/event; no trace

import GoTrace

#if canImport(Glibc)
import Glibc
#endif

func printToStandardError(_ message: String) {
    var bytes = Array(message.utf8)
    // Safety: write(2) reads exactly `count` bytes of the array's own storage.
    _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Times the writer's fast path as the runtime uses it: a 3-argument event, sealing (and discarding) the
/// chunk when full. Reports wall-clock ns per event, sealing included.
func benchmarkEmit(count: Int) {
    let buffer = TraceBuffer()
    var sequence: UInt64 = 0
    var sealedBytes = 0
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    var ticks: UInt64 = 0
    for index in 0..<count {
        ticks &+= 40
        let goroutine = UInt64(index & 63)
        if !buffer.emit(.park, at: ticks, goroutine, 0, 2) {
            buffer.withSealedChunk(machine: 1, sequence: sequence) { sealedBytes &+= $0.count }
            sequence += 1
            buffer.emit(.park, at: ticks, goroutine, 0, 2)
        }
    }
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    let elapsed = Double(end.tv_sec - start.tv_sec) * 1e9 + Double(end.tv_nsec - start.tv_nsec)
    print("emit: \(count) events in \(Int(elapsed / 1e6)) ms: \(elapsed / Double(count)) ns/event "
          + "(\(sequence) chunks, \(sealedBytes) bytes sealed)")
}

enum Ending { case exit(Int32), fatal, sigkill }

var rounds = 12
var ending = Ending.exit(0)
var workload = "mixed"
var flushEvery = 5
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--rounds": rounds = arguments.popFirst().flatMap { Int($0) } ?? rounds
    case "--exit": ending = .exit(arguments.popFirst().flatMap { Int32($0) } ?? 0)
    case "--fatal": ending = .fatal
    case "--sigkill": ending = .sigkill
    case "--workload": workload = arguments.popFirst() ?? workload
    case "--flush-every": flushEvery = arguments.popFirst().flatMap { Int($0) } ?? flushEvery
    case "--benchmark-emit":
        benchmarkEmit(count: arguments.popFirst().flatMap { Int($0) } ?? 10_000_000)
        exit(0)
    default:
        printToStandardError("TraceFixtureEmitter: unknown argument \(argument)\n")
        exit(2)
    }
}

let startTicks: UInt64 = 5_000_000
/// A fixed wall time (2023-11-14T22:13:20Z) keeps the output byte-identical from run to run.
let startWallTime: Int64 = 1_700_000_000_000_000_000

func openDestination() -> (descriptor: Int32, compressing: Bool) {
    if let fdText = getenv("GOTRACE_FD").map({ String(cString: $0) }), let descriptor = Int32(fdText) {
        return (descriptor, false)
    }
    if let path = getenv("GOTRACE_OUT").map({ String(cString: $0) }) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            printToStandardError("TraceFixtureEmitter: cannot open \(path)\n")
            exit(2)
        }
        return (descriptor, true)
    }
    printToStandardError("TraceFixtureEmitter: set GOTRACE_FD or GOTRACE_OUT\n")
    exit(2)
}

let destination = openDestination()
let writer: TraceFileWriter
do {
    writer = try TraceFileWriter(fileDescriptor: destination.descriptor, ticksPerSecond: 1_000_000_000,
                                 startTicks: startTicks, startWallTimeNanoseconds: startWallTime,
                                 compressing: destination.compressing)
} catch {
    printToStandardError("TraceFixtureEmitter: \(error)\n")
    exit(2)
}

/// One simulated M: its buffer and its chunk sequence number, as the runtime will keep them.
@MainActor
final class SimulatedMachine {
    let id: UInt64
    /// Small buffers for the golden traces; the runtime's 64 KiB when chunks are sealed only when full.
    let buffer = TraceBuffer(capacity: flushEvery == 0 ? TraceBuffer.defaultCapacity : TraceBuffer.minimumCapacity,
                             baseTicks: startTicks)
    var sequence: UInt64 = 0
    init(id: UInt64) { self.id = id }

    func flush() {
        guard !buffer.isEmpty else { return }
        do {
            try writer.write(rawChunk: buffer.sealChunk(machine: id, sequence: sequence))
        } catch {
            printToStandardError("TraceFixtureEmitter: \(error)\n")
            exit(2)
        }
        sequence += 1
    }

    /// Emits through `body`, sealing and retrying once when the buffer is full — the runtime's pattern.
    func record(_ body: (TraceBuffer) -> Bool) {
        if !body(buffer) {
            flush()
            _ = body(buffer)
        }
    }
}

let machines = (1...3).map { SimulatedMachine(id: UInt64($0)) }
var now = startTicks
/// Advances the synthetic clock; the step varies so deltas take one and two varint bytes.
@MainActor
func tick(_ step: UInt64 = 37) -> UInt64 {
    now += step
    return now
}

// Tables: strings and stacks are defined (on M1) before any event refers to them.
let strings: [(UInt64, String)] = [
    (1, "main"), (2, "worker"), (3, "http"), (4, "request served"), (5, "/usr/lib/libfixture.so"),
    (6, "3f2a9c0d"), (7, "batch"), (8, "say \"hi\"\tthen\nleave"),
]
let stacks: [(UInt64, [UInt64])] = [
    (1, [0x5555_5555_1000, 0x5555_5555_2040, 0x5555_5555_3080]),
    (2, [0x5555_5555_1100, 0x5555_5555_2040]),
    (3, [0x7f00_0000_4000]),
]
let m1 = machines[0]
for (id, text) in strings { m1.record { $0.emitString(id: id, text, at: tick(1)) } }
for (id, pcs) in stacks { m1.record { $0.emitStack(id: id, pcs, at: tick(1)) } }
m1.record { $0.emit(.module, at: tick(), 5, 0x7f00_0000_0000, 6) }
m1.record { $0.emit(.clockSync, at: tick(), UInt64(startWallTime) + (now - startTicks)) }
for (index, machine) in machines.enumerated() {
    machine.record { $0.emit(.procStart, at: tick(), UInt64(index)) }
}
m1.record { $0.emit(.snapshot, at: tick(), 1, UInt64(GoroutineState.running.rawValue), UInt64(ParkReason.other.rawValue), 1, 0) }
m1.record { $0.emit(.goroutineLabel, at: tick(), 1, 1) }

@MainActor
func mixedRound(_ round: Int) {
    let machine = machines[round % machines.count]
    let proc = UInt64(round % machines.count)
    let parent: UInt64 = 1
    let child = UInt64(100 + round)
    machine.record { $0.emit(.spawn, at: tick(), parent, child, 1) }
    machine.record { $0.emit(.start, at: tick(), child) }
    machine.record { $0.emit(.regionBegin, at: tick(), child, 7) }
    machine.record { $0.emit(.log, at: tick(), child, 3, round % 2 == 0 ? 4 : 8) }
    machine.record { $0.emit(.stackGrow, at: tick(), child, 8192, 16384) }
    machine.record { $0.emit(.syscallEnter, at: tick(), child, 3) }
    machine.record { $0.emit(.syscallExit, at: tick(200), child) }
    machine.record { $0.emit(.cpuSample, at: tick(), child, 2) }
    machine.record { $0.emit(.mutexAcquire, at: tick(), child, 0x1000) }
    machine.record { $0.emit(.mutexRelease, at: tick(), child, 0x1000) }
    machine.record { $0.emit(.mutexWait, at: tick(), child, 0x2000) }
    let reason = UInt64(ParkReason.allCases[round % ParkReason.allCases.count].rawValue)
    machine.record { $0.emit(.park, at: tick(), child, reason, 2) }
    // Another M wakes it: events of two Ms interleave in time.
    let waker = machines[(round + 1) % machines.count]
    waker.record { $0.emit(.unpark, at: tick(), child, parent, 2) }
    waker.record { $0.emit(.start, at: tick(), child) }
    let preempt = UInt64(PreemptKind.allCases[round % PreemptKind.allCases.count].rawValue)
    waker.record { $0.emit(.preempt, at: tick(), child, preempt) }
    waker.record { $0.emit(.stackShrink, at: tick(), child, 16384, 8192) }
    waker.record { $0.emit(.regionEnd, at: tick(), child, 7) }
    waker.record { $0.emit(.end, at: tick(), child) }
    machine.record { $0.emit(.steal, at: tick(), proc, (proc + 1) % 3, UInt64(round % 4 + 1)) }
    // Flush one M now and then so the file holds chunks of different Ms whose time ranges overlap.
    if flushEvery > 0 && round % flushEvery == flushEvery - 1 { machines[round % 2].flush() }
}

/// Two goroutines handing a value back and forth over unbuffered channels on one M: the workload the
/// bytes-per-event budget is stated for.
@MainActor
func pingPongRound(_ round: Int) {
    let machine = machines[0]
    let (sender, receiver): (UInt64, UInt64) = round % 2 == 0 ? (10, 11) : (11, 10)
    machine.record { $0.emit(.unpark, at: tick(45), receiver, sender, 2) }
    machine.record { $0.emit(.park, at: tick(30), sender, UInt64(ParkReason.chanReceive.rawValue), 2) }
    machine.record { $0.emit(.start, at: tick(25), receiver) }
}

let body = workload == "pingpong" ? pingPongRound : mixedRound
let stopAt: Int
switch ending {
case .exit: stopAt = rounds
case .fatal, .sigkill: stopAt = rounds / 2
}
for round in 0..<stopAt { body(round) }

switch ending {
case .fatal:
    for machine in machines { machine.flush() }
    fatalError("TraceFixtureEmitter: crashing on purpose (--fatal)")
case .sigkill:
    for machine in machines { machine.flush() }
    kill(getpid(), SIGKILL)
case .exit(let status):
    m1.record { $0.emit(.snapshot, at: tick(), 1, UInt64(GoroutineState.running.rawValue), UInt64(ParkReason.other.rawValue), 1, 0) }
    m1.record { $0.emit(.eventsLost, at: tick(), 0) }
    for (index, machine) in machines.enumerated() {
        machine.record { $0.emit(.procStop, at: tick(), UInt64(index)) }
        machine.flush()
    }
    do {
        try writer.finish(endWallTimeNanoseconds: startWallTime + Int64(now - startTicks))
    } catch {
        printToStandardError("TraceFixtureEmitter: \(error)\n")
        exit(2)
    }
    if destination.compressing { close(destination.descriptor) }
    exit(status)
}
