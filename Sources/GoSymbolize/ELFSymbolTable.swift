// Function symbols of one ELF file, read with libelf.
//
// Design note
// -----------
// Both `.symtab` (absent from stripped binaries) and `.dynsym` (all a shared library like libc has) are
// read; their function and untyped symbols are merged into one array sorted by address. Lookup is a
// binary search for the last symbol starting at or below the address; the symbol covers the address if
// its size reaches it — or, for symbols of size 0 (Swift's `main` is one), if no other symbol starts in
// between: a zero-sized symbol extends to the next symbol.
//
// `ELF64_ST_TYPE` is a function-like macro Swift cannot import, so the type is `st_info & 0xf`.
// Names are demangled lazily (at lookup), so loading a large binary costs one pass over its tables.

import CLibElf
#if canImport(Glibc)
import Glibc
#endif

/// One `PT_LOAD` segment: where the module's bytes sit relative to its load bias.
public struct LoadSegment: Sendable, Equatable {
    public var virtualAddress: UInt64
    public var memorySize: UInt64
    public var fileOffset: UInt64
}

public final class ELFSymbolTable: @unchecked Sendable {
    struct Entry {
        var address: UInt64
        var size: UInt64
        var name: String
    }

    private var entries: [Entry] = []
    public private(set) var segments: [LoadSegment] = []
    public var symbolCount: Int { entries.count }

    private static let typeNone: UInt8 = 0  // STT_NOTYPE
    private static let typeFunction: UInt8 = 2  // STT_FUNC
    private static let typeGnuIndirect: UInt8 = 10  // STT_GNU_IFUNC
    private static let sectionSymtab: UInt32 = 2  // SHT_SYMTAB
    private static let sectionDynsym: UInt32 = 11  // SHT_DYNSYM
    private static let segmentLoad: UInt32 = 1  // PT_LOAD

    /// Reads `path`; nil if it cannot be opened or is not ELF.
    public init?(path: String) {
        _ = elf_version(UInt32(EV_CURRENT))
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard let elf = elf_begin(descriptor, ELF_C_READ, nil) else { return nil }
        defer { elf_end(elf) }
        guard elf_kind(elf) == ELF_K_ELF else { return nil }
        readSegments(elf)
        var section = elf_nextscn(elf, nil)
        while let current = section {
            var header = GElf_Shdr()
            if gelf_getshdr(current, &header) != nil,
               header.sh_type == ELFSymbolTable.sectionSymtab || header.sh_type == ELFSymbolTable.sectionDynsym {
                readSymbols(elf, current, header)
            }
            section = elf_nextscn(elf, current)
        }
        entries.sort { $0.address < $1.address }
    }

    private func readSegments(_ elf: OpaquePointer) {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { return }
        for index in 0..<count {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(index), &header) != nil, header.p_type == ELFSymbolTable.segmentLoad else { continue }
            segments.append(LoadSegment(virtualAddress: header.p_vaddr, memorySize: header.p_memsz, fileOffset: header.p_offset))
        }
    }

    private func readSymbols(_ elf: OpaquePointer, _ section: OpaquePointer, _ header: GElf_Shdr) {
        guard header.sh_entsize > 0, let data = elf_getdata(section, nil) else { return }
        let count = Int(header.sh_size / header.sh_entsize)
        for index in 0..<count {
            var symbol = GElf_Sym()
            guard gelf_getsym(data, Int32(index), &symbol) != nil else { continue }
            let type = symbol.st_info & 0xf
            guard type == ELFSymbolTable.typeFunction || type == ELFSymbolTable.typeGnuIndirect
                    || (type == ELFSymbolTable.typeNone && symbol.st_shndx != 0),
                  symbol.st_value != 0,
                  let name = elf_strptr(elf, Int(header.sh_link), Int(symbol.st_name)), name.pointee != 0
            else { continue }
            entries.append(Entry(address: symbol.st_value, size: symbol.st_size, name: String(cString: name)))
        }
    }

    /// The symbol covering `address` (a virtual address of the file, i.e. runtime address − load bias)
    /// and the offset into it.
    public func symbol(at address: UInt64) -> (name: String, offset: UInt64)? {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].address <= address { low = middle + 1 } else { high = middle }
        }
        guard low > 0 else { return nil }
        // Among symbols at the same address prefer one with a size (aliases: a sized one is authoritative).
        var index = low - 1
        while index > 0, entries[index - 1].address == entries[index].address, entries[index].size == 0 { index -= 1 }
        let entry = entries[index]
        let offset = address - entry.address
        if entry.size > 0 {
            guard offset < entry.size else { return nil }
        } else if low < entries.count, entries[low].address <= address {
            return nil
        }
        return (entry.name, offset)
    }
}

/// Swift's demangler, from libswiftCore.
public enum Demangler {
    /// The readable form of `name` if it is a mangled Swift symbol, else `name` unchanged.
    public static func demangle(_ name: String) -> String {
        guard name.hasPrefix("$s") || name.hasPrefix("$S") || name.hasPrefix("_T0") || name.hasPrefix("_$s") else {
            return name
        }
        var utf8 = Array(name.utf8)
        guard let demangled = utf8.withUnsafeMutableBufferPointer({ buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                swift_demangle($0, buffer.count, nil, nil, 0)
            }
        }) else { return name }
        defer { free(demangled) }
        return String(cString: demangled)
    }
}
