// The host side of the plugin ABI: the function table plugins call, and one context per plugin instance.
//
// Design note
// -----------
// `gotrace_host *` handed to a plugin is an unretained pointer to its `PluginInstance`; the session keeps
// every instance alive until after `destroy`, which is what makes the unretained pointer safe. All
// callbacks run on the session's thread, during a `create`/`consume`/`finish` call.
//
// Error chains: a plugin records its causes with `fail` (innermost first) before returning a failure. The host
// adds its own reason when it refuses a call (write_json, write_file, append_file), but only as the cause of a
// failure that follows the refusal at once — the plugin's next host call is `fail`, or it returns the failure
// without another host call. A plugin that makes any other host call has carried on, and the refusal is dropped:
// otherwise it would turn up as the cause of an unrelated later failure.
//
// Memory handed out (stacks, strings, symbol names, option values) is owned by the session's
// `DefinitionTable` or the instance and freed when the session ends — after every plugin's `destroy` — so
// a plugin may keep those pointers for its whole life, as the header promises.

#if canImport(Glibc)
import Glibc
#endif
import CGoTracePlugin
import GoTrace

/// What one plugin wrote, and how it ended.
public struct PluginResult: Sendable {
    public var name: String
    public var text: String
    /// The plugin's JSON document, verbatim (nil if it wrote none).
    public var json: String?
    public var files: [String]
    public var metrics: [String: Int64]
    /// Set if the plugin failed; outermost message first.
    public var failure: [String]?
}

final class PluginInstance {
    let plugin: LoadedPlugin
    unowned let session: AnalysisSession
    let options: [String: String]
    // Exclusivity: this object's stored properties are never accessed re-entrantly (no mutation calls out to code
    // that touches them), so their dynamic checks are off; they cost 17-45% of `gotrace report` (docs/performance.md).
    @exclusivity(unchecked) var instance: UnsafeMutableRawPointer?
    @exclusivity(unchecked) var text: [UInt8] = []
    @exclusivity(unchecked) var json: String?
    @exclusivity(unchecked) var files: [String] = []
    @exclusivity(unchecked) var metrics: [String: Int64] = [:]
    /// Error links in the order the plugin recorded them: innermost first.
    @exclusivity(unchecked) var pendingCauses: [String] = []
    /// Host calls the plugin has made; numbers the refusal below.
    @exclusivity(unchecked) var hostCalls = 0
    /// The host's reason for refusing call number `call`, until it becomes a cause or is dropped (see the top).
    @exclusivity(unchecked) var refusal: (reason: String, call: Int)?
    @exclusivity(unchecked) var failure: [String]?
    /// C copies of option values handed out; freed with the instance.
    @exclusivity(unchecked) var optionCStrings: [String: UnsafeMutablePointer<CChar>] = [:]

    init(plugin: LoadedPlugin, session: AnalysisSession, options: [String: String]) {
        self.plugin = plugin
        self.session = session
        self.options = options
    }

    deinit { for pointer in optionCStrings.values { free(pointer) } }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    /// Records why the host refused the current call (see the top).
    func refuse(_ reason: String) { refusal = (reason, hostCalls) }

    /// The plugin's `fail`: the refusal of the call just before it, if any, is the innermost cause.
    func recordCause(_ message: String) {
        if let refusal, refusal.call == hostCalls - 1 { pendingCauses.append(refusal.reason) }
        refusal = nil
        pendingCauses.append(message)
    }

    /// Records a failed call: `context` is the host's outermost message, then the plugin's chain.
    func fail(_ status: gotrace_status, context: String) {
        // Returned straight after a refused call: the refusal is the cause.
        if let refusal, refusal.call == hostCalls { pendingCauses.append(refusal.reason) }
        refusal = nil
        let causes = pendingCauses.reversed()
        pendingCauses = []
        let code = String(cString: gotrace_status_name(status))
        failure = [context] + (causes.isEmpty ? ["\(code) (status \(status))"] : Array(causes))
    }

    var result: PluginResult {
        PluginResult(name: plugin.name, text: String(decoding: text, as: UTF8.self), json: json, files: files,
                     metrics: metrics, failure: failure)
    }
}

/// The instance behind `handle`; every host call goes through here once, which is what counts it.
@inline(__always)
private func instance(_ handle: OpaquePointer?) -> PluginInstance {
    // Safety: every handle the host gives out is an unretained PluginInstance the session keeps alive.
    let plugin = Unmanaged<PluginInstance>.fromOpaque(UnsafeRawPointer(handle!)).takeUnretainedValue()
    plugin.hostCalls &+= 1
    return plugin
}

private func status(_ code: Int) -> gotrace_status { gotrace_status(code) }

/// The one function table, shared by every instance (the handle says which).
nonisolated(unsafe) let hostFunctionTable: UnsafeMutablePointer<gotrace_host_api> = {
    var api = gotrace_host_api()
    api.struct_size = UInt32(MemoryLayout<gotrace_host_api>.size)
    api.abi_minor = UInt32(GOTRACE_PLUGIN_ABI_MINOR)
    api.stack = { handle, id, pcs, count in
        guard let pcs, let count else { return status(GOTRACE_ERROR_INVALID_ARGUMENT) }
        guard let stack = instance(handle).session.definitions.stack(id) else {
            pcs.pointee = nil
            count.pointee = 0
            return status(GOTRACE_ERROR_NOT_FOUND)
        }
        pcs.pointee = UnsafePointer(stack.baseAddress)
        count.pointee = stack.count
        return status(GOTRACE_OK)
    }
    api.string = { handle, id, text, length in
        guard let text, let length else { return status(GOTRACE_ERROR_INVALID_ARGUMENT) }
        guard let string = instance(handle).session.definitions.string(id) else { return status(GOTRACE_ERROR_NOT_FOUND) }
        text.pointee = UnsafePointer(string.pointer)
        length.pointee = string.length
        return status(GOTRACE_OK)
    }
    api.symbolize = { handle, pc in UnsafePointer(instance(handle).session.definitions.symbolize(pc)) }
    api.goroutine = { handle, id, info in
        guard let info else { return status(GOTRACE_ERROR_INVALID_ARGUMENT) }
        guard let found = instance(handle).session.model.info(id) else { return status(GOTRACE_ERROR_NOT_FOUND) }
        copyGrowing(found, to: info)
        return status(GOTRACE_OK)
    }
    api.for_each_goroutine = { handle, visitor, context in
        guard let visitor else { return }
        instance(handle).session.model.forEachLive { info in
            var info = info
            visitor(context, &info)
        }
    }
    api.trace_info = { handle, info in
        guard let info else { return }
        let session = instance(handle).session
        var made = gotrace_trace_info()
        made.struct_size = UInt32(MemoryLayout<gotrace_trace_info>.size)
        made.complete = session.isComplete ? 1 : 0
        made.events = session.eventsRead
        made.end_ns = session.lastEventNs
        made.start_wall_ns = session.startWallNs
        made.path = UnsafePointer(session.pathCString)
        copyGrowing(made, to: info)
    }
    api.kind_code = { handle, name in
        guard let name, let code = instance(handle).session.kinds.code(named: String(cString: name)) else { return -1 }
        return Int32(code)
    }
    api.argument_index = { handle, kind, name in
        guard let name, let spec = instance(handle).session.kinds.specs[Int(kind)] else { return -1 }
        let wanted = String(cString: name)
        return spec.arguments.firstIndex { $0.name == wanted }.map(Int32.init) ?? -1
    }
    api.kind_name = { handle, kind in UnsafePointer(instance(handle).session.kindNameCStrings[Int(kind)]) }
    api.option = { handle, key in
        guard let key else { return nil }
        let plugin = instance(handle)
        let name = String(cString: key)
        guard let value = plugin.options[name] else { return nil }
        if let existing = plugin.optionCStrings[name] { return UnsafePointer(existing) }
        let copy = strdup(value)!
        plugin.optionCStrings[name] = copy
        return UnsafePointer(copy)
    }
    api.output_format = { handle in instance(handle).session.format == .json ? Int32(GOTRACE_FORMAT_JSON) : Int32(GOTRACE_FORMAT_TEXT) }
    api.has_output_directory = { handle in instance(handle).session.outputDirectory == nil ? 0 : 1 }
    api.write_text = { handle, text, length in
        guard let text else { return length == 0 ? status(GOTRACE_OK) : status(GOTRACE_ERROR_INVALID_ARGUMENT) }
        // Safety: the plugin passes `length` readable bytes at `text`.
        instance(handle).text.append(contentsOf: UnsafeRawBufferPointer(start: text, count: length))
        return status(GOTRACE_OK)
    }
    api.write_json = { handle, text, length in
        let plugin = instance(handle)
        guard let text else { return status(GOTRACE_ERROR_INVALID_ARGUMENT) }
        // Safety: as in write_text.
        let json = String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
        guard plugin.json == nil else {
            plugin.refuse("write_json called twice; a plugin writes one JSON document")
            return status(GOTRACE_ERROR_INVALID_ARGUMENT)
        }
        if let problem = JSONCheck.problem(in: json) {
            plugin.refuse("the plugin's JSON is malformed: \(problem)")
            return status(GOTRACE_ERROR_INVALID_ARGUMENT)
        }
        plugin.json = json
        return status(GOTRACE_OK)
    }
    api.write_file = { handle, name, bytes, length in hostWriteFile(instance(handle), name, bytes, length, appending: false) }
    api.append_file = { handle, name, bytes, length in hostWriteFile(instance(handle), name, bytes, length, appending: true) }
    api.set_metric = { handle, key, value in
        guard let key else { return }
        instance(handle).metrics[String(cString: key)] = value
    }
    api.fail = { handle, code, message in
        instance(handle).recordCause(message.map { String(cString: $0) } ?? "(no message)")
        return code
    }
    api.frame = { handle, pc, frame in
        guard let frame else { return status(GOTRACE_ERROR_INVALID_ARGUMENT) }
        copyGrowing(instance(handle).session.definitions.frame(pc), to: frame)
        return status(GOTRACE_OK)
    }
    let pointer = UnsafeMutablePointer<gotrace_host_api>.allocate(capacity: 1)
    pointer.initialize(to: api)
    return pointer
}()

/// `write_file` and `append_file`: a plain file name in the output directory. Appending creates the file on
/// the first call for a name (truncating what a previous run left) and appends afterwards.
private func hostWriteFile(_ plugin: PluginInstance, _ name: UnsafePointer<CChar>?, _ bytes: UnsafeRawPointer?, _ length: Int,
                           appending: Bool) -> gotrace_status {
    guard let name else { return status(GOTRACE_ERROR_INVALID_ARGUMENT) }
    let fileName = String(cString: name)
    guard let directory = plugin.session.outputDirectory else {
        plugin.refuse("no output directory (pass -o DIR) for \(fileName)")
        return status(GOTRACE_ERROR_UNSUPPORTED)
    }
    guard !fileName.isEmpty, !fileName.contains("/"), fileName != ".", fileName != ".." else {
        plugin.refuse("\"\(fileName)\" is not a plain file name")
        return status(GOTRACE_ERROR_INVALID_ARGUMENT)
    }
    let path = directory + "/" + fileName
    if let refusal = InputProtection.refusal(toWrite: path, inputs: [plugin.session.source.fileName]) {
        plugin.refuse(refusal[0])
        return status(GOTRACE_ERROR_INVALID_ARGUMENT)
    }
    let append = appending && plugin.files.contains(path)
    // Safety: the plugin passes `length` readable bytes at `bytes`.
    let buffer = UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : length)
    if let problem = writeFile(path, buffer, append: append) {
        plugin.refuse("cannot write \(path): \(problem)")
        return status(GOTRACE_ERROR_IO)
    }
    if !plugin.files.contains(path) { plugin.files.append(path) }
    return status(GOTRACE_OK)
}

/// Copies `value` into a plugin-supplied struct whose first field is its `struct_size`, never writing past
/// the size the plugin was compiled with (an older plugin has a shorter struct).
private func copyGrowing<T>(_ value: T, to destination: UnsafeMutablePointer<T>) {
    let declared = UnsafeRawPointer(destination).load(as: UInt32.self)
    let size = declared == 0 ? MemoryLayout<T>.size : min(Int(declared), MemoryLayout<T>.size)
    withUnsafeBytes(of: value) { source in
        // Safety: `size` is at most both the plugin's struct size and ours; the first 4 bytes (struct_size)
        // are rewritten with the same layout.
        UnsafeMutableRawPointer(destination).copyMemory(from: source.baseAddress!, byteCount: size)
    }
    UnsafeMutableRawPointer(destination).storeBytes(of: UInt32(size), as: UInt32.self)
}

private func writeFile(_ path: String, _ bytes: UnsafeRawBufferPointer, append: Bool = false) -> String? {
    let descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
    guard descriptor >= 0 else { return String(cString: strerror(errno)) }
    defer { close(descriptor) }
    do {
        try TraceFileWriter.writeAll(bytes, to: descriptor)
    } catch {
        return error.description
    }
    return nil
}
