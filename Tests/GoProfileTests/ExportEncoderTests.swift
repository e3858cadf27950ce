import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import GoProfile
import Testing

/// The encoders on small hand-made profiles: exact bytes where the format is ours to define, structure where
/// another program reads it.
@Suite struct ExportEncoderTests {
    static func sampleProfile() -> Profile {
        var profile = Profile(name: "block", sampleTypes: [ValueType("delay", "nanoseconds"), ValueType("contentions", "count")])
        let mapping = profile.mapping(ProfileMapping(start: 0x1000, limit: 0x9000, path: "/bin/app", buildID: "abcd"))
        let main = profile.function(ProfileFunction(name: "app.main() -> ()", shortName: "app.main"))
        let work = profile.function(ProfileFunction(name: "app.work(Swift.Int) -> ()", shortName: "app.work"))
        let mainLocation = profile.location(address: 0x1100, function: main, mapping: mapping)
        let workLocation = profile.location(address: 0x2200, function: work, mapping: mapping)
        let reason = profile.syntheticLocation(named: "[chan-receive]")
        profile.samples = [
            ProfileSample(locations: [reason, mainLocation, workLocation], values: [300, 3]),
            ProfileSample(locations: [reason, mainLocation], values: [100, 1]),
            ProfileSample(locations: [reason, mainLocation, workLocation], values: [50, 1]),
        ]
        return profile
    }

    @Test func protobufVarintsAndFields() {
        var writer = ProtobufWriter()
        writer.varint(0)
        writer.varint(127)
        writer.varint(128)
        writer.varint(300)
        writer.varint(UInt64.max)
        #expect(writer.bytes == [0x00, 0x7f, 0x80, 0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
        var fields = ProtobufWriter()
        fields.field(1, UInt64(150))
        fields.field(2, string: "testing")
        fields.field(3, UInt64(0))  // zero scalars are omitted
        fields.packed(4, [3, 270])
        #expect(fields.bytes == [0x08, 0x96, 0x01, 0x12, 0x07] + Array("testing".utf8) + [0x22, 0x03, 0x03, 0x8e, 0x02])
    }

    @Test func foldedStacksSumEqualStacksAndRoundTrip() {
        let text = String(decoding: FoldedStacks.encode(Self.sampleProfile()), as: UTF8.self)
        #expect(text == "[chan-receive];app.main() -> () 100\n[chan-receive];app.main() -> ();app.work(Swift.Int) -> () 350\n")
        let parsed = FoldedStacks.parse(text)
        #expect(parsed.map(\.value) == [100, 350])
        #expect(parsed[1].frames == ["[chan-receive]", "app.main() -> ()", "app.work(Swift.Int) -> ()"])
        #expect(FoldedStacks.sanitize("a;b\nc") == "a:b c")
    }

    @Test func profileInvariantsHold() {
        #expect(Self.sampleProfile().checkInvariants().isEmpty)
        var broken = Self.sampleProfile()
        broken.samples.append(ProfileSample(locations: [99], values: [1]))
        #expect(broken.checkInvariants().count == 2)
    }

    @Test func pprofIsGzipWithStringTableStartingEmpty() throws {
        let profile = Self.sampleProfile()
        let gz = PprofEncoder.encode(profile)
        #expect(gz.starts(with: [0x1f, 0x8b]))  // gzip magic
        let raw = PprofEncoder.protobuf(profile)
        // The first string_table entry (field 6, wire type 2) is the empty string: bytes 0x32 0x00.
        let key: UInt8 = 6 << 3 | 2
        let firstString = try #require(raw.indices.first { raw[$0] == key && raw[$0 + 1] == 0 })
        #expect(firstString > 0)
    }

    @Test func svgIsWellFormedXMLWithTheInteractiveParts() throws {
        let profile = Self.sampleProfile()
        var options = FlameGraphSVG.Options()
        options.title = "block <&> test"
        options.unit = "nanoseconds"
        for inverted in [false, true] {
            options.inverted = inverted
            let svg = FlameGraphSVG.render(FlameNode.tree(FoldedStacks.fold(profile)), options: options)
            let parser = XMLParser(data: Data(svg))
            #expect(parser.parse(), "SVG not well-formed: \(String(describing: parser.parserError))")
            let text = String(decoding: svg, as: UTF8.self)
            #expect(text.contains("<title>app.work(Swift.Int) -&gt; ()</title>"))
            #expect(text.contains("id=\"search\"") && text.contains("Reset zoom") && text.contains("Matched: "))
            #expect(text.contains("e.ctrlKey") && text.contains("addEventListener('click'"))
            #expect(!text.contains("http://") || !text.contains("<script src"))  // self-contained: no external script
            #expect(text.contains("data-inverted=\"\(inverted ? 1 : 0)\""))
        }
    }

    @Test func svgRootIsAtTheBottomUnlessInverted() {
        let tree = FlameNode.tree([(frames: ["a", "b"], value: 10)])
        func rootY(_ inverted: Bool) -> Double {
            var options = FlameGraphSVG.Options()
            options.inverted = inverted
            let text = String(decoding: FlameGraphSVG.render(tree, options: options), as: UTF8.self)
            let root = text.range(of: "id=\"f0\"")!
            let y = text[root.upperBound...].range(of: "y=\"")!
            return Double(text[y.upperBound...].prefix { $0 != "\"" })!
        }
        #expect(rootY(true) < rootY(false))
    }

    @Test func differentialSVGColoursGrowthRedAndShrinkBlue() throws {
        let before = [(frames: ["main", "grows"], value: Int64(10)), (frames: ["main", "shrinks"], value: Int64(90))]
        let after = [(frames: ["main", "grows"], value: Int64(90)), (frames: ["main", "shrinks"], value: Int64(10))]
        let svg = FlameGraphSVG.renderDifferential(before: before, after: after)
        #expect(XMLParser(data: Data(svg)).parse())
        let text = String(decoding: svg, as: UTF8.self)
        func fill(of name: String) -> String {
            let title = text.range(of: "<title>\(name)</title>")!
            let fill = text[title.upperBound...].range(of: "fill=\"")!
            return String(text[fill.upperBound...].prefix { $0 != "\"" })
        }
        #expect(fill(of: "grows") == "rgb(255,55,55)")
        #expect(fill(of: "shrinks") == "rgb(55,55,255)")
        #expect(text.contains("data-b=\"10\""))
    }

    @Test func speedscopeHasSchemaSampledAndBalancedEventedProfiles() throws {
        var profile = Self.sampleProfile()
        let stack = profile.samples[0].locations.map { profile.locations[$0].function }
        profile.tracks = [(name: "g1", spans: [ProfileSpan(start: 10, end: 20, frames: stack),
                                               ProfileSpan(start: 20, end: 30, frames: Array(stack.prefix(2))),
                                               ProfileSpan(start: 40, end: 45, frames: stack)])]
        let json = try #require(JSONSerialization.jsonObject(with: Data(SpeedscopeEncoder.encode(profile))) as? [String: Any])
        #expect(json["$schema"] as? String == "https://www.speedscope.app/file-format-schema.json")
        #expect(json["activeProfileIndex"] as? Int == 0)
        let profiles = try #require(json["profiles"] as? [[String: Any]])
        #expect(profiles.map { $0["type"] as? String } == ["sampled", "evented"])
        let samples = try #require(profiles[0]["samples"] as? [[Int]])
        let weights = try #require(profiles[0]["weights"] as? [Int])
        #expect(samples.count == weights.count && weights.reduce(0, +) == 450)
        let events = try #require(profiles[1]["events"] as? [[String: Any]])
        var open: [Int] = []
        var last = 0
        for event in events {
            let at = try #require(event["at"] as? Int)
            #expect(at >= last)
            last = at
            let frame = try #require(event["frame"] as? Int)
            if event["type"] as? String == "O" { open.append(frame) } else { #expect(open.popLast() == frame) }
        }
        #expect(open.isEmpty)
        // 3 opens; the touching second span keeps two open (1 close); a gap closes them (2); 3 opens, 3 closes.
        #expect(events.count == 12)
    }

    @Test func chromeTraceIsJSONWithMetadataSlicesAndInstants() throws {
        var writer = ChromeTraceWriter()
        writer.processName(pid: 1, "Ps", sortIndex: 1)
        writer.threadName(pid: 1, tid: 0, "P0")
        writer.complete("G1", category: "running", pid: 1, tid: 0, start: 1_500, end: 2_750, args: [("goroutine", .number(1))])
        writer.instant("spawn \"G2\"", category: "spawn", pid: 2, tid: 1, at: 2_000)
        let json = try #require(JSONSerialization.jsonObject(with: Data(writer.finish())) as? [String: Any])
        let events = try #require(json["traceEvents"] as? [[String: Any]])
        let slice = try #require(events.first { $0["ph"] as? String == "X" })
        #expect((slice["ts"] as? Double) == 1.5 && (slice["dur"] as? Double) == 1.25)
        #expect(events.contains { $0["ph"] as? String == "M" && $0["name"] as? String == "thread_name" })
        #expect(events.contains { $0["ph"] as? String == "i" && $0["name"] as? String == "spawn \"G2\"" })
    }
}
