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
//
// Separate debug files: a binary stripped with `objcopy --only-keep-debug` + `--add-gnu-debuglink` has no
// `.symtab`, only `.dynsym`, so its static functions would resolve to the nearest exported one. When a file
// has no `.symtab`, its symbols are merged with those of its debug file, found where gdb looks:
// `/usr/lib/debug/.build-id/xx/rest.debug` (GNU build id), then the `.gnu_debuglink` name beside the file,
// in `.debug/` beside it, and under `/usr/lib/debug/<directory>/`. (The link's CRC is not checked: a stale
// debug file gives stale names, never a crash — lookups stay bounded by the binary's own segments.)

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

    private static let typeNone: UInt8 = 0  // STT_NOTYPE
    private static let typeFunction: UInt8 = 2  // STT_FUNC
    private static let typeGnuIndirect: UInt8 = 10  // STT_GNU_IFUNC
    private static let sectionSymtab: UInt32 = 2  // SHT_SYMTAB
    private static let sectionDynsym: UInt32 = 11  // SHT_DYNSYM
    private static let segmentLoad: UInt32 = 1  // PT_LOAD

    /// Reads `path`; nil if it cannot be opened or is not ELF.
    public convenience init?(path: String) { self.init(path: path, followDebugLink: true) }

    private init?(path: String, followDebugLink: Bool) {
        _ = elf_version(UInt32(EV_CURRENT))
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        guard let elf = elf_begin(descriptor, ELF_C_READ, nil) else { return nil }
        defer { elf_end(elf) }
        guard elf_kind(elf) == ELF_K_ELF else { return nil }
        readSegments(elf)
        var namesIndex = 0
        let haveNames = elf_getshdrstrndx(elf, &namesIndex) == 0
        var sawSymtab = false
        var debugLink: String?
        var buildID: [UInt8] = []
        var section = elf_nextscn(elf, nil)
        while let current = section {
            var header = GElf_Shdr()
            if gelf_getshdr(current, &header) != nil {
                if header.sh_type == ELFSymbolTable.sectionSymtab || header.sh_type == ELFSymbolTable.sectionDynsym {
                    if header.sh_type == ELFSymbolTable.sectionSymtab { sawSymtab = true }
                    readSymbols(elf, current, header)
                } else if haveNames, let name = elf_strptr(elf, namesIndex, Int(header.sh_name)) {
                    switch String(cString: name) {
                    case ".gnu_debuglink": debugLink = ELFSymbolTable.sectionBytes(current).flatMap(ELFSymbolTable.cString)
                    case ".note.gnu.build-id": buildID = ELFSymbolTable.buildID(fromNote: ELFSymbolTable.sectionBytes(current) ?? [])
                    default: break
                    }
                }
            }
            section = elf_nextscn(elf, current)
        }
        self.buildID = buildID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        if followDebugLink && !sawSymtab {
            for candidate in ELFSymbolTable.debugFileCandidates(for: path, link: debugLink, buildID: buildID)
            where access(candidate, R_OK) == 0 {
                if let debug = ELFSymbolTable(path: candidate, followDebugLink: false), debug.entries.count > 0 {
                    entries += debug.entries
                    debugFilePath = candidate
                    break
                }
            }
        }
        entries.sort { $0.address < $1.address }
    }

    /// The file's GNU build id in lowercase hex ("" if it has none).
    public private(set) var buildID = ""

    /// The separate debug file whose symbols were merged in, if any.
    public private(set) var debugFilePath: String?

    static func debugFileCandidates(for path: String, link: String?, buildID: [UInt8]) -> [String] {
        var candidates: [String] = []
        if buildID.count >= 2 {
            let hex = buildID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
            candidates.append("/usr/lib/debug/.build-id/\(hex[0])/\(hex[1...].joined()).debug")
        }
        if let link, !link.isEmpty, !link.contains("/") {
            let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            candidates += [directory + "/" + link, directory + "/.debug/" + link, "/usr/lib/debug" + directory + "/" + link]
        }
        return candidates.filter { $0 != path }
    }

    private static func sectionBytes(_ section: OpaquePointer) -> [UInt8]? {
        guard let data = elf_getdata(section, nil), let buffer = data.pointee.d_buf, data.pointee.d_size > 0 else {
            return nil
        }
        // Safety: libelf guarantees `d_size` bytes at `d_buf` while the Elf handle is open.
        return Array(UnsafeRawBufferPointer(start: buffer, count: Int(data.pointee.d_size)))
    }

    private static func cString(_ bytes: [UInt8]) -> String? {
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// The descriptor of an ELF note of type NT_GNU_BUILD_ID (3) named "GNU".
    static func buildID(fromNote bytes: [UInt8]) -> [UInt8] {
        func word(_ at: Int) -> Int {
            Int(bytes[at]) | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2]) << 16 | Int(bytes[at + 3]) << 24
        }
        var offset = 0
        while offset + 12 <= bytes.count {
            let (nameSize, descriptorSize, type) = (word(offset), word(offset + 4), word(offset + 8))
            let nameStart = offset + 12
            let descriptorStart = nameStart + (nameSize + 3) & ~3
            let next = descriptorStart + (descriptorSize + 3) & ~3
            guard nameSize >= 0, descriptorSize >= 0, descriptorStart + descriptorSize <= bytes.count else { return [] }
            if type == 3 && nameSize == 4 && bytes[nameStart..<nameStart + 3].elementsEqual(Array("GNU".utf8)) {
                return Array(bytes[descriptorStart..<descriptorStart + descriptorSize])
            }
            offset = next
        }
        return []
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

    /// The first symbol (lowest address) whose mangled name satisfies `predicate`: for tests and tools that
    /// need a known function's address.
    public func firstSymbol(where predicate: (String) -> Bool) -> (name: String, address: UInt64, size: UInt64)? {
        entries.first { predicate($0.name) }.map { ($0.name, $0.address, $0.size) }
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
        // Safety: swift_demangle reads the name as a C string whatever length it is given (its isSwiftSymbol
        // check runs strlen), so it gets withCString's NUL-terminated copy, alive for the call.
        guard let demangled = name.withCString({ swift_demangle($0, name.utf8.count, nil, nil, 0) }) else { return name }
        defer { free(demangled) }
        return String(cString: demangled)
    }
}
