import Foundation
import GoTraceShared
import GotraceTestSupport
import Testing

/// gotrace's one JSON writer (GoTracePluginKit/JSONWriter.swift) and its one escaper
/// (`ByteWriter.appendJSONString`): known answers written out by hand from RFC 8259, and Foundation's parser
/// (not ours) reading back what the writer wrote.
@Suite struct JSONWriterTests {
    @Test("strings: quote, backslash, the short escapes, other control characters as \\u00XX, the rest verbatim")
    func escaping() {
        #expect(JSON.quote("plain") == #""plain""#)
        #expect(JSON.quote(#"say "hi" \ bye"#) == #""say \"hi\" \\ bye""#)
        #expect(JSON.quote("a\nb\rc\td") == #""a\nb\rc\td""#)
        #expect(JSON.quote("\u{0}\u{1}\u{1f}") == #""\u0000\u0001\u001f""#)
        #expect(JSON.quote("é → 🧵 </script>") == "\"é → 🧵 </script>\"")
        #expect(JSON.quote("\u{7f}") == "\"\u{7f}\"", "DEL is not a control character to JSON")
    }

    @Test("the writer places every comma and colon: nested objects and arrays, empty ones, every value kind")
    func structure() {
        var json = JSONWriter()
        json.beginObject()
        json.key("n")
        json.value(UInt64.max)
        json.key("negative")
        json.value(Int64.min)
        json.key("empty")
        json.beginArray()
        json.endArray()
        json.key("nested")
        json.beginArray()
        json.beginObject()
        json.endObject()
        json.beginArray()
        json.value(1)
        json.value(2)
        json.endArray()
        json.value("x")
        json.null()
        json.value(true)
        json.value(2.5, decimals: 1)
        json.encoded("12.3")
        json.endArray()
        json.key("last")
        json.value(false)
        json.endObject()
        #expect(json.text == #"{"n":18446744073709551615,"negative":-9223372036854775808,"empty":[],"#
            + #""nested":[{},[1,2],"x",null,true,2.5,12.3],"last":false}"#)
    }

    @Test("what the writer writes, Foundation parses back to the same values (seeded random strings)")
    func foundationReadsItBack() throws {
        var generator = SeededGenerator(state: 20_261_207)
        print("JSONWriterTests seed 20261207")
        var strings: [String] = []
        for _ in 0..<200 {
            let length = Int.random(in: 0..<24, using: &generator)
            var text = ""
            for _ in 0..<length {
                // Control characters, ASCII punctuation, Latin-1, and astral scalars: every escaping branch.
                let pools: [ClosedRange<UInt32>] = [0...0x1f, 0x20...0x7f, 0xa0...0x17f, 0x1f300...0x1f5ff]
                let pool = pools[Int.random(in: 0..<pools.count, using: &generator)]
                text.unicodeScalars.append(Unicode.Scalar(UInt32.random(in: pool, using: &generator))!)
            }
            strings.append(text)
        }
        var json = JSONWriter()
        json.beginObject()
        json.key("strings")
        json.beginArray()
        for text in strings { json.value(text) }
        json.endArray()
        json.endObject()
        let parsed = try JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any]
        let back = try #require(parsed?["strings"] as? [String])
        #expect(back == strings)
    }
}
