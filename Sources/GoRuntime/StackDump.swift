// StackDump.swift — every goroutine's stack, in process: `Runtime.goroutineProfile()`, `Runtime.stackDump`,
// the debug server's goroutine endpoint and the SIGQUIT dump (GOTRACEBACK).
//
// Design note
// -----------
// A goroutine's stack can be walked only while it cannot run: a running goroutine moves its frames under
// the walker. So the capture stops the world (Scheduler+WorldStop.swift) as Go's goroutine profile does,
// taking its turn with the tracer's starts and stops (`Tracer.beginChange`), which stop the world too:
//   1. stop the world (bounded, 200 ms; Ms inside blocking calls count as stopped);
//   2. walk: the caller's own goroutine from its frame pointer; parked goroutines through
//      `gort_stack_capture_parked`, which pins the slot against the stack shrinker; runnable ones (preempted,
//      yielded, or stopped by this very world stop) from the frame their switch saved — nothing can resume
//      them before the restart. Goroutines still running (an M that did not stop in time, a blocking call)
//      are listed without frames;
//   3. restart the world, then name the frames (RuntimeSymbols) with everything running again.
// The wait time comes from the stack shrinker's stamp (`gort_stack_parked_since`): the coarse time at which
// it first saw the goroutine's slot parked, which it takes anyway, so the park path reads no clock for it
// (a clock read per park cost pingpong ~1-2% of its instructions). It lags the park by at most the
// shrinker's sleep (10 ms, up to 1.28 s for a slot that adapted), and a goroutine parked for less than that
// may have none; Go's `waitsince` is likewise approximate (stamped when its GC first sees the goroutine
// blocked). Printed as Go prints it: only from one minute on (`[chan receive, 3 minutes]`).
import CGoRuntime
import GoPprof

#if canImport(Glibc)
import Glibc
#endif

/// One goroutine as a dump or a goroutine profile sees it.
public struct GoroutineStackRecord: Sendable {
    /// The goroutine's id (`goroutine 7`).
    public var id: Int
    /// `running`, `runnable`, `syscall`, or the wait reason as Go prints it (`chan receive`).
    public var state: String
    /// Why it is parked; ``WaitReason/none`` when it is not.
    public var waitReason: WaitReason
    /// How long it has been parked, in nanoseconds (0 when not parked).
    public var waitNanoseconds: Int64
    /// Its stack's return addresses, innermost first (empty when it could not be walked: it was running).
    public var stack: [UInt64]
    /// The PC of the `go` statement that created it; 0 for a run's main goroutine.
    public var creatorPC: UInt64
    /// The goroutine that created it; 0 when created outside any goroutine.
    public var parentID: Int
}

extension Runtime {
    /// Every live goroutine with its state and stack, captured with the world stopped (as Go's
    /// `runtime.GoroutineProfile`). The caller's own goroutine is included, as `running`.
    public static func goroutineProfile() -> [GoroutineStackRecord] { StackCapture.all() }

    /// The stacks as Go prints them on a crash or SIGQUIT: `goroutine 7 [chan receive, 3 minutes]:`, each frame
    /// with its module and offset, and `created by`.
    ///
    /// - Parameter all: every goroutine (GOTRACEBACK=all), or only the caller's own.
    public static func stackDump(all: Bool) -> String {
        let records = all ? StackCapture.all() : StackCapture.all().filter { $0.id == currentGoroutineID }
        return StackDumpFormat.goroutines(records)
    }
}

enum StackCapture {
    static let maxDepth = 64

    static func all() -> [GoroutineStackRecord] {
        tracer.beginChange()
        let notStopped = scheduler.stopTheWorld(waitNanoseconds: 200_000_000)
        var records = walk(everythingStopped: notStopped == 0)
        scheduler.restartTheWorld()
        tracer.endChange()
        for index in records.indices { records[index].stack = withoutEntryFrames(records[index].stack) }
        return records
    }

    /// Cuts the frames below the goroutine's body — `runBody`, `goroutineMain`, the context trampoline —
    /// which every goroutine has, as Go hides `goexit`.
    static func withoutEntryFrames(_ stack: [UInt64]) -> [UInt64] {
        guard let entry = stack.firstIndex(where: { RuntimeSymbols.frame($0 &- 1).function.hasPrefix("GoRuntime.runBody(") })
        else { return stack }
        return Array(stack[..<entry])
    }

    /// Step 2. Precondition: the world is stopped.
    private static func walk(everythingStopped: Bool) -> [GoroutineStackRecord] {
        let current = Scheduler.currentGoroutine()
        gort_lock(scheduler.lock)
        let goroutines = scheduler.allGoroutines
        gort_unlock(scheduler.lock)
        let inBlockingCalls = scheduler.goroutinesInBlockingCalls(locked: false)
        let now = gort_nanotime_coarse()
        var records: [GoroutineStackRecord] = []
        let pcs = UnsafeMutablePointer<UInt64>.allocate(capacity: maxDepth)
        defer { pcs.deallocate() }
        for goroutine in goroutines {
            let id = goroutine.id
            let status = goroutine.status
            let reason = goroutine.waitReason
            var state: String
            var count = 0
            var waited: Int64 = 0
            switch status {
            case .idle, .dead:
                continue
            case .running:
                state = inBlockingCalls.contains(UInt64(id)) ? "syscall" : "running"
                if goroutine === current {
                    count = captureOwn(pcs)
                }
            case .runnable:
                state = "runnable"
                // Safety: with the world stopped nothing resumes a runnable goroutine before the restart, so
                // its saved frame and stack stay put; the walk stays within the slot's bounds.
                if everythingStopped, let stack = goroutine.stack, let saved = goroutine.context.pointee.stackPointer {
                    count = gort_capture_suspended_stack(saved, pcs, maxDepth, UInt(bitPattern: stack.base),
                                                         UInt(bitPattern: stack.top))
                }
            case .waiting:
                state = reason.description
                let slot = goroutine.stackSlot
                if slot != Goroutine.noStackSlot {
                    let since = gort_stack_parked_since(slot)
                    if since > 0 { waited = max(0, now - since) }
                    count = gort_stack_capture_parked(slot, UInt64(id), pcs, maxDepth)
                }
            }
            records.append(GoroutineStackRecord(
                id: Int(id), state: state, waitReason: status == .waiting ? reason : .none, waitNanoseconds: waited,
                stack: Array(UnsafeBufferPointer(start: pcs, count: count)), creatorPC: UInt64(goroutine.creatorPC),
                parentID: Int(goroutine.parentID)))
        }
        return records.sorted { $0.id < $1.id }
    }

    @inline(never)
    private static func captureOwn(_ pcs: UnsafeMutablePointer<UInt64>) -> Int {
        guard let machine = Scheduler.currentMachine(), let stack = machine.current?.stack else { return 0 }
        // Skips this function and walk: the first frame is all()'s caller's.
        return gort_capture_stack(pcs, maxDepth, 3, UInt(bitPattern: stack.base), UInt(bitPattern: stack.top))
    }
}

/// The text forms: Go's crash dump (`debug=2`) and its goroutine profile text (`debug=1`), frames with file:line.
enum StackDumpFormat {
    /// `goroutine 7 [chan receive, 3 minutes]:` then frames and `created by`, blank line between goroutines.
    static func goroutines(_ records: [GoroutineStackRecord]) -> String {
        var text = ""
        for (index, record) in records.enumerated() {
            if index > 0 { text += "\n" }
            text += header(record)
            for pc in record.stack {
                let frame = RuntimeSymbols.frame(pc &- 1)
                text += "\(frame.function)\n\t\(place(frame))\n"
            }
            if record.creatorPC != 0 {
                let creator = RuntimeSymbols.frame(record.creatorPC &- 1)
                let parent = record.parentID > 0 ? " in goroutine \(record.parentID)" : ""
                text += "created by \(creator.function)\(parent)\n\t\(place(creator))\n"
            }
        }
        return text
    }

    static func header(_ record: GoroutineStackRecord) -> String {
        var text = "goroutine \(record.id) [\(record.state)"
        let minutes = record.waitNanoseconds / 60_000_000_000
        if minutes >= 1 { text += minutes == 1 ? ", 1 minute" : ", \(minutes) minutes" }
        return text + "]:\n"
    }

    /// Where Go prints `/src/main.go:12 +0x1d`: the file and line from the module's DWARF and the offset in
    /// the function; the module's path instead when it has no line for the frame.
    static func place(_ frame: RuntimeFrame) -> String {
        source(frame) + " +0x" + String(frame.offset + 1, radix: 16)
    }

    /// `file:line`, else the module's path, else `?`.
    static func source(_ frame: RuntimeFrame) -> String {
        if !frame.file.isEmpty { return "\(frame.file):\(frame.line)" }
        return frame.module.isEmpty ? "?" : frame.module
    }

    /// Go's `debug=1` goroutine profile: stacks grouped, most goroutines first, each with a count and its
    /// PCs, then one `#` line per frame.
    static func grouped(_ records: [GoroutineStackRecord]) -> String {
        var groups: [[UInt64]: Int] = [:]
        var order: [[UInt64]] = []
        for record in records {
            if groups[record.stack] == nil { order.append(record.stack) }
            groups[record.stack, default: 0] += 1
        }
        order.sort { groups[$0]! > groups[$1]! }
        var text = "goroutine profile: total \(records.count)\n"
        for stack in order {
            text += "\(groups[stack]!) @" + stack.map { " 0x" + String($0, radix: 16) }.joined() + "\n"
            for pc in stack {
                let frame = RuntimeSymbols.frame(pc &- 1)
                text += "#\t0x\(String(pc &- 1, radix: 16))\t\(frame.function)+0x\(String(frame.offset, radix: 16))"
                    + "\t\(source(frame))\n"
            }
            text += "\n"
        }
        return text
    }

    /// The gzipped pprof goroutine profile (`debug=0`): one sample per distinct stack, valued by count.
    static func pprof(_ records: [GoroutineStackRecord]) -> [UInt8] {
        var builder = RuntimeProfileBuilder(name: "goroutine", sampleTypes: [ValueType("goroutine", "count")],
                                            periodType: ValueType("goroutine", "count"), period: 1)
        var groups: [[UInt64]: Int64] = [:]
        var order: [[UInt64]] = []
        for record in records {
            if groups[record.stack] == nil { order.append(record.stack) }
            groups[record.stack, default: 0] += 1
        }
        for stack in order { builder.add(stack[...], values: [groups[stack]!]) }
        return builder.encoded()
    }
}
