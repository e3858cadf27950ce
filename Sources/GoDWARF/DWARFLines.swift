// Source file and line for an address, from a module's DWARF line table (libdw, loaded by LibDW.swift).
//
// Design note
// -----------
// One `DWARFLines` per module file, opened on the first address that needs it and kept for the process
// (as the symbol tables are). Look-ups take the module-relative address (address − load bias), which is
// what DWARF addresses are for a position-independent image. Results are cached per address: a report
// resolves the same few thousand return addresses over and over. A module without DWARF (stripped, or
// built without -g), or a system without libdw, answers nil for everything; nothing here trusts the file —
// libdw validates it, and a failed open or look-up is just "no line". Not thread-safe: each user keeps its
// own instances or serialises its look-ups (the symbolizer is not shared across threads; the runtime takes a
// lock).
#if canImport(Glibc)
import Glibc
#endif

public final class DWARFLines: @unchecked Sendable {
    private let library: LibDW
    private let descriptor: Int32
    // Safety: owned by this object, released in deinit; used from one thread at a time (see above).
    private let dwarf: OpaquePointer
    /// Scratch for one `Dwarf_Die` (LibDW.dieSize bytes), reused by every look-up.
    private let die: UnsafeMutableRawPointer
    private var cache: [UInt64: (file: String, line: Int)?] = [:]

    /// Opens `path`'s DWARF; nil when the file cannot be read, carries no debug information, or libdw is
    /// not installed.
    public init?(path: String) {
        guard let library = LibDW.shared else { return nil }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard let dwarf = library.begin(descriptor, LibDW.commandRead) else {
            close(descriptor)
            return nil
        }
        self.library = library
        self.descriptor = descriptor
        self.dwarf = dwarf
        die = .allocate(byteCount: LibDW.dieSize, alignment: 16)
    }

    /// Compile units by address range, built on first use. Swift and clang emit no `.debug_aranges`, so
    /// `dwarf_addrdie` finds nothing; the units' own DW_AT_low_pc/high_pc/ranges say what they cover.
    private var units: [(range: Range<UInt64>, offset: UInt64)]?

    /// Points `die` at the unit that covers `address`.
    private func findUnit(containing address: UInt64) -> Bool {
        if library.addrDie(dwarf, address, die) != nil { return true }
        if units == nil { units = readUnitRanges() }
        guard let match = units?.first(where: { $0.range.contains(address) }) else { return false }
        return library.offDie(dwarf, match.offset, die) != nil
    }

    private func readUnitRanges() -> [(range: Range<UInt64>, offset: UInt64)] {
        var result: [(range: Range<UInt64>, offset: UInt64)] = []
        var offset: UInt64 = 0
        var next: UInt64 = 0
        var headerSize = 0
        // A bounded walk: a hostile file cannot keep us here (libdw checks each header).
        var remaining = 1_000_000
        while remaining > 0, library.nextUnit(dwarf, offset, &next, &headerSize, nil, nil, nil) == 0 {
            remaining -= 1
            let unitOffset = offset + UInt64(headerSize)
            if library.offDie(dwarf, unitOffset, die) != nil {
                var base: UInt64 = 0
                var start: UInt64 = 0
                var end: UInt64 = 0
                var cursor = 0
                var guardCount = 100_000
                while guardCount > 0 {
                    guardCount -= 1
                    cursor = library.ranges(die, cursor, &base, &start, &end)
                    if cursor <= 0 { break }
                    if end > start { result.append((start..<end, unitOffset)) }
                }
            }
            offset = next
        }
        return result
    }

    deinit {
        _ = library.end(dwarf)
        close(descriptor)
        die.deallocate()
    }

    /// The source file and line of the instruction at `offset` (module-relative), if DWARF says.
    public func line(at offset: UInt64) -> (file: String, line: Int)? {
        if let known = cache[offset] { return known }
        var answer: (file: String, line: Int)?
        if findUnit(containing: offset), let line = library.sourceLine(die, offset) {
            var number: Int32 = 0
            if library.lineNumber(line, &number) == 0, number > 0, let source = library.lineSource(line, nil, nil) {
                answer = (String(cString: source), Int(number))
            }
        }
        cache[offset] = answer
        return answer
    }
}
