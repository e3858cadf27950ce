// Source file and line for an address, from a module's DWARF line table (libdw).
//
// Design note
// -----------
// One `DWARFLines` per module file, opened on the first address that needs it and kept for the process
// (as the symbol tables are). Look-ups take the module-relative address (address − load bias), which is
// what DWARF addresses are for a position-independent image. Results are cached per address: a report
// resolves the same few thousand return addresses over and over. A module without DWARF (stripped, or
// built without -g) answers nil for everything; nothing here trusts the file — libdw validates it, and a
// failed open or look-up is just "no line".
import CLibElf

#if canImport(Glibc)
import Glibc
#endif

public final class DWARFLines: @unchecked Sendable {
    private let descriptor: Int32
    // Safety: owned by this object, released in deinit; libdw is used from one thread at a time (the
    // symbolizer is not shared across threads).
    private let dwarf: OpaquePointer
    private var cache: [UInt64: (file: String, line: Int)?] = [:]

    /// Opens `path`'s DWARF; nil when the file cannot be read or carries no debug information.
    public init?(path: String) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        guard let dwarf = dwarf_begin(descriptor, DWARF_C_READ) else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        self.dwarf = dwarf
    }

    /// Compile units by address range, built on first use. Swift and clang emit no `.debug_aranges`, so
    /// `dwarf_addrdie` finds nothing; the units' own DW_AT_low_pc/high_pc/ranges say what they cover.
    private var units: [(range: Range<UInt64>, offset: Dwarf_Off)]?

    private func findUnit(containing address: UInt64, _ unit: inout Dwarf_Die) -> Bool {
        if dwarf_addrdie(dwarf, Dwarf_Addr(address), &unit) != nil { return true }
        if units == nil { units = readUnitRanges() }
        guard let match = units?.first(where: { $0.range.contains(address) }) else { return false }
        return dwarf_offdie(dwarf, match.offset, &unit) != nil
    }

    private func readUnitRanges() -> [(range: Range<UInt64>, offset: Dwarf_Off)] {
        var result: [(range: Range<UInt64>, offset: Dwarf_Off)] = []
        var offset: Dwarf_Off = 0
        var next: Dwarf_Off = 0
        var headerSize = 0
        // A bounded walk: a hostile file cannot keep us here (libdw checks each header).
        var remaining = 1_000_000
        while remaining > 0, dwarf_nextcu(dwarf, offset, &next, &headerSize, nil, nil, nil) == 0 {
            remaining -= 1
            var die = Dwarf_Die()
            if dwarf_offdie(dwarf, offset + Dwarf_Off(headerSize), &die) != nil {
                var base: Dwarf_Addr = 0
                var start: Dwarf_Addr = 0
                var end: Dwarf_Addr = 0
                var cursor: Int = 0
                var guardCount = 100_000
                while guardCount > 0 {
                    guardCount -= 1
                    cursor = Int(dwarf_ranges(&die, cursor, &base, &start, &end))
                    if cursor <= 0 { break }
                    if end > start { result.append((UInt64(start)..<UInt64(end), offset + Dwarf_Off(headerSize))) }
                }
            }
            offset = next
        }
        return result
    }

    deinit {
        dwarf_end(dwarf)
        close(descriptor)
    }

    /// The source file and line of the instruction at `offset` (module-relative), if DWARF says.
    public func line(at offset: UInt64) -> (file: String, line: Int)? {
        if let known = cache[offset] { return known }
        var unit = Dwarf_Die()
        var answer: (file: String, line: Int)?
        if findUnit(containing: offset, &unit), let line = dwarf_getsrc_die(&unit, Dwarf_Addr(offset)) {
            var number: Int32 = 0
            if dwarf_lineno(line, &number) == 0, number > 0, let source = dwarf_linesrc(line, nil, nil) {
                answer = (String(cString: source), Int(number))
            }
        }
        cache[offset] = answer
        return answer
    }
}
