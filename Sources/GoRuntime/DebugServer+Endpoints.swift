// DebugServer+Endpoints.swift — what each /debug/pprof/ path answers (DebugServer.swift has the rules).
import CGoRuntime

#if canImport(Glibc)
import Glibc
#endif

enum DebugEndpoints {
    static let prefix = "/debug/pprof/"

    static func respond(to request: HTTPRequest) -> HTTPResponse {
        let target: DebugRequestTarget
        do {
            target = try DebugRequestTarget(parsing: request.path)
        } catch {
            return text(400, "\(error)\n")
        }
        // Bytes, as Go's mux compares paths: String's hasPrefix compares characters, and a combining mark
        // after the last "/" (`/debug/pprof/%CC%81`) would merge with it into one.
        let path = target.path.utf8
        guard path.starts(with: prefix.utf8) || path.elementsEqual("/debug/pprof".utf8) else {
            return text(404, "404 page not found\n")
        }
        let name = String(decoding: path.dropFirst(prefix.utf8.count), as: UTF8.self)
        do {
            switch name {
            case "": return index()
            case "cmdline": return text(200, commandLine())
            case "symbol": return symbol(request)
            case "goroutine": return try goroutine(target)
            case "profile": return try cpuProfile(target)
            case "trace": return try trace(target)
            case "block", "mutex": return try contention(name, target)
            default: return text(404, "Unknown profile\n")
            }
        } catch let error as HTTPError {
            return text(400, error.message + "\n")
        } catch {
            return text(500, "\(error)\n")
        }
    }

    static func text(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(statusCode: status, headers: ["content-type": "text/plain; charset=utf-8",
                                                   "x-content-type-options": "nosniff"], text: body)
    }

    /// A gzipped protobuf, as Go's `serveProfile` sends it.
    static func profile(_ name: String, _ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(headers: ["content-type": "application/octet-stream",
                               "content-disposition": "attachment; filename=\"\(name)\"",
                               "x-content-type-options": "nosniff"], body: bytes)
    }

    /// A whole-number parameter; `fallback` when absent.
    static func integer(_ target: DebugRequestTarget, _ name: String, _ fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = target.query[name], !text.isEmpty else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw HTTPError("bad \(name)=\(text) (want a whole number from \(range.lowerBound) to \(range.upperBound))")
        }
        return value
    }

    static func index() -> HTTPResponse {
        let goroutines = Runtime.numGoroutines
        let rows: [(String, String, String)] = [
            ("block", "", "Stack traces that led to blocking on synchronization primitives"),
            ("cmdline", "", "The command line invocation of the current program"),
            ("goroutine", "\(goroutines)", "Stack traces of all current goroutines. Use debug=2 as a query parameter to export in the same format as an unrecovered panic."),
            ("mutex", "", "Stack traces of holders of contended mutexes"),
            ("profile", "", "CPU profile. You can specify the duration in the seconds GET parameter. After you get the profile file, use the go tool pprof command to investigate the profile."),
            ("symbol", "", "Maps given program counters to function names."),
            ("trace", "", "A gotrace execution trace (.gtrace) of the next seconds (default 1); read it with gotrace report."),
        ]
        var html = "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n/debug/pprof/\n<br>\n"
        html += "<p>Set debug=1 as a query parameter to export in legacy text format</p>\n<br>\nTypes of profiles available:\n"
        html += "<table>\n<thead><td>Count</td><td>Profile</td></thead>\n"
        for (name, count, _) in rows {
            let link = name == "goroutine" ? "goroutine?debug=1" : name
            html += "<tr><td>\(count)</td><td><a href='\(link)'>\(name)</a></td></tr>\n"
        }
        html += "</table>\n<br>\n<p>Profile Descriptions:</p>\n<ul>\n"
        for (name, _, description) in rows { html += "<li><div class=profile-name>\(name): </div> \(description)</li>\n" }
        html += "</ul>\n</body>\n</html>\n"
        return HTTPResponse(headers: ["content-type": "text/html; charset=utf-8"], text: html)
    }

    /// The arguments separated by NUL bytes, as Go's `Cmdline`.
    static func commandLine() -> String {
        CommandLine.arguments.joined(separator: "\u{0}")
    }

    /// Go's `Symbol`: GET says symbols are available; POST (or a query) of `0x…+0x…` addresses names each.
    static func symbol(_ request: HTTPRequest) -> HTTPResponse {
        var input = String(decoding: request.body.prefix(64 * 1024), as: UTF8.self)
        if request.method != "POST", let question = request.path.firstIndex(of: "?") {
            input = String(request.path[request.path.index(after: question)...])
        }
        var out = "num_symbols: 1\n"
        for word in input.split(whereSeparator: { $0 == "+" || $0 == " " || $0 == "\n" }).prefix(4096) {
            guard word.hasPrefix("0x"), let pc = UInt64(word.dropFirst(2), radix: 16) else { continue }
            let frame = RuntimeSymbols.frame(pc)
            if frame.symbol != "?" { out += "0x\(String(pc, radix: 16)) \(RuntimeProfileBuilder.withoutSignature(frame.function))\n" }
        }
        return text(200, out)
    }

    static func goroutine(_ target: DebugRequestTarget) throws -> HTTPResponse {
        let debug = try integer(target, "debug", 0, in: 0...2)
        let records = Runtime.goroutineProfile()
        switch debug {
        case 0: return profile("goroutine", StackDumpFormat.pprof(records))
        case 1: return text(200, StackDumpFormat.grouped(records))
        default: return text(200, StackDumpFormat.goroutines(records))
        }
    }

    static func cpuProfile(_ target: DebugRequestTarget) throws -> HTTPResponse {
        let seconds = try integer(target, "seconds", 30, in: 1...DebugServer.maxSeconds)
        guard cpuProfiler.start() else {
            return text(429, "Could not enable CPU profiling: cpu profiling already in use\n")
        }
        Runtime.sleep(for: .seconds(seconds))
        return profile("profile", cpuProfiler.stop())
    }

    static func trace(_ target: DebugRequestTarget) throws -> HTTPResponse {
        let seconds = try integer(target, "seconds", 1, in: 1...DebugServer.maxSeconds)
        // An anonymous file: nothing to clean up, whoever ends first.
        let fd = gort_anonymous_file()
        guard fd >= 0 else { return text(500, "Could not enable tracing: no temporary file (errno \(errno))\n") }
        defer { close(fd) }
        do {
            try Trace.start(fileDescriptor: fd, compressing: true)
        } catch {
            return text(429, "Could not enable tracing: tracing is already enabled\n")
        }
        Runtime.sleep(for: .seconds(seconds))
        Trace.stop()
        let size = lseek(fd, 0, SEEK_END)
        guard size >= 0 else { return text(500, "trace: cannot read it back\n") }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n <= 0 { break }
            done += n
        }
        return profile("trace", Array(bytes[0..<done]))
    }

    static func contention(_ name: String, _ target: DebugRequestTarget) throws -> HTTPResponse {
        let debug = try integer(target, "debug", 0, in: 0...2)
        let records = name == "block" ? ContentionProfiles.block.snapshot() : ContentionProfiles.mutex.snapshot()
        if debug > 0 { return text(200, ContentionProfiles.text(name, records)) }
        return profile(name, ContentionProfiles.pprof(name, records))
    }
}
