import GoSymbolize
import Testing

/// A function whose address the test resolves; `@inline(never)` keeps it a real symbol.
@inline(never)
func symbolizerProbe(_ value: Int32) -> Int32 { value &* 3 &+ 1 }

@Suite struct SymbolizerTests {
    @Test func resolvesASwiftFunctionOfThisBinaryToItsDemangledName() throws {
        let probe: @convention(c) (Int32) -> Int32 = { symbolizerProbe($0) }
        // The closure is a thunk; resolve the thunk's address and check the name points into this module.
        let address = UInt64(UInt(bitPattern: unsafeBitCast(probe, to: UnsafeRawPointer.self)))
        let symbolizer = Symbolizer.currentProcess()
        let location = try #require(symbolizer.locate(address + 1))
        #expect(location.modulePath.hasSuffix(".xctest") || location.modulePath.contains("PackageTests"))
        let symbol = try #require(location.symbol)
        #expect(symbol.contains("SymbolizerTests"), "got \(symbol)")
        #expect(location.symbolOffset == 1)
        #expect(symbolizer.describe(address).hasPrefix(symbol))
    }

    @Test func unknownAddressesPrintAsHex() {
        let symbolizer = Symbolizer()
        #expect(symbolizer.describe(0x1234) == "0x1234")
        symbolizer.addModule(path: "/nonexistent/libnothing.so", loadBias: 0x7000_0000)
        // An unreadable module still gives the stable module+offset near its load bias (locateInUnreadableModule).
        #expect(symbolizer.describe(0x7000_0010) == "libnothing.so+0x10")
        #expect(symbolizer.frame(returnAddress: 0x7000_0010).moduleOffset == 0x10)
        #expect(symbolizer.describe(0x1_7000_0010) == "0x170000010")
    }

    @Test func demanglesSwiftNames() {
        #expect(Demangler.demangle("$sSi1poiyS2i_SitFZ") == "static Swift.Int.+ infix(Swift.Int, Swift.Int) -> Swift.Int")
        #expect(Demangler.demangle("memcpy") == "memcpy")
    }
}
