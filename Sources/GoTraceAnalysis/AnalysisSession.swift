// One `gotrace report` pass: stream the trace once through the goroutine model and every plugin.
//
// Design note
// -----------
// The trace is a `TraceSource` (any format), opened once by the caller with `TraceFile.open`.
// Steps:
//   1. Read the file's kind table (so plugins can resolve kinds by name in `create`).
//   2. `create` each plugin. One that fails is reported and left out; the others run.
//   3. Loop: fill a batch of `batchSize` events, record definitions (strings, stacks, modules, labels) as
//      they pass, derive the batch's transitions, call every live plugin's `consume`. A plugin that fails
//      is reported and fed no more events; the pass goes on for the others. On a clean file the chunks
//      are loaded (read, CRC, inflate) on one more thread (ChunkPrefetcher) and decoded into batches on
//      another (PipelinedEventSource); the model and the plugins stay on this one, so plugins still see one
//      thread.
//   4. `finish` each live plugin (results are written through the host), then `destroy` every plugin.
// Memory: one batch of events and transitions, the definitions, the model (one record per goroutine) and
// what the plugins keep — nothing proportional to the number of events.
//
// `batchSize` = 4096: 4096 × 88 bytes ≈ 350 KiB of events, large enough that the per-batch call cost
// (one indirect call per plugin) vanishes, small enough to stay in L2 between the model and the plugins.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoSymbolize
import GoTrace

public enum ReportFormat: Sendable { case text, json }

/// Everything a finished pass produced.
public struct AnalysisOutcome: Sendable {
    public var results: [PluginResult]
    /// Reader diagnostics (damage, truncation), one line each.
    public var diagnostics: [String]
    /// Set when nothing could be read.
    public var fatal: String?
    public var events: UInt64
}

/// Host-owned copies of the trace's definitions, handed to plugins by pointer.
final class DefinitionTable: TraceDefinitionSink {
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var strings: [UInt64: (pointer: UnsafeMutablePointer<CChar>, length: Int)] = [:]
    @exclusivity(unchecked) private var stacks: [UInt64: UnsafeMutableBufferPointer<UInt64>] = [:]
    @exclusivity(unchecked) private var symbols: [UInt64: UnsafeMutablePointer<CChar>] = [:]
    let symbolizer: Symbolizer
    private let empty = strdup("")!

    init(symbolizer: Symbolizer) { self.symbolizer = symbolizer }

    /// Resolved frames by return address, and the C strings they point to (interned: a function's name is
    /// stored once however many addresses fall in it).
    @exclusivity(unchecked) private var frames: [UInt64: gotrace_frame] = [:]
    @exclusivity(unchecked) private var interned: [String: UnsafeMutablePointer<CChar>] = [:]

    deinit {
        for text in interned.values { free(text) }
        for string in strings.values { string.pointer.deallocate() }
        for stack in stacks.values { stack.deallocate() }
        for text in retired { text.deallocate() }
        for stack in retiredStacks { stack.deallocate() }
        for symbol in symbols.values { free(symbol) }
        free(empty)
    }

    func defineString(_ id: UInt64, _ bytes: [UInt8]) {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        bytes.withUnsafeBytes { source in
            // Safety: `pointer` has room for the bytes and a terminating NUL.
            UnsafeMutableRawPointer(pointer).copyMemory(from: source.baseAddress ?? UnsafeRawPointer(pointer), byteCount: bytes.count)
        }
        pointer[bytes.count] = 0
        // A redefinition replaces the text; the old copy stays allocated because a plugin may hold it.
        if let old = strings[id] { retired.append(old.pointer) }
        strings[id] = (pointer, bytes.count)
    }

    /// Texts and stacks replaced by a redefinition (a damaged or hostile trace may define an id many times):
    /// kept until the table goes, since a plugin may still hold them.
    @exclusivity(unchecked) private var retired: [UnsafeMutablePointer<CChar>] = []
    @exclusivity(unchecked) private var retiredStacks: [UnsafeMutableBufferPointer<UInt64>] = []

    func defineStack(_ id: UInt64, _ programCounters: [UInt64]) {
        let buffer = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(1, programCounters.count))
        _ = buffer.initialize(from: programCounters)
        if let old = stacks[id] { retiredStacks.append(old) }
        stacks[id] = UnsafeMutableBufferPointer(rebasing: buffer[0..<programCounters.count])
    }

    func string(_ id: UInt64) -> (pointer: UnsafeMutablePointer<CChar>, length: Int)? {
        id == 0 ? (empty, 0) : strings[id]
    }

    func text(_ id: UInt64) -> String? { string(id).map { String(cString: $0.pointer) } }

    func stack(_ id: UInt64) -> UnsafeMutableBufferPointer<UInt64>? { stacks[id] }

    private func intern(_ text: String?) -> UnsafePointer<CChar>? {
        guard let text else { return nil }
        if let known = interned[text] { return UnsafePointer(known) }
        let made = strdup(text)!
        interned[text] = made
        return UnsafePointer(made)
    }

    /// Frames the trace itself names (Go traces: function, file and line from Go's stack table), by the
    /// address its stacks use. Consulted before the symbolizer, which never sees these addresses.
    @exclusivity(unchecked) private var knownFrames: [UInt64: TraceFrame] = [:]

    func adoptKnownFrames(_ table: [UInt64: TraceFrame]) { knownFrames.merge(table) { _, new in new } }

    func frame(_ pc: UInt64) -> gotrace_frame {
        if let known = frames[pc] { return known }
        if let goFrame = knownFrames[pc] {
            let made = gotrace_frame(
                struct_size: UInt32(MemoryLayout<gotrace_frame>.size), line: UInt32(clamping: goFrame.line),
                address: goFrame.pc, function: intern(goFrame.function), module: nil, build_id: nil,
                file: intern(goFrame.file), function_offset: 0, module_offset: 0, module_start: 0, module_limit: 0)
            frames[pc] = made
            return made
        }
        let resolved = symbolizer.frame(returnAddress: pc)
        let made = gotrace_frame(
            struct_size: UInt32(MemoryLayout<gotrace_frame>.size), line: UInt32(clamping: resolved.line), address: pc,
            function: intern(resolved.function), module: intern(resolved.modulePath), build_id: intern(resolved.buildID),
            file: intern(resolved.file), function_offset: resolved.functionOffset, module_offset: resolved.moduleOffset,
            module_start: resolved.moduleStart, module_limit: resolved.moduleLimit)
        frames[pc] = made
        return made
    }

    func symbolize(_ pc: UInt64) -> UnsafeMutablePointer<CChar> {
        if let known = symbols[pc] { return known }
        let made = strdup(knownFrames[pc]?.description ?? symbolizer.describe(pc))!
        symbols[pc] = made
        return made
    }
}

public final class AnalysisSession {
    public static let batchSize = 4096

    let source: any TraceSource
    let format: ReportFormat
    let outputDirectory: String?
    let kinds: KindCatalogue
    let model = GoroutineModel()
    let definitions: DefinitionTable
    let pathCString: UnsafeMutablePointer<CChar>
    let kindNameCStrings: [UnsafeMutablePointer<CChar>]
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) private var instances: [PluginInstance] = []
    @exclusivity(unchecked) private(set) var eventsRead: UInt64 = 0
    @exclusivity(unchecked) private(set) var lastEventNs: UInt64 = 0
    @exclusivity(unchecked) private(set) var isComplete = false
    @exclusivity(unchecked) private(set) var startWallNs: Int64 = 0

    /// - Parameters:
    ///   - options: per plugin name, its `--option` values.
    ///   - symbolizer: resolves stack addresses; modules named by the trace's `module` events are added.
    public init(source: any TraceSource, plugins: [LoadedPlugin], options: [String: [String: String]] = [:],
                format: ReportFormat = .text, outputDirectory: String? = nil, symbolizer: Symbolizer = Symbolizer()) {
        self.source = source
        self.format = format
        self.outputDirectory = outputDirectory
        let kinds = source.kinds
        self.kinds = kinds
        self.definitions = DefinitionTable(symbolizer: symbolizer)
        pathCString = strdup(source.fileName)!
        kindNameCStrings = (0..<256).map { code in
            strdup(kinds.specs[code]?.name ?? "kind-\(code)")!
        }
        instances = plugins.map { PluginInstance(plugin: $0, session: self, options: options[$0.name] ?? [:]) }
    }

    deinit {
        free(pathCString)
        for name in kindNameCStrings { free(name) }
    }

    /// Runs the pass. `progress(done, total)` is called every few batches when the total is known.
    public func run(progress: ((UInt64, UInt64) -> Void)? = nil) -> AnalysisOutcome {
        if let fatal = source.fatalDiagnostic {
            return AnalysisOutcome(results: [], diagnostics: source.diagnostics.map(\.description),
                                   fatal: fatal.description, events: 0)
        }
        definitions.adoptKnownFrames(source.frames)
        startWallNs = Int64(clamping: source.startWallNanoseconds)
        let expected = source.expectedEvents
        createAll()
        let pipeline = PipelinedEventSource(source: source, batchSize: AnalysisSession.batchSize)
        let started = pipeline.start()
        stream(started ? pipeline : nil, expected: expected, progress: progress)
        if started { pipeline.stop() }
        isComplete = source.isComplete
        finishAll()
        let results = instances.map(\.result)
        destroyAll()
        return AnalysisOutcome(results: results, diagnostics: source.diagnostics.map(\.description) + symbolDiagnostics,
                               fatal: nil, events: eventsRead)
    }

    /// Modules rebuilt since the recording: their addresses are not symbolized (they would name wrong functions).
    private var symbolDiagnostics: [String] {
        definitions.symbolizer.mismatchedModules.map {
            "\(source.fileName): \($0) has changed since the trace was recorded (different build id): its frames are shown as module+0xoffset"
        }
    }

    private func createAll() {
        for plugin in instances {
            var made: UnsafeMutableRawPointer?
            let d = plugin.plugin.descriptor.pointee
            let status = d.create(d.context, hostFunctionTable, plugin.handle, &made)
            if status == GOTRACE_OK, made != nil {
                plugin.instance = made
            } else {
                plugin.fail(status, context: "analyzer \(plugin.plugin.name) could not start")
            }
        }
    }

    /// Every batch through `consume`, until an empty one: those `pipeline` decoded on its thread, or the source's
    /// own when no thread started (nil). Not a closure per supplier: 45e5a0c's closure-fed loop measured 8.2 M
    /// instructions dearer on a 2.5 M-event trace.
    private func stream(_ pipeline: PipelinedEventSource?, expected: UInt64?, progress: ((UInt64, UInt64) -> Void)?) {
        let own = UnsafeMutableBufferPointer<gotrace_event>.allocate(
            capacity: pipeline == nil ? AnalysisSession.batchSize : 0)
        defer { own.deallocate() }
        var transitions = TransitionBuffer(capacity: AnalysisSession.batchSize)
        defer { transitions.deallocate() }
        var batches = 0
        var previous = false
        while true {
            let events = pipeline?.next(definitions: definitions, returning: previous)
                ?? UnsafeBufferPointer(rebasing: own.prefix(source.nextBatch(into: own, definitions: definitions)))
            previous = true
            if events.isEmpty { break }
            consume(events[...], transitions: &transitions)
            batches += 1
            if let progress, let expected, batches % 64 == 0 { progress(eventsRead, expected) }
        }
        if let progress, let expected { progress(eventsRead, max(expected, eventsRead)) }
    }

    /// One batch through the model and every live plugin.
    @inline(__always)
    private func consume(_ slice: Slice<UnsafeBufferPointer<gotrace_event>>, transitions: inout TransitionBuffer) {
        let events = UnsafeBufferPointer(rebasing: slice)
        let count = events.count
        precondition(count <= transitions.capacity, "a batch larger than the transition buffer")
        transitions.removeAll()
        for index in 0..<count {
            // Safety: index < count ≤ capacity, and the first `count` events were just written.
            let event = UnsafePointer(events.baseAddress! + index)
            if event.pointee.kind < 16 { recordMetadata(event.pointee) }
            model.apply(event, index: UInt32(index), into: &transitions)
        }
        eventsRead += UInt64(count)
        lastEventNs = events[count - 1].time_ns
        do {
            let transitionBuffer = transitions.buffer
            var batch = gotrace_batch(struct_size: UInt32(MemoryLayout<gotrace_batch>.size), reserved0: 0,
                                      events: UnsafePointer(events.baseAddress), event_count: count,
                                      transitions: transitionBuffer.baseAddress, transition_count: transitionBuffer.count,
                                      transition_from_stacks: transitions.fromStackBuffer.baseAddress)
            for plugin in instances where plugin.instance != nil && plugin.failure == nil {
                let status = plugin.plugin.descriptor.pointee.consume(plugin.instance, &batch)
                if status != GOTRACE_OK {
                    plugin.fail(status, context: "analyzer \(plugin.plugin.name) failed while reading events")
                }
            }
        }
    }

    /// Metadata kinds the host itself needs: modules for symbolization, goroutine labels for the model.
    private func recordMetadata(_ event: gotrace_event) {
        switch event.kind {
        case EventKind.module.rawValue:
            let path = definitions.text(event.arguments.0) ?? ""
            let buildID = definitions.text(event.arguments.2)
            if !path.isEmpty { definitions.symbolizer.addModule(path: path, loadBias: event.arguments.1, buildID: buildID) }
        case EventKind.goroutineLabel.rawValue:
            model.setLabel(event.arguments.0, event.arguments.1)
        default:
            break
        }
    }

    private func finishAll() {
        for plugin in instances where plugin.instance != nil && plugin.failure == nil {
            let status = plugin.plugin.descriptor.pointee.finish(plugin.instance)
            if status != GOTRACE_OK {
                plugin.fail(status, context: "analyzer \(plugin.plugin.name) failed while writing its results")
            }
        }
    }

    private func destroyAll() {
        for plugin in instances where plugin.instance != nil {
            plugin.plugin.descriptor.pointee.destroy(plugin.instance)
            plugin.instance = nil
        }
    }
}
