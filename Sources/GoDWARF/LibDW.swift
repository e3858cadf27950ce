// LibDW.swift — elfutils' libdw, loaded the first time a line table is wanted (`dlopen("libdw.so.1")`)
// rather than linked.
//
// Design note
// -----------
// Two sides name source lines: the analysis side (GoSymbolize, for a trace's modules) and the running
// program's own diagnostics (GoRuntime: goroutine dumps, the debug server's profiles). Both use the one
// reader in DWARFLines.swift. GoRuntime must not make every program link libdw (and need its headers to
// build): a program that never dumps a goroutine or serves a profile should not even load it. So the
// library is opened on demand, and its absence means "no line", like a module without DWARF.
// Rejected: linking libdw into GoRuntime (every consumer then needs libdw-dev to build); a second, smaller
// DWARF line-program reader in the runtime (two readers of one format to keep correct); a C shim target
// (the nine calls need no C: their types are declared here, from libdw.h's prototypes).
// `Dwarf_Die` is a 32-byte struct in libdw's ABI (`libdw.so.1` since elfutils 0.131); callers pass
// `dieSize` bytes of their own, twice that, so the declaration here never has to spell its fields.
#if canImport(Glibc)
import Glibc
#endif

/// The libdw entry points DWARFLines uses, with libdw.h's signatures. Addresses and offsets are `Dwarf_Addr`
/// and `Dwarf_Off` (both `uint64_t`); a `Dwarf *` and a `Dwarf_Line *` are opaque.
struct LibDW: @unchecked Sendable {
    /// Room for one `Dwarf_Die` (32 bytes in libdw's ABI), with a margin.
    static let dieSize = 64
    /// `DWARF_C_READ`.
    static let commandRead: Int32 = 0

    let begin: @convention(c) (Int32, Int32) -> OpaquePointer?
    let end: @convention(c) (OpaquePointer?) -> Int32
    let addrDie: @convention(c) (OpaquePointer?, UInt64, UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
    let offDie: @convention(c) (OpaquePointer?, UInt64, UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
    let nextUnit: @convention(c) (OpaquePointer?, UInt64, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<Int>?,
                                  UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt8>?,
                                  UnsafeMutablePointer<UInt8>?) -> Int32
    let ranges: @convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt64>?,
                                UnsafeMutablePointer<UInt64>?) -> Int
    let sourceLine: @convention(c) (UnsafeMutableRawPointer?, UInt64) -> OpaquePointer?
    let lineNumber: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?) -> Int32
    let lineSource: @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt64>?)
        -> UnsafePointer<CChar>?

    /// The library, or nil when it is not installed (then nothing has lines).
    static let shared: LibDW? = load()

    private static func load() -> LibDW? {
        // RTLD_LOCAL: its symbols stay out of the program's namespace; never closed, like the plugins.
        guard let handle = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<Function>(_ name: String, _: Function.Type) -> Function? {
            // Safety: each name is looked up with the type libdw.h declares for it.
            dlsym(handle, name).map { unsafeBitCast($0, to: Function.self) }
        }
        guard let begin = symbol("dwarf_begin", (@convention(c) (Int32, Int32) -> OpaquePointer?).self),
              let end = symbol("dwarf_end", (@convention(c) (OpaquePointer?) -> Int32).self),
              let addrDie = symbol("dwarf_addrdie", (@convention(c) (OpaquePointer?, UInt64, UnsafeMutableRawPointer?)
                  -> UnsafeMutableRawPointer?).self),
              let offDie = symbol("dwarf_offdie", (@convention(c) (OpaquePointer?, UInt64, UnsafeMutableRawPointer?)
                  -> UnsafeMutableRawPointer?).self),
              let nextUnit = symbol("dwarf_nextcu", (@convention(c) (OpaquePointer?, UInt64, UnsafeMutablePointer<UInt64>?,
                  UnsafeMutablePointer<Int>?, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt8>?,
                  UnsafeMutablePointer<UInt8>?) -> Int32).self),
              let ranges = symbol("dwarf_ranges", (@convention(c) (UnsafeMutableRawPointer?, Int, UnsafeMutablePointer<UInt64>?,
                  UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<UInt64>?) -> Int).self),
              let sourceLine = symbol("dwarf_getsrc_die", (@convention(c) (UnsafeMutableRawPointer?, UInt64)
                  -> OpaquePointer?).self),
              let lineNumber = symbol("dwarf_lineno", (@convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?)
                  -> Int32).self),
              let lineSource = symbol("dwarf_linesrc", (@convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>?,
                  UnsafeMutablePointer<UInt64>?) -> UnsafePointer<CChar>?).self)
        else { return nil }
        return LibDW(begin: begin, end: end, addrDie: addrDie, offDie: offDie, nextUnit: nextUnit, ranges: ranges,
                     sourceLine: sourceLine, lineNumber: lineNumber, lineSource: lineSource)
    }
}
