// Addresses to frames: module map, per-module symbol tables, demangled names.
//
// Design note
// -----------
// The runtime records each loaded module (`module` events: path, load bias, build id) and stacks as raw
// return addresses. A module covers `bias + vaddr ..< bias + vaddr + memsz` for each of its `PT_LOAD`
// segments, read from the file when the module is added (cheap: program headers only). A module whose
// file cannot be read covers nothing; `describe` attributes an address to the nearest unreadable module
// loaded below it (`module+0xoffset`, stable across runs and machines), else prints it as bare hex.
//
// Symbol tables are loaded on the first address that falls in the module and cached for the process.
// A frame reads `demangled-name + 0xoffset (module-file-name)`; without a symbol, `module-file-name+0xoffset`
// (offset from the load bias, what `addr2line -e module` takes); outside every module, `0xaddress`.
// Nothing here traps on an unknown or hostile address. Source lines come from GoDWARF's DWARFLines, the one
// DWARF reader (the runtime's own dumps use it too).
import GoDWARF

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
        /// False when the file's build id differs from the recorded one.
        public var symbolsTrusted = true
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

    /// A return address resolved for profiles: the symbol of the call instruction, not of what follows it.
    public struct Frame: Sendable, Equatable {
        public var address: UInt64
        /// Demangled; nil if the address has no symbol.
        public var function: String?
        public var functionOffset: UInt64
        public var modulePath: String?
        public var buildID: String?
        /// Address − load bias (the `module+0xoffset` of unknown frames).
        public var moduleOffset: UInt64
        /// Lowest and highest absolute address the module occupies (0 ..< 0 outside every module).
        public var moduleStart: UInt64
        public var moduleLimit: UInt64
        /// Source file and line of the call, from the module's DWARF (nil / 0 without debug information).
        public var file: String? = nil
        public var line: Int = 0
    }

    public private(set) var modules: [Module] = []
    private var tables: [String: ELFSymbolTable?] = [:]
    private var lineTables: [String: DWARFLines?] = [:]

    /// The module's DWARF line table, opened once (nil: none).
    func lines(for path: String) -> DWARFLines? {
        if let known = lineTables[path] { return known }
        let opened = DWARFLines(path: path)
        lineTables[path] = opened
        return opened
    }

    public init() {}

    /// Adds a module loaded at `loadBias`; its address ranges come from the file's program headers.
    ///
    /// If the trace names a build id and the file on disk has a different one (the program was rebuilt since
    /// it was recorded), the file's symbols would name the wrong functions: the module keeps its address
    /// ranges but resolves to `module+0xoffset` only, and `mismatchedModules` lists it.
    public func addModule(path: String, loadBias: UInt64, buildID: String? = nil) {
        let table = self.table(for: path)
        let segments = table?.segments ?? []
        var trusted = true
        if let buildID, !buildID.isEmpty, let table, !table.buildID.isEmpty, table.buildID != buildID.lowercased() {
            trusted = false
            mismatchedModules.append(path)
        }
        let ranges = segments.compactMap { segment -> Range<UInt64>? in
            let (start, overflow) = loadBias.addingReportingOverflow(segment.virtualAddress)
            let (end, overflowEnd) = start.addingReportingOverflow(segment.memorySize)
            return overflow || overflowEnd || end <= start ? nil : start..<end
        }
        modules.append(Module(path: path, loadBias: loadBias, buildID: buildID, ranges: ranges, symbolsTrusted: trusted))
    }

    /// Modules whose file on disk has a different build id than the trace recorded (their symbols are not used).
    public private(set) var mismatchedModules: [String] = []

    /// The modules mapped into this process, from /proc/self/maps (the bias of each file is where its
    /// offset-0 mapping starts minus the virtual address of its first segment).
    public static func currentProcess() -> Symbolizer {
        let symbolizer = Symbolizer()
        guard let file = fopen("/proc/self/maps", "r") else { return symbolizer }
        defer { fclose(file) }
        var seen: Set<String> = []
        var line = [CChar](repeating: 0, count: 4096)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = line.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.trimmingCharacters(in: [" ", "\n"])
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
        if module.symbolsTrusted, let (name, symbolOffset) = table(for: module.path)?.symbol(at: offset) {
            location.symbol = Demangler.demangle(name)
            location.symbolOffset = symbolOffset
        }
        return location
    }

    /// Resolves a return address as found in a stack: looked up at `address - 1`, which lies inside the
    /// call instruction — a call that is the last instruction of a function (a `noreturn` callee) returns
    /// to the first byte of the next symbol, and `address` itself would name the wrong function.
    public func frame(returnAddress address: UInt64) -> Frame {
        var frame = Frame(address: address, function: nil, functionOffset: 0, modulePath: nil, buildID: nil,
                          moduleOffset: 0, moduleStart: 0, moduleLimit: 0)
        let probe = address == 0 ? 0 : address - 1
        guard let module = modules.last(where: { module in module.ranges.contains { $0.contains(probe) } }) else {
            if let unreadable = locateInUnreadableModule(probe) {
                frame.modulePath = unreadable.modulePath
                frame.moduleOffset = unreadable.offset + 1
            }
            return frame
        }
        frame.modulePath = module.path
        frame.buildID = module.buildID
        frame.moduleOffset = address &- module.loadBias
        frame.moduleStart = module.ranges.map(\.lowerBound).min() ?? 0
        frame.moduleLimit = module.ranges.map(\.upperBound).max() ?? 0
        if module.symbolsTrusted, let (name, offset) = table(for: module.path)?.symbol(at: probe &- module.loadBias) {
            frame.function = Demangler.demangle(name)
            frame.functionOffset = offset + 1
            if let source = lines(for: module.path)?.line(at: probe &- module.loadBias) {
                frame.file = source.file
                frame.line = source.line
            }
        }
        return frame
    }

    /// One frame as text (see the design note).
    public func describe(_ address: UInt64) -> String {
        guard let location = locate(address) ?? locateInUnreadableModule(address) else {
            return "0x" + String(address, radix: 16)
        }
        let file = location.modulePath.split(separator: "/").last.map(String.init) ?? location.modulePath
        if let symbol = location.symbol {
            let text = "\(symbol) + 0x\(String(location.symbolOffset, radix: 16)) (\(file))"
            // The line of the call: the return address minus one is inside the call instruction.
            guard location.offset > 0, let source = lines(for: location.modulePath)?.line(at: location.offset - 1) else {
                return text
            }
            return text + " at \(source.file):\(source.line)"
        }
        return "\(file)+0x\(String(location.offset, radix: 16))"
    }
}

extension Symbolizer {
    /// For a module whose file is gone (a trace read on another machine, a rebuilt binary's temporary
    /// copy): the unreadable module loaded nearest below `address`, if no readable module starts between
    /// them and the offset is plausible for one image (< 1 GiB). Gives the stable `module+0xoffset` instead
    /// of an address that changes with every run's ASLR.
    func locateInUnreadableModule(_ address: UInt64) -> Location? {
        guard let nearest = modules.filter({ $0.loadBias <= address }).max(by: { $0.loadBias < $1.loadBias }),
              nearest.ranges.isEmpty, address &- nearest.loadBias < 1 << 30 else { return nil }
        return Location(modulePath: nearest.path, offset: address &- nearest.loadBias, symbol: nil, symbolOffset: 0)
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
