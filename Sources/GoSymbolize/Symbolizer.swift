// Addresses to frames: module map, per-module symbol tables, demangled names.
//
// Design note
// -----------
// The runtime records each loaded module (`module` events: path, load bias, build id) and stacks as raw
// return addresses. A module covers `bias + vaddr ..< bias + vaddr + memsz` for each of its `PT_LOAD`
// segments, read from the file when the module is added (cheap: program headers only). A module whose
// file cannot be read covers nothing, and its addresses print as bare hex.
//
// Symbol tables are loaded on the first address that falls in the module and cached for the process.
// A frame reads `demangled-name + 0xoffset (module-file-name)`; without a symbol, `module-file-name+0xoffset`
// (offset from the load bias, what `addr2line -e module` takes); outside every module, `0xaddress`.
// Nothing here traps on an unknown or hostile address.

#if canImport(Glibc)
import Glibc
#endif

public final class Symbolizer: @unchecked Sendable {
    public struct Module: Sendable {
        public var path: String
        public var loadBias: UInt64
        public var buildID: String?
        /// Absolute address ranges the module occupies.
        public var ranges: [Range<UInt64>]
    }

    /// A resolved address.
    public struct Location: Sendable, Equatable {
        public var modulePath: String
        /// Address − load bias.
        public var offset: UInt64
        /// Demangled.
        public var symbol: String?
        public var symbolOffset: UInt64
    }

    public private(set) var modules: [Module] = []
    private var tables: [String: ELFSymbolTable?] = [:]

    public init() {}

    /// Adds a module loaded at `loadBias`; its address ranges come from the file's program headers.
    public func addModule(path: String, loadBias: UInt64, buildID: String? = nil) {
        let segments = table(for: path)?.segments ?? []
        let ranges = segments.compactMap { segment -> Range<UInt64>? in
            let (start, overflow) = loadBias.addingReportingOverflow(segment.virtualAddress)
            let (end, overflowEnd) = start.addingReportingOverflow(segment.memorySize)
            return overflow || overflowEnd || end <= start ? nil : start..<end
        }
        modules.append(Module(path: path, loadBias: loadBias, buildID: buildID, ranges: ranges))
    }

    /// The modules mapped into this process, from /proc/self/maps (the bias of each file is where its
    /// offset-0 mapping starts minus the virtual address of its first segment).
    public static func currentProcess() -> Symbolizer {
        let symbolizer = Symbolizer()
        guard let file = fopen("/proc/self/maps", "r") else { return symbolizer }
        defer { fclose(file) }
        var seen: Set<String> = []
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line).trimmingCharacters(in: [" ", "\n"])
            let fields = text.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].hasPrefix("/"), let dash = fields[0].firstIndex(of: "-"),
                  let start = UInt64(fields[0][..<dash], radix: 16), let offset = UInt64(fields[2], radix: 16),
                  offset == 0
            else { continue }
            let path = fields[5...].joined(separator: " ")
            guard seen.insert(path).inserted, let table = symbolizer.table(for: path) else { continue }
            let firstAddress = table.segments.map(\.virtualAddress).min() ?? 0
            let pageMask: UInt64 = ~0xfff
            symbolizer.addModule(path: path, loadBias: start &- (firstAddress & pageMask))
        }
        return symbolizer
    }

    private func table(for path: String) -> ELFSymbolTable? {
        if let cached = tables[path] { return cached }
        let loaded = ELFSymbolTable(path: path)
        tables[path] = loaded
        return loaded
    }

    public func locate(_ address: UInt64) -> Location? {
        guard let module = modules.last(where: { module in module.ranges.contains { $0.contains(address) } }) else {
            return nil
        }
        let offset = address &- module.loadBias
        var location = Location(modulePath: module.path, offset: offset, symbol: nil, symbolOffset: 0)
        if let (name, symbolOffset) = table(for: module.path)?.symbol(at: offset) {
            location.symbol = Demangler.demangle(name)
            location.symbolOffset = symbolOffset
        }
        return location
    }

    /// One frame as text (see the design note).
    public func describe(_ address: UInt64) -> String {
        guard let location = locate(address) else { return "0x" + String(address, radix: 16) }
        let file = location.modulePath.split(separator: "/").last.map(String.init) ?? location.modulePath
        if let symbol = location.symbol {
            return "\(symbol) + 0x\(String(location.symbolOffset, radix: 16)) (\(file))"
        }
        return "\(file)+0x\(String(location.offset, radix: 16))"
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
