// `gotrace record`: run a program with tracing on and save its trace.
//
// Design note
// -----------
// Protocol:
//   1. Open the output file first (O_TRUNC), so an unwritable path fails before the program runs.
//   2. Create a pipe; start the program (CRecorderSpawn: fork, PR_SET_PDEATHSIG, exec) with
//      `GOTRACE_FD=<write end>` (and `GOTRACE_CPU_RATE` if asked; any inherited GOTRACE_OUT/GOTRACE_FD/
//      GOTRACE_CPU_RATE removed), then close our copy of the write end so that end-of-file on the read end
//      means every writer is gone.
//   3. Read the pipe; `TraceStreamFramer` cuts it into the file header and whole chunks; each raw event
//      chunk is compressed (`ChunkCodec.compress`) and written to the output file at once. What reached the
//      pipe is therefore on disk even if the program is SIGKILLed a moment later. The writer's end chunk is
//      copied through; without it the file stays "incomplete" but readable. With `--record-args` a
//      command-line chunk follows the file header; without it the trace holds no arguments (and never the
//      environment).
//   4. On EOF, reap the program and exit with its status (128+N if killed by signal N), after one summary
//      line on stderr. If the output could not be written (disk full, file size limit), a second line says
//      so and the status is the program's if it failed, else 1.
// Faults (docs/reliability.md has the table and the tests):
//   * The recorder is SIGKILLed: the program gets SIGKILL too (PR_SET_PDEATHSIG), so it never runs on
//     unrecorded; the file keeps every chunk written so far (readable, incomplete).
//   * A write fails (EFBIG under RLIMIT_FSIZE — SIGXFSZ is ignored so that the write reports it instead of
//     killing us —, ENOSPC, EIO): the recorder stops writing but keeps draining the pipe, so the program is
//     never blocked on a full pipe and runs to its end undisturbed.
// Signals: SIGINT and SIGTERM sent to the recorder by another process (kill, a supervisor) are forwarded to
// the program. A terminal's Ctrl-C is not forwarded: the terminal already sends it to the whole foreground
// process group, program included, and a second copy could cut the program's own clean shutdown short.
// Both signals stay blocked from before their handlers are installed until the child's pid is published, so
// one that arrives while the program starts is delivered (and forwarded) then, not lost.
// The recorder itself keeps running until the pipe closes, so it saves what the program writes while it
// shuts down.
// Command line: `record`'s own options come first; the program starts at `--` or at the first word that is
// not an option (`gotrace record -o T prog -v` runs `prog -v`), and everything from there on reaches the
// program unchanged, options included. A dash-prefixed word before the program is therefore one of ours
// or a mistake: `-h`/`--help` print the help, anything else is an unknown option (usage error, exit 64),
// never a program to run.
// Flight recorder (`--flight-recorder DURATION`): the program gets GOTRACE_GENERATION_INTERVAL (a quarter of
// DURATION, GoTraceFormat's `FlightWindow.generationInterval`) and cuts its stream into generations that each
// stand alone (GoTraceFormat/GenerationChunk.swift). Step 3 then hands the chunks, compressed, to a
// `FlightWindow` in memory instead of the file: it keeps the last DURATION (at most 1.5 times it), and FILE is
// written once, when the pipe closes — the program exited, crashed or was killed; the recorder is a separate
// process, so it still holds the window. SIGUSR1 to the recorder writes FILE.1, FILE.2, … meanwhile (the path
// on stderr), ending at the latest generation cut, without disturbing the program: its handler only writes a
// byte to a self-pipe that the read loop polls beside the trace pipe. Killing the recorder loses the window.
// Output: default `<program basename>.gtrace` in the current directory. Written in place (no temporary
// file, so no temporary can be left behind, and what was written survives any crash of the recorder);
// removed again only if the program wrote no trace data at all.

import ArgumentParser
import CRecorderSpawn
import GoTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The child to forward signals to; 0 when there is none. Written by the main thread before the signal
/// handlers are installed and after the child is reaped, read only by the handlers.
nonisolated(unsafe) private var signalForwardingTarget: pid_t = 0

/// The write end of the flight recorder's self-pipe (-1: none).
// Safety: written once by the main thread before the SIGUSR1 handler is installed (sigaction orders the
// write before any delivery), then only read, by the handler.
nonisolated(unsafe) private var snapshotRequestDescriptor: Int32 = -1

/// SIGUSR1 in flight-recorder mode: only wakes the read loop (write(2) is async-signal-safe; a full pipe
/// already holds a pending request).
private func requestFlightSnapshot(_: Int32) {
    var byte: UInt8 = 1
    let savedErrno = errno
    _ = write(snapshotRequestDescriptor, &byte, 1)
    errno = savedErrno
}

private func forwardSignal(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    // SI_USER (kill), SI_QUEUE and SI_TKILL are <= 0; terminal-generated signals are SI_KERNEL (> 0).
    let sentByProcess = (info?.pointee.si_code ?? 0) <= 0
    let target = signalForwardingTarget
    if sentByProcess && target > 0 { kill(target, signal) }
}

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a program with tracing on and write its trace to a file.",
        // The generated line would show the passthrough array as one value; this one shows where `--` goes.
        usage: "gotrace record [<options>] [--] <program> [<arguments> ...]",
        discussion: """
            The program receives GOTRACE_FD=<n>, a pipe on which its runtime writes raw trace chunks; each \
            chunk is compressed and written to the output as it arrives, so a crash loses nothing already \
            received. Exits with the program's status (128+N if it was killed by signal N).
            """)

    @Option(name: .shortAndLong, help: "Output file (default: <program>.gtrace in the current directory).")
    var output: String?

    @Option(name: .customLong("cpu-rate"), help: "CPU sampling rate in Hz (default: the runtime's 99; 0: off), passed as GOTRACE_CPU_RATE.")
    var cpuRate: Int?

    @Option(name: .customLong("flight-recorder"), help: ArgumentHelp(
        "Keep only the last DURATION of the trace in memory (Go's notation: 2s, 500ms, 1m30s) and write it when "
            + "the program ends, crashes or is killed; SIGUSR1 to the recorder writes <output>.N meanwhile.",
        valueName: "duration"))
    var flightRecorder: String?

    @Flag(name: .customLong("record-args"), help: """
        Record the program's arguments in the trace (by default a trace holds no arguments; never the environment).
        """)
    var recordArguments = false

    // Passthrough: the program's own options must reach it untouched, and `--` stays optional.
    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp(
        "The program to run and its arguments, passed to it unchanged (options included): everything after "
            + "`--`, or from the first word that is not an option of `record`.",
        valueName: "program"))
    var command: [String] = []

    func validate() throws {
        let programArguments = try Self.programArguments(command, of: self)
        guard !programArguments.isEmpty else { throw ValidationError("Missing the program to run") }
        if let cpuRate, cpuRate < 0 { throw ValidationError("--cpu-rate must be a number of Hz (0 turns sampling off)") }
        if try flightWindowNanoseconds() == 0 {
            throw ValidationError("--flight-recorder needs a duration above zero, e.g. 2s")
        }
    }

    /// `--flight-recorder` in nanoseconds (nil without it).
    private func flightWindowNanoseconds() throws -> UInt64? {
        try flightRecorder.map { try Self.duration($0, option: "--flight-recorder") }
    }

    /// The program and its arguments (`record`'s and `top`'s passthrough capture), without the `--` separator.
    /// Passthrough capture starts at the first word the parser does not know, so a help request or a
    /// misspelt option before the program lands here instead of being reported by the parser.
    static func programArguments(_ command: [String], of parsed: any ParsableCommand) throws -> [String] {
        if let first = command.first, first != "--", first.hasPrefix("-") {
            if ["-h", "--help", "-help"].contains(first) { throw CleanExit.helpRequest(parsed) }
            throw ValidationError("Unknown option '\(first)' (the program and its arguments follow '--')")
        }
        return command.first == "--" ? Array(command.dropFirst()) : command
    }

    /// A duration option (`record`'s and `top`'s) in nanoseconds, its parse error a usage error.
    static func duration(_ text: String, option: String) throws -> UInt64 {
        do {
            return try GoDuration.nanoseconds(text)
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }

    func run() throws {
        let arguments = try Self.programArguments(command, of: self)
        let outputPath = output ?? RecordCommand.defaultOutputPath(program: arguments[0])
        let outputDescriptor = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard outputDescriptor >= 0 else {
            printError("gotrace record: cannot write \(outputPath): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        defer { close(outputDescriptor) }

        // A write beyond RLIMIT_FSIZE must fail with EFBIG (reported, the program kept running) rather than
        // kill the recorder; the child gets the default action back (CRecorderSpawn).
        signal(SIGXFSZ, SIG_IGN)
        // SIGINT and SIGTERM stay blocked until the child's pid is known, so that one arriving before it stays
        // pending instead of being forwarded to nobody.
        Self.mask(SIG_BLOCK, [SIGINT, SIGTERM])
        installSignalForwarding()
        let windowNanoseconds = try flightWindowNanoseconds()
        let snapshotRequests = windowNanoseconds != nil ? installSnapshotRequestHandler() : nil
        let (child, readEnd) = try Self.startTraced(arguments, command: "record", cpuRate: cpuRate,
                                                    generationInterval: windowNanoseconds.map(FlightWindow.generationInterval(windowNanoseconds:)),
                                                    onFailure: { unlink(outputPath) })
        signalForwardingTarget = child
        // Signals that arrived since they were blocked above are delivered now, with a target to forward to.
        // Unblocking also matters when a launcher started us with them blocked (posix_spawn from a thread
        // that blocks them, as dispatch worker threads do): they would otherwise never be forwarded.
        Self.mask(SIG_UNBLOCK, [SIGINT, SIGTERM])

        var session = RecordingSession(outputDescriptor: outputDescriptor, outputPath: outputPath,
                                       commandLine: recordArguments ? arguments : nil,
                                       flightWindow: windowNanoseconds.map(FlightWindow.init(windowNanoseconds:)))
        session.consume(pipe: readEnd, snapshotRequests: snapshotRequests)
        close(readEnd)
        session.writeFlightWindowAtEnd()

        let status = Self.waitForExit(of: child)
        signalForwardingTarget = 0
        if !session.receivedAnything { unlink(outputPath) }
        printError(session.summaryLine(programStatus: status))
        if let failure = session.outputFailure {
            printError("gotrace record: error: \(failure); the trace keeps the \(session.bytesWritten) bytes of whole "
                + "chunks written before (readable, incomplete)")
            throw ExitCode(status != 0 ? status : 1)
        }
        if status != 0 { throw ExitCode(status) }
    }

    /// `<basename of program>.gtrace`, in the current directory.
    static func defaultOutputPath(program: String) -> String {
        let base = program.split(separator: "/").last.map(String.init) ?? "gotrace"
        return (base.isEmpty ? "gotrace" : base) + ".gtrace"
    }

    /// Blocks or unblocks (`how`: SIG_BLOCK, SIG_UNBLOCK) `signals` for this thread.
    private static func mask(_ how: Int32, _ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(how, &set, nil)
    }

    private func installSignalForwarding() {
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = forwardSignal
            action.sa_flags = SA_SIGINFO | SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
    }

    /// Installs the SIGUSR1 handler of the flight recorder; returns the read end of its self-pipe.
    private func installSnapshotRequestHandler() -> Int32 {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return -1 }
        for end in ends {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        snapshotRequestDescriptor = ends[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = requestFlightSnapshot
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        sigaction(SIGUSR1, &action, nil)
        // A launcher may have started us with SIGUSR1 blocked (as with SIGINT and SIGTERM above).
        Self.mask(SIG_UNBLOCK, [SIGUSR1])
        return ends[0]
    }

    /// Starts `arguments` as `gotrace <command>` does (`record`, `top`): makes the trace pipe, spawns the
    /// program with its write end, and returns the child and the read end. On failure says why on stderr, calls
    /// `onFailure` and exits: 1 if there is no pipe, 127 if the program could not be started.
    static func startTraced(_ arguments: [String], command: String, cpuRate: Int? = nil,
                            generationInterval: UInt64? = nil,
                            onFailure: () -> Void = {}) throws -> (child: pid_t, readEnd: Int32) {
        var pipeEnds: [Int32] = [0, 0]
        // pipe2 is not imported (needs _GNU_SOURCE); the command is single-threaded here, so setting
        // close-on-exec right after pipe() leaves no window for another spawn to inherit the ends.
        guard pipe(&pipeEnds) == 0, fcntl(pipeEnds[0], F_SETFD, FD_CLOEXEC) == 0,
              fcntl(pipeEnds[1], F_SETFD, FD_CLOEXEC) == 0
        else {
            printError("gotrace \(command): pipe: \(String(cString: strerror(errno)))")
            onFailure()
            throw ExitCode(1)
        }
        let spawned = spawnTraced(arguments, traceDescriptor: pipeEnds[1], cpuRate: cpuRate,
                                  generationInterval: generationInterval)
        close(pipeEnds[1])
        switch spawned {
        case .success(let child):
            return (child, pipeEnds[0])
        case .failure(let failure):
            close(pipeEnds[0])
            onFailure()
            printError("gotrace \(command): cannot run \(arguments[0]): \(String(cString: strerror(failure.code)))")
            throw ExitCode(127)
        }
    }

    /// Starts `arguments` (PATH-searched) with the trace pipe as `GOTRACE_FD` (and the CPU rate and generation
    /// interval asked for; the same variables inherited are removed); returns the pid or an errno.
    private static func spawnTraced(_ arguments: [String], traceDescriptor: Int32, cpuRate: Int?,
                                    generationInterval: UInt64?) -> Result<pid_t, SpawnFailure> {
        var environment: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let variable = String(cString: pointer)
            let name = variable.prefix { $0 != "=" }
            if !["GOTRACE_OUT", "GOTRACE_FD", "GOTRACE_CPU_RATE", "GOTRACE_GENERATION_INTERVAL"].contains(String(name)) {
                environment.append(variable)
            }
            entry += 1
        }
        environment.append("GOTRACE_FD=\(traceDescriptor)")
        if let cpuRate { environment.append("GOTRACE_CPU_RATE=\(cpuRate)") }
        if let generationInterval {
            environment.append("GOTRACE_GENERATION_INTERVAL=\(max(1, generationInterval / 1_000_000))")
        }

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = gotrace_record_spawn(argv, envp, traceDescriptor, &pid)
        return result == 0 ? .success(pid) : .failure(SpawnFailure(code: result))
    }

    /// Waits for `pid`; returns its exit status, or 128+N if signal N killed it.
    static func waitForExit(of pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 1 }
        }
        // The W* macros are not imported: low 7 bits = terminating signal (0 = exited normally).
        let terminatingSignal = status & 0x7f
        return terminatingSignal == 0 ? (status >> 8) & 0xff : 128 + terminatingSignal
    }
}

/// An errno from starting the program (fork, prctl or exec).
struct SpawnFailure: Error {
    var code: Int32
}

/// Reads the pipe, writes the output file, keeps the totals for the summary line.
struct RecordingSession {
    let outputDescriptor: Int32
    let outputPath: String
    private var framer = TraceStreamFramer()
    private var ticksPerSecond: UInt64 = 1_000_000_000
    private var startTicks: UInt64 = 0
    private var lastTicks: UInt64 = 0
    private(set) var events: UInt64 = 0
    private(set) var dropped: UInt64 = 0
    private(set) var rawPayloadBytes: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0
    private(set) var complete = false
    private(set) var receivedAnything = false
    /// Why the output stopped being written (nil while every write succeeded).
    private(set) var outputFailure: String?
    /// Written right after the file header when the user asked for `--record-args`.
    private let commandLine: [String]?
    private var problems: [String] = []

    /// Flight-recorder mode: chunks go here instead of the file (see the design note).
    private var flightWindow: FlightWindow?
    private var snapshotsWritten = 0

    init(outputDescriptor: Int32, outputPath: String, commandLine: [String]?, flightWindow: FlightWindow? = nil) {
        self.outputDescriptor = outputDescriptor
        self.outputPath = outputPath
        self.commandLine = commandLine
        self.flightWindow = flightWindow
    }

    /// Reads the trace pipe to its end; with `snapshotRequests` (the flight recorder's self-pipe), writes a
    /// numbered window each time a request arrives meanwhile.
    mutating func consume(pipe: Int32, snapshotRequests: Int32? = nil) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var outputFailed = false
        while true {
            if let snapshotRequests, snapshotRequests >= 0 {
                var descriptors = [pollfd(fd: pipe, events: Int16(POLLIN), revents: 0),
                                   pollfd(fd: snapshotRequests, events: Int16(POLLIN), revents: 0)]
                if poll(&descriptors, 2, -1) < 0 { continue }  // EINTR
                if descriptors[1].revents != 0 {
                    var drained = [UInt8](repeating: 0, count: 64)
                    while read(snapshotRequests, &drained, drained.count) > 0 {}
                    writeNumberedFlightWindow()
                }
                if descriptors[0].revents == 0 { continue }
            }
            // Safety: read(2) writes at most `count` bytes into the buffer it is given.
            let count = buffer.withUnsafeMutableBytes { read(pipe, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                problems.append("pipe read failed: \(String(cString: strerror(errno)))")
                break
            }
            if count == 0 { break }
            receivedAnything = true
            // After a failure keep draining, so the program never blocks on a full pipe.
            if framer.failure != nil || outputFailed { continue }
            buffer.withUnsafeBytes { framer.append(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            while let unit = framer.nextUnit() {
                switch unit {
                case .success(.fileHeader(let bytes, let header)):
                    ticksPerSecond = header.ticksPerSecond
                    startTicks = header.startTicks
                    lastTicks = header.startTicks
                    outputFailed = !store(bytes)
                    if !outputFailed, let commandLine {
                        outputFailed = !store(CommandLineChunk.encoded(commandLine))
                    }
                case .success(.chunk(let bytes, let header)):
                    outputFailed = !accept(chunk: bytes, header: header)
                case .failure(let failure):
                    problems.append("trace stream \(failure)")
                }
                if outputFailed || framer.failure != nil { break }
            }
        }
        if framer.failure == nil && framer.bufferedByteCount > 0 {
            problems.append("stream ended inside a chunk (\(framer.bufferedByteCount) bytes lost)")
        }
    }

    private mutating func accept(chunk bytes: [UInt8], header: ChunkHeader) -> Bool {
        switch header.type {
        case .events:
            // Counted only once on disk, so the summary describes the file even after a failed write.
            guard store(header.isCompressed ? bytes : ChunkCodec.compress(bytes)) else { return false }
            events += UInt64(header.eventCount)
            dropped += UInt64(header.droppedEvents)
            rawPayloadBytes += UInt64(header.rawPayloadSize)
            lastTicks = max(lastTicks, header.endTicks)
            return true
        case .end:
            complete = true
            return store(bytes)
        default:
            return store(bytes)
        }
    }

    /// Writes a unit to the file, or in flight-recorder mode keeps it in the window.
    private mutating func store(_ bytes: [UInt8]) -> Bool {
        guard flightWindow != nil else { return writeOut(bytes) }
        flightWindow!.append(bytes)
        return true
    }

    /// Flight-recorder mode, once the pipe closed: the window, up to the program's last chunk, into the file.
    mutating func writeFlightWindowAtEnd() {
        guard let flightWindow, let file = flightWindow.encoded(.asReceived) else { return }
        if writeOut(file.bytes) { flightLine = describe(file, path: outputPath) }
    }

    /// SIGUSR1 in flight-recorder mode: the window up to the latest generation cut, into `<output>.N`.
    private mutating func writeNumberedFlightWindow() {
        guard let flightWindow, let file = flightWindow.encoded(.atLastCut) else {
            printError("gotrace record: SIGUSR1: no trace data received yet; nothing written")
            return
        }
        snapshotsWritten += 1
        let path = "\(outputPath).\(snapshotsWritten)"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            printError("gotrace record: SIGUSR1: cannot write \(path): \(String(cString: strerror(errno)))")
            return
        }
        defer { close(descriptor) }
        do {
            try TraceFileWriter.writeAll(file.bytes, to: descriptor)
            printError("gotrace record: flight recording written to \(path): \(describe(file, path: path))")
        } catch {
            printError("gotrace record: SIGUSR1: cannot write \(path): \(error)")
        }
    }

    /// Set once the window is written at the end: what the summary line says about it.
    private var flightLine: String?

    private func describe(_ file: FlightWindow.File, path: String) -> String {
        "window of \(TraceTextFormatter.timestamp(file.nanoseconds)) s, \(file.events) events, \(file.bytes.count) bytes, "
            + (file.isComplete ? "complete" : "incomplete")
    }

    private mutating func writeOut(_ bytes: [UInt8]) -> Bool {
        do {
            try TraceFileWriter.writeAll(bytes, to: outputDescriptor)
            bytesWritten += UInt64(bytes.count)
            return true
        } catch {
            outputFailure = "cannot write \(outputPath): \(error)"
            problems.append("cannot write \(outputPath): \(error)")
            return false
        }
    }

    /// One line: events, bytes, bytes per event, dropped events, duration, completeness, output path.
    func summaryLine(programStatus: Int32) -> String {
        guard receivedAnything else {
            return "gotrace record: no trace data received (is the program built with the gotrace runtime?); "
                + "no file written; program exited with status \(programStatus)"
        }
        let perEvent = events == 0 ? 0 : Double(bytesWritten) / Double(events)
        let rawPerEvent = events == 0 ? 0 : Double(rawPayloadBytes) / Double(events)
        let elapsed = lastTicks >= startTicks ? lastTicks - startTicks : 0
        let product = elapsed.multipliedFullWidth(by: 1_000_000_000)
        let nanoseconds = product.high < ticksPerSecond ? ticksPerSecond.dividingFullWidth(product).quotient : 0
        // In flight-recorder mode the file holds only the window: the totals are what was received.
        let stored = flightWindow == nil
            ? "\(bytesWritten) bytes (\(format(perEvent, 2)) bytes/event, raw \(format(rawPerEvent, 2)))"
            : "received (raw \(format(rawPerEvent, 2)) bytes/event)"
        var line = "gotrace record: \(events) events, \(stored), \(dropped) dropped, "
            + "\(TraceTextFormatter.timestamp(nanoseconds)) s, "
            + (complete ? "complete" : "incomplete (no end chunk; program exited with status \(programStatus))")
            + ", output \(outputPath)"
        if flightWindow != nil {
            line += "; flight recorder: " + (flightLine ?? "nothing written")
                + (snapshotsWritten > 0 ? ", \(snapshotsWritten) written on SIGUSR1" : "")
        }
        if !problems.isEmpty { line += "; " + problems.joined(separator: "; ") }
        return line
    }
}
