import Foundation
import Testing
@testable import GoTrace

/// docs/trace-format.md must stay true to the code: its kind table lists exactly the built-in kinds.
@Suite struct DocumentationTests {
    @Test func specListsEveryKindWithItsCode() throws {
        let url = BuiltProducts.packageRoot.appendingPathComponent("docs/trace-format.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        var documented: [String: UInt8] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, let code = UInt8(cells[0]), cells[1].hasPrefix("`") else { continue }
            documented[cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = code
        }
        let actual = Dictionary(uniqueKeysWithValues: EventKindSpec.builtIn.map { ($0.name, $0.kind.rawValue) })
        #expect(documented == actual)
    }

    @Test func specStatesTheHeaderSizes() throws {
        let url = BuiltProducts.packageRoot.appendingPathComponent("docs/trace-format.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("## 3. File header (\(FileHeader.encodedSize) bytes in version \(traceFormatVersion))"))
        #expect(text.contains("## 4. Chunk header (\(ChunkHeader.encodedSize) bytes in version \(traceFormatVersion))"))
    }
}
