// RuntimeSymbols.swift — names for the runtime's own diagnostics (goroutine dumps, the debug server's
// pprof profiles), without the analysis side.
//
// Design note: GoRuntime must not link GoSymbolize (libelf), so frames are named by CGoRuntime/symtab.c —
// the executable's `.symtab`, read once, and `dladdr` for shared libraries — and demangled by
// libswiftCore's `swift_demangle`. File and line come from the module's DWARF through GoDWARF, the one
// DWARF reader (GoSymbolize's too), which loads libdw on the first look-up: a program that never dumps or
// profiles never opens it, and without libdw or debug information a frame simply has no line. A frame's
// place is then its function, file, line and module, which is what `go tool pprof` needs to show a profile
// without the binary (the profile says the functions are resolved). Results are cached per PC under a lock:
// a dump or a profile names the same few hundred return addresses again and again; the line tables have a
// lock of their own, since a first look-up in a large executable can take a while and must not hold up
// look-ups that hit the cache.
import CGoRuntime
import GoDWARF
import GoPprof

#if canImport(Glibc)
import Glibc
#endif

/// One named frame.
struct RuntimeFrame: Sendable {
    var pc: UInt64
    /// Demangled, without Swift's private discriminators; `?` when unknown.
    var function: String
    /// The symbol as linked (pprof's `system_name`).
    var symbol: String
    /// The module's path (`/proc/self/exe` resolved for the executable), or "" when none contains `pc`.
    var module: String
    var moduleBase: UInt64
    /// `pc` minus the function's start (0 when unnamed).
    var offset: UInt64
    /// The source file, from the module's DWARF; "" when unknown.
    var file: String = ""
    /// The source line; 0 when unknown.
    var line: Int = 0
}

enum RuntimeSymbols {
    // Safety: a lock, never freed; its users take it before touching what it guards.
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<gort_lock_t> = {
        let lock = UnsafeMutablePointer<gort_lock_t>.allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
        return lock
    }()
    // Safety: read and written only with `lock` held.
    nonisolated(unsafe) private static var cache: [UInt64: RuntimeFrame] = [:]
    nonisolated(unsafe) private static var executablePath: String?

    /// The frame of `pc`.
    static func frame(_ pc: UInt64) -> RuntimeFrame {
        gort_lock(lock)
        if let known = cache[pc] {
            gort_unlock(lock)
            return known
        }
        gort_unlock(lock)
        var symbol = gort_symbol_t()
        var frame = RuntimeFrame(pc: pc, function: "?", symbol: "?", module: "", moduleBase: 0, offset: 0)
        if gort_symbolize(UInt(pc), &symbol) {
            if let name = symbol.name {
                let linked = String(cString: name)
                frame.symbol = linked
                frame.function = demangle(linked)
                frame.offset = pc - UInt64(symbol.start)
            }
            if let path = symbol.module_path {
                frame.module = resolvedModulePath(String(cString: path))
                frame.moduleBase = UInt64(symbol.module_base)
                if let place = sourceLine(pc, module: frame.module, bias: UInt64(symbol.module_bias)) {
                    frame.file = place.file
                    frame.line = place.line
                }
            }
        }
        gort_lock(lock)
        if cache.count > 100_000 { cache.removeAll() }  // bounds a long-lived server's memory
        cache[pc] = frame
        gort_unlock(lock)
        return frame
    }

    // Safety: the line tables' lock, never freed; taken before touching `lineTables`.
    nonisolated(unsafe) private static let linesLock: UnsafeMutablePointer<gort_lock_t> = {
        let lock = UnsafeMutablePointer<gort_lock_t>.allocate(capacity: 1)
        lock.initialize(to: gort_lock_t(state: 0))
        return lock
    }()
    // Safety: read and written only with `linesLock` held (DWARFLines is not thread-safe either).
    nonisolated(unsafe) private static var lineTables: [String: DWARFLines?] = [:]

    /// The file and line of `pc` in `module`, from its DWARF (addresses there are module-relative: pc − bias).
    private static func sourceLine(_ pc: UInt64, module: String, bias: UInt64) -> (file: String, line: Int)? {
        guard pc >= bias else { return nil }
        gort_lock(linesLock)
        defer { gort_unlock(linesLock) }
        let table: DWARFLines?
        if let known = lineTables[module] {
            table = known
        } else {
            table = DWARFLines(path: module)
            lineTables[module] = .some(table)  // a module without DWARF is remembered too
        }
        return table?.line(at: pc - bias)
    }

    /// dladdr names the executable by argv[0] (often relative) or "": use its real path, as the trace's
    /// module map does.
    private static func resolvedModulePath(_ path: String) -> String {
        if !path.isEmpty, path.hasPrefix("/"), !path.hasSuffix("/") { return path }
        gort_lock(lock)
        defer { gort_unlock(lock) }
        if let executablePath { return executablePath }
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let resolved = count > 0 ? String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : path
        executablePath = resolved
        return resolved
    }

    /// The readable form of a mangled Swift symbol; other names unchanged.
    static func demangle(_ name: String) -> String {
        guard name.hasPrefix("$s") || name.hasPrefix("_$s") || name.hasPrefix("$S") else { return name }
        let demangled = name.withCString { cName in
            // Safety: swift_demangle reads the name as a C string whatever length it is given (its
            // isSwiftSymbol check runs strlen: AddressSanitizer caught it reading past an unterminated
            // buffer), so it gets withCString's NUL-terminated copy, alive for the call; it returns a fresh
            // malloc'ed string (freed below).
            swift_demangle(cName, name.utf8.count, nil, nil, 0)
        }
        guard let demangled else { return name }
        defer { free(demangled) }
        return String(cString: demangled)
    }

    /// The executable's path and the loaded modules' ranges, for pprof's mappings.
    static func modules() -> [(path: String, base: UInt64, buildID: String)] {
        final class Collector {
            var modules: [(String, UInt64, String)] = []
        }
        let collector = Collector()
        gort_modules_visit({ context, path, bias, buildID in
            // Safety: context is the Collector passed below, alive for the whole call.
            let collector = Unmanaged<Collector>.fromOpaque(context!).takeUnretainedValue()
            collector.modules.append((String(cString: path!), UInt64(bias), String(cString: buildID!)))
        }, Unmanaged.passUnretained(collector).toOpaque())
        return collector.modules.map { (path: $0.0, base: $0.1, buildID: $0.2) }
    }
}
