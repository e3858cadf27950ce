/// What an analyzer asks `gotrace report` for: look-ups (stacks, strings, symbols, goroutines, kinds),
/// its options, and where to write its results.
///
/// Valid from ``Analyzer/init(host:)`` until the analyzer is released; memory it hands out (stacks) is
/// the host's and lives as long. Use it from the thread that calls the analyzer only.
public struct AnalyzerHost {
    let api: UnsafePointer<gotrace_host_api>
    let handle: OpaquePointer

    init(api: UnsafePointer<gotrace_host_api>, handle: OpaquePointer) {
        self.api = api
        self.handle = handle
    }

    // MARK: Look-ups

    /// The program counters of stack `id`, innermost first (empty if unknown). Host-owned memory.
    public func stack(_ id: UInt64) -> UnsafeBufferPointer<UInt64> {
        var pcs: UnsafePointer<UInt64>?
        var count = 0
        guard api.pointee.stack(handle, id, &pcs, &count) == GOTRACE_OK, let pcs else { return .init(start: nil, count: 0) }
        return UnsafeBufferPointer(start: pcs, count: count)
    }

    /// The string with trace id `id` (a label, a region or log name), or nil if the trace defines none.
    public func string(_ id: UInt64) -> String? {
        var text: UnsafePointer<CChar>?
        var length = 0
        guard api.pointee.string(handle, id, &text, &length) == GOTRACE_OK, let text else { return nil }
        // Safety: the host guarantees `length` bytes at `text`.
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    /// One frame as text: `function + 0xoff (module)` when symbols are available, else
    /// `module+0xoffset`, else `0xaddress`.
    public func symbolize(_ pc: UInt64) -> String {
        api.pointee.symbolize(handle, pc).map { String(cString: $0) } ?? "0x" + String(pc, radix: 16)
    }

    /// Whether the host has `append_file` (ABI 1.1).
    public var canAppendFiles: Bool {
        let needed = MemoryLayout<gotrace_host_api>.offset(of: \gotrace_host_api.append_file)! + MemoryLayout<UnsafeRawPointer>.size
        return Int(api.pointee.struct_size) >= needed && api.pointee.append_file != nil
    }

    /// Appends to `name` in the output directory; the first call for a name creates the file (ABI 1.1),
    /// for output too large to hold at once.
    ///
    /// - Throws: An ``AnalyzerError`` from a host older than ABI 1.1 (see ``canAppendFiles``), without an
    ///   output directory, or if the file cannot be written.
    public func appendFile(_ name: String, _ bytes: [UInt8]) throws(AnalyzerError) {
        guard canAppendFiles, let append = api.pointee.append_file else {
            throw AnalyzerError("this gotrace cannot append to files (plugin ABI 1.0)", status: gotrace_status(GOTRACE_ERROR_UNSUPPORTED))
        }
        try check(bytes.withUnsafeBytes { append(handle, name, $0.baseAddress, $0.count) }, "cannot write \(name)")
    }

    /// `pc` (a return address from a stack) resolved for profiles; nil from a host older than ABI 1.1.
    public func frame(_ pc: UInt64) -> gotrace_frame? {
        let needed = MemoryLayout<gotrace_host_api>.offset(of: \gotrace_host_api.frame)! + MemoryLayout<UnsafeRawPointer>.size
        guard Int(api.pointee.struct_size) >= needed, let lookup = api.pointee.frame else { return nil }
        var frame = gotrace_frame()
        frame.struct_size = UInt32(MemoryLayout<gotrace_frame>.size)
        return lookup(handle, pc, &frame) == GOTRACE_OK ? frame : nil
    }

    /// The frames of stack `id`, innermost first.
    public func frames(ofStack id: UInt64) -> [String] { stack(id).map(symbolize) }

    /// What the host knows about goroutine `id` now (state, parent, creation and state stacks), or nil
    /// if the trace has not mentioned it.
    public func goroutine(_ id: UInt64) -> gotrace_goroutine_info? {
        var info = gotrace_goroutine_info()
        info.struct_size = UInt32(MemoryLayout<gotrace_goroutine_info>.size)
        return api.pointee.goroutine(handle, id, &info) == GOTRACE_OK ? info : nil
    }

    /// Visits every goroutine that has not ended, in ascending id order.
    public func forEachGoroutine(_ body: (gotrace_goroutine_info) -> Void) {
        withoutActuallyEscaping(body) { body in
            var closure = body
            withUnsafeMutablePointer(to: &closure) { pointer in
                api.pointee.for_each_goroutine(handle, { context, info in
                    // Safety: `context` is the pointer to `closure` passed below; the host calls back only
                    // during `for_each_goroutine`, while that pointer is valid.
                    guard let context, let info else { return }
                    context.assumingMemoryBound(to: ((gotrace_goroutine_info) -> Void).self).pointee(info.pointee)
                }, pointer)
            }
        }
    }

    /// The trace file's path, whether it is complete, and the events and time read so far (all of them
    /// once ``Analyzer/finish()`` is called).
    public var traceInfo: gotrace_trace_info {
        var info = gotrace_trace_info()
        info.struct_size = UInt32(MemoryLayout<gotrace_trace_info>.size)
        api.pointee.trace_info(handle, &info)
        return info
    }

    /// The wire code of the kind named `name` in this trace (including kinds newer than this plugin).
    public func kindCode(named name: String) -> UInt8? {
        let code = api.pointee.kind_code(handle, name)
        return code >= 0 ? UInt8(code) : nil
    }

    /// The index in `gotrace_event.arguments` of the argument named `name` of kind `kind`, or nil if that
    /// kind has no such argument (so a plugin can read arguments a newer trace format added).
    public func argumentIndex(kind: UInt8, named name: String) -> Int? {
        let index = api.pointee.argument_index(handle, kind, name)
        return index >= 0 ? Int(index) : nil
    }

    /// The name of the kind with wire code `kind`, e.g. `spawn`; `kind-N` for a code the trace does not define.
    public func kindName(_ kind: UInt8) -> String { api.pointee.kind_name(handle, kind).map { String(cString: $0) } ?? "kind-\(kind)" }

    // MARK: Options and output

    /// The value the user gave with `--option NAME.KEY=VALUE` (NAME this analyzer's name), or nil if not
    /// given: the option's ``AnalyzerOption/defaultValue`` is for the analyzer to apply.
    public func option(_ key: String) -> String? { api.pointee.option(handle, key).map { String(cString: $0) } }

    /// A true/false option: `true` or `false`, false if not given.
    ///
    /// - Throws: ``AnalyzerError`` (invalid argument) naming the option for any other value.
    public func flag(_ key: String) throws(AnalyzerError) -> Bool {
        switch option(key) ?? "false" {
        case "true": return true
        case "false": return false
        case let other: throw .invalidArgument("\(key) must be true or false, not \"\(other)\"")
        }
    }

    /// Whether the report wants JSON (`--format json`): write with ``writeJSON(_:)``, else ``writeText(_:)``.
    public var wantsJSON: Bool { api.pointee.output_format(handle) == GOTRACE_FORMAT_JSON }
    /// Whether an output directory was given (`-o DIR`), so that ``writeFile(_:_:)`` can succeed.
    public var hasOutputDirectory: Bool { api.pointee.has_output_directory(handle) != 0 }

    /// Appends `text` to this analyzer's section of the text report; may be called many times.
    ///
    /// - Throws: An ``AnalyzerError`` if the host cannot write it.
    public func writeText(_ text: String) throws(AnalyzerError) {
        var text = text
        try check(text.withUTF8 { api.pointee.write_text(handle, $0.baseAddress, $0.count) }, "cannot write text")
    }

    /// Writes the analyzer's JSON document (one complete value; call once).
    ///
    /// - Throws: An ``AnalyzerError`` if `json` is not one valid value or the host cannot write it.
    public func writeJSON(_ json: String) throws(AnalyzerError) {
        var json = json
        try check(json.withUTF8 { api.pointee.write_json(handle, $0.baseAddress, $0.count) }, "cannot write JSON")
    }

    /// Writes `name` (a plain file name, no `/`) into the output directory.
    ///
    /// - Throws: An ``AnalyzerError`` without an output directory (see ``hasOutputDirectory``) or if the
    ///   file cannot be written.
    public func writeFile(_ name: String, _ bytes: [UInt8]) throws(AnalyzerError) {
        try check(bytes.withUnsafeBytes { api.pointee.write_file(handle, name, $0.baseAddress, $0.count) },
                  "cannot write \(name)")
    }

    private func check(_ status: gotrace_status, _ what: String) throws(AnalyzerError) {
        guard status != GOTRACE_OK else { return }
        throw AnalyzerError(what, status: status)
    }

    /// The status an analyzer's `call` returns through the ABI: OK, or its error's, after handing the error's
    /// chain to the host, innermost first.
    func status(of call: () throws(AnalyzerError) -> Void) -> gotrace_status {
        do throws(AnalyzerError) {
            try call()
            return gotrace_status(GOTRACE_OK)
        } catch {
            for message in error.messages.reversed() { _ = api.pointee.fail(handle, error.status, message) }
            return error.status
        }
    }
}

extension AnalyzerHost {
    /// Publishes a named number the CLI may act on (e.g. "leaked" for `--fail-on-leak`).
    public func setMetric(_ key: String, _ value: Int64) { api.pointee.set_metric(handle, key, value) }
}
