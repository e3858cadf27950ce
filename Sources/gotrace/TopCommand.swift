// `gotrace top`: what the goroutines of a running program are doing now, refreshed every interval.
//
// Design note
// -----------
// Protocol:
//   1. Start the program as `record` does (`RecordCommand.startTraced`: a pipe as GOTRACE_FD), and read the
//      pipe with the same framer; nothing is written to disk.
//   2. Each unit goes to `TopModel` as it arrives (TopModel.swift: decoded at once, only what a frame shows
//      is kept), so the view never waits for the program to end and costs the program what recording does.
//   3. Every interval (`--interval`, Go's notation, default 1s; GoDuration) a frame is drawn from the model
//      and the interval's counters start again. One `poll` waits for the pipe, the keyboard and the next frame.
//   4. Batch mode (`--iterations N`, as `top -b -n N`): N plain-text frames to stdout, then the program is sent
//      SIGTERM (SIGKILL 2 s later if it is still there), the pipe drained to its end (so the program never
//      blocks on it) and the program reaped; exit 0.
//      Interactive mode (stdout and stdin a terminal, no `--iterations`): the screen is redrawn, headings in
//      colour; `q` quits (the program gets SIGTERM), `s` switches the blocking sites between "most goroutines"
//      and "longest wait". Without a terminal and without `--iterations`, frames are printed until the program
//      ends. A program that ends by itself ends `top` with its status (128+N for signal N), after a last frame.
//   5. `--url http://HOST:PORT`: no program is started; each frame is a trace of the interval (whole seconds,
//      at least 1) taken by the program's own debug server (`/debug/pprof/trace?seconds=N`,
//      DebugEndpointClient.swift), read by a fresh model: it starts with a snapshot, so states and blocking
//      sites are exact; a wait that began while nothing was recorded counts from the trace's start.
// Frames fit 80 columns: names are cut to their column with "…".
// Rejected: re-reading a growing trace file (the live view would lag by the file's flush, and need a file).

import ArgumentParser
import GoTrace

#if canImport(Glibc)
import Glibc
#endif

struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Run a program and show what its goroutines are doing now, refreshed every interval.",
        usage: "gotrace top [--interval <duration>] [--iterations <n>] [--] <program> [<arguments> ...]\n"
            + "       gotrace top [--interval <duration>] [--iterations <n>] --url http://<host>:<port>",
        discussion: """
            Shows Ps busy, goroutines by state, the top blocking sites, the top CPU functions, goroutines \
            created and ended per second and the scheduling latency percentiles of the last interval. Keys: q \
            quits (the program gets SIGTERM), s switches the blocking sites between most goroutines and longest \
            wait. --iterations N prints N plain-text frames and exits (batch mode).
            """)

    @Option(name: .customLong("interval"), help: ArgumentHelp("Time between frames, as Go writes it (1s, 500ms).",
                                                              valueName: "duration"))
    var interval = "1s"

    @Option(name: .customLong("iterations"), help: "Print this many plain-text frames to stdout, then stop the program and exit.")
    var iterations: Int?

    @Option(name: .customLong("url"), help: ArgumentHelp(
        "Watch a running program through its debug server (GOTRACE_DEBUG_ADDR) instead of starting one.",
        valueName: "http://host:port"))
    var url: String?

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp(
        "The program to run and its arguments, passed to it unchanged: everything after `--`, or from the first "
            + "word that is not an option of `top`.",
        valueName: "program"))
    var command: [String] = []

    func validate() throws {
        let programArguments = try RecordCommand.programArguments(command, of: self)
        if let url {
            guard programArguments.isEmpty else { throw ValidationError("Give either --url or a program to run, not both") }
            do { _ = try DebugEndpointClient(url: url) } catch { throw ValidationError("\(error)") }
        } else {
            guard !programArguments.isEmpty else { throw ValidationError("Missing the program to run") }
        }
        if try intervalNanoseconds() < 10_000_000 { throw ValidationError("--interval must be at least 10ms") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
    }

    private func intervalNanoseconds() throws -> UInt64 { try RecordCommand.duration(interval, option: "--interval") }

    func run() throws {
        let period = Int64(clamping: try intervalNanoseconds())
        if let url { return try watch(url: url, period: period) }
        let arguments = try RecordCommand.programArguments(command, of: self)
        let (child, readEnd) = try RecordCommand.startTraced(arguments, command: "top")
        let interactive = iterations == nil && isatty(1) == 1 && isatty(0) == 1
        var screen = TopScreen(program: arguments[0].split(separator: "/").last.map(String.init) ?? arguments[0],
                               pid: child, interactive: interactive)
        let terminal = interactive ? RawTerminal() : nil
        defer { terminal?.restore() }

        var framer = TraceStreamFramer()
        var model = TopModel()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var frames = 0
        var programEnded = false
        var stopping = false
        // When SIGTERM went to the program; SIGKILL follows after `killGrace` if it has not ended by then.
        var terminatedAt: Int64?
        let killGrace: Int64 = 2_000_000_000
        var nextFrame = monotonicNanoseconds() + period
        while !programEnded {
            let wait = stopping ? 100 : Int32(clamping: max(0, (nextFrame - monotonicNanoseconds()) / 1_000_000))
            var descriptors = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: terminal != nil ? 0 : -1, events: Int16(POLLIN), revents: 0)]
            _ = poll(&descriptors, 2, wait)
            if descriptors[0].revents != 0 {
                // Safety: read(2) writes at most `count` bytes into the buffer it is given.
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count == 0 || (count < 0 && errno != EINTR && errno != EAGAIN) {
                    programEnded = true
                } else if count > 0, !stopping {
                    buffer.withUnsafeBytes { framer.append(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
                    while let unit = framer.nextUnit() {
                        if case .success(let unit) = unit { model.consume(unit) }
                    }
                }
            }
            if descriptors[1].revents != 0 {
                var key: UInt8 = 0
                if read(0, &key, 1) == 1 {
                    if key == UInt8(ascii: "q") { stopping = true }
                    if key == UInt8(ascii: "s") { screen.sortsByWait.toggle() }
                }
            }
            if stopping {
                // SIGTERM once (the runtime flushes and dies by it); SIGKILL for a program that ignores it.
                let now = monotonicNanoseconds()
                if let terminatedAt {
                    if now - terminatedAt >= killGrace { kill(child, SIGKILL) }
                } else {
                    kill(child, SIGTERM)
                    terminatedAt = now
                }
            }
            if !stopping, !programEnded, monotonicNanoseconds() >= nextFrame {
                frames += 1
                screen.draw(model.takeFrame(), number: frames, of: iterations)
                nextFrame += period
                if let iterations, frames >= iterations {
                    stopping = true
                    kill(child, SIGTERM)
                    terminatedAt = monotonicNanoseconds()
                }
            }
        }
        close(readEnd)
        let status = RecordCommand.waitForExit(of: child)
        if !stopping {
            // The program ended by itself: its last moments, then its status.
            frames += 1
            screen.draw(model.takeFrame(), number: frames, of: iterations)
            terminal?.restore()
            if status != 0 { throw ExitCode(status) }
        }
    }
}

extension TopCommand {
    /// Step 5: frames from the debug server's traces.
    private func watch(url: String, period: Int64) throws {
        let client: DebugEndpointClient
        do { client = try DebugEndpointClient(url: url) } catch { throw ValidationError("\(error)") }
        let seconds = Int(max(1, (period + 999_999_999) / 1_000_000_000))
        let interactive = iterations == nil && isatty(1) == 1 && isatty(0) == 1
        var screen = TopScreen(program: url, pid: nil, interactive: interactive)
        let terminal = interactive ? RawTerminal() : nil
        defer { terminal?.restore() }
        var frames = 0
        while iterations.map({ frames < $0 }) ?? true {
            let bytes: [UInt8]
            do {
                bytes = try client.trace(seconds: seconds)
            } catch {
                terminal?.restore()
                printError("gotrace top: \(error)")
                throw ExitCode(1)
            }
            var framer = TraceStreamFramer()
            var model = TopModel()
            bytes.withUnsafeBytes { framer.append($0) }
            while let unit = framer.nextUnit() {
                if case .success(let unit) = unit { model.consume(unit) }
            }
            frames += 1
            screen.draw(model.takeFrame(), number: frames, of: iterations)
            if terminal != nil {
                var keyboard = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
                var key: UInt8 = 0
                while poll(&keyboard, 1, 0) > 0, read(0, &key, 1) == 1 {
                    if key == UInt8(ascii: "q") { return }
                    if key == UInt8(ascii: "s") { screen.sortsByWait.toggle() }
                }
            }
        }
    }
}

/// `value` (not negative) with exactly `decimals` decimals: `top`'s frames and `record`'s summary line.
func format(_ value: Double, _ decimals: Int) -> String {
    guard decimals > 0 else { return "\(Int(value.rounded()))" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(scaled % Int(scale))
    return "\(whole)." + String(repeating: "0", count: decimals - fraction.count) + fraction
}

private func monotonicNanoseconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

/// The terminal in raw mode (no echo, a key at a time) while the interactive view runs.
private final class RawTerminal {
    private var saved = termios()
    private var active = false

    init() {
        guard tcgetattr(0, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        active = tcsetattr(0, TCSANOW, &raw) == 0
        // The alternate screen, cursor hidden: the user's scrollback is left as it was.
        if active { writeOut("\u{1b}[?1049h\u{1b}[?25l") }
    }

    func restore() {
        guard active else { return }
        active = false
        writeOut("\u{1b}[?25h\u{1b}[?1049l")
        tcsetattr(0, TCSANOW, &saved)
    }
}

private func writeOut(_ text: String) {
    var text = text
    // Safety: the buffer is the string's own UTF-8, valid for the duration of the closure that writes it.
    text.withUTF8 { bytes in _ = try? TraceFileWriter.writeAll(UnsafeRawBufferPointer(bytes), to: 1) }
}

/// Draws frames: plain text (batch, or no terminal), or the redrawn screen with coloured headings.
struct TopScreen {
    static let width = 80
    let program: String
    /// The program's pid when `top` started it (nil with `--url`).
    let pid: pid_t?
    let interactive: Bool
    /// `s` in the interactive view: blocking sites by longest wait instead of by goroutines.
    var sortsByWait = false

    func draw(_ frame: TopModel.Frame, number: Int, of total: Int?) {
        var lines: [String] = []
        let counter = total.map { "frame \(number) of \($0)" } ?? "frame \(number)"
        let process = pid.map { " (pid \($0))" } ?? ""
        lines.append(heading(cut("gotrace top: \(program)\(process), \(counter), every \(seconds(frame.intervalNanoseconds))")))
        let busy = frame.processors.reduce(0) { $0 + $1.busy }
        let perP = frame.processors.map { "p\($0.id) \(Int(($0.busy * 100).rounded()))%" }.joined(separator: "  ")
        lines.append(cut("Ps busy      \(format(busy, 2)) of \(frame.processors.count)   \(perP)"))
        let total = frame.goroutinesByState.values.reduce(0, +)
        let states = TopModel.State.allCases.map { "\(frame.goroutinesByState[$0] ?? 0) \($0.name)" }.joined(separator: ", ")
        lines.append(cut("goroutines   \(total): \(states)"))
        lines.append(cut("per second   \(format(frame.createdPerSecond, 0)) created, \(format(frame.endedPerSecond, 0)) ended"))
        if let p = frame.latencyPercentiles {
            lines.append(cut("scheduling   p50 \(duration(p.p50))  p90 \(duration(p.p90))  p99 \(duration(p.p99))  "
                + "(\(frame.wakeUps) wake-ups)"))
        } else {
            lines.append("scheduling   no wake-ups this interval")
        }
        lines.append("")
        lines.append(heading(columns("TOP BLOCKING SITES" + (sortsByWait ? " (by wait)" : ""), "goroutines", "longest")))
        let sites = sortsByWait ? frame.blockingSites.sorted { $0.longestNanoseconds > $1.longestNanoseconds } : frame.blockingSites
        if sites.isEmpty { lines.append("  (no goroutine is waiting)") }
        for site in sites {
            lines.append(columns("  \(site.function) [\(site.reason)]", "\(site.goroutines)", seconds(site.longestNanoseconds)))
        }
        lines.append("")
        lines.append(heading(columns("TOP CPU FUNCTIONS (\(frame.cpuSamples) samples)", "share", "samples")))
        if frame.cpuFunctions.isEmpty { lines.append("  (no CPU samples this interval)") }
        for (function, samples) in frame.cpuFunctions {
            let share = frame.cpuSamples == 0 ? 0 : Double(samples) * 100 / Double(frame.cpuSamples)
            lines.append(columns("  \(function)", "\(format(share, 1))%", "\(samples)"))
        }
        let text = lines.joined(separator: "\n") + "\n"
        if interactive {
            writeOut("\u{1b}[H\u{1b}[2J" + text + "\n" + dim("q quits, s sorts the blocking sites by " + (sortsByWait ? "goroutines" : "wait")))
        } else {
            writeOut(text + "\n")
        }
    }

    /// `name` then two right-aligned columns of 11 characters, within 80 columns.
    private func columns(_ name: String, _ first: String, _ second: String) -> String {
        let nameWidth = Self.width - 24
        return pad(cut(name, nameWidth), nameWidth) + leftPad(first, 12) + leftPad(second, 12)
    }

    private func cut(_ text: String, _ width: Int = TopScreen.width) -> String {
        text.count <= width ? text : String(text.prefix(width - 1)) + "…"
    }

    private func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
    private func leftPad(_ text: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }

    private func heading(_ text: String) -> String { interactive ? "\u{1b}[1m" + text + "\u{1b}[0m" : text }
    private func dim(_ text: String) -> String { interactive ? "\u{1b}[2m" + text + "\u{1b}[0m" : text }

    private func seconds(_ nanoseconds: UInt64) -> String { format(Double(nanoseconds) / 1e9, 1) + " s" }

    private func duration(_ nanoseconds: UInt64) -> String {
        if nanoseconds >= 1_000_000_000 { return format(Double(nanoseconds) / 1e9, 2) + "s" }
        if nanoseconds >= 1_000_000 { return format(Double(nanoseconds) / 1e6, 1) + "ms" }
        if nanoseconds >= 1_000 { return format(Double(nanoseconds) / 1e3, 1) + "µs" }
        return "\(nanoseconds)ns"
    }
}
