import Testing
@testable import GoTraceGo

@Suite struct GoTraceHeaderTests {
    func header(_ text: String) -> [UInt8] { Array(text.utf8) + [UInt8](repeating: 0, count: max(0, 16 - text.utf8.count)) }

    @Test func supportedVersions() {
        #expect(GoTraceHeader.classify(header("go 1.19 trace")) == .supported(1019))
        #expect(GoTraceHeader.classify(header("go 1.11 trace")) == .supported(1011))
        #expect(GoTraceHeader.classify(header("go 1.21 trace")) == .supported(1021))
    }

    @Test func unsupportedAndForeign() {
        #expect(GoTraceHeader.classify(header("go 1.5 trace")) == .unsupported(1005))
        #expect(GoTraceHeader.classify(header("go 1.22 trace")) == .supported(1022))
        #expect(GoTraceHeader.classify(header("go 1.26 trace")) == .supported(1026))
        // Go never wrote these: Go 1.24 writes 1.23, Go 1.27 writes 1.26.
        #expect(GoTraceHeader.classify(header("go 1.24 trace")) == .unsupported(1024))
        #expect(GoTraceHeader.classify(header("go 1.27 trace")) == .unsupported(1027))
        #expect(GoTraceHeader.classify(header("GOTRACE1")) == .notGo)
        #expect(GoTraceHeader.classify([]) == .notGo)
        #expect(GoTraceHeader.classify(Array("go 1.19 trace!!!".utf8)) == .notGo)
    }
}

import GoTracePluginKit

/// Go function names through the profile encoders' name shortening (pprof's short names).
@Suite struct GoFrameNameTests {
    @Test func goMethodNamesStayWhole() {
        #expect(FrameNames.short("sync.(*Mutex).Lock") == "sync.(*Mutex).Lock")
        #expect(FrameNames.short("main.leakRecv.func1") == "main.leakRecv.func1")
        #expect(FrameNames.short("Module.function(a:b:)") == "Module.function")
    }
}
