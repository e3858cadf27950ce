// speedscope's file format (https://www.speedscope.app/file-format-schema.json).
//
// One `sampled` profile of the whole profile — `samples` are stacks of frame indices, root first, and
// `weights` their primary values — then one `evented` profile per time-ordered track: open (`O`) and close
// (`C`) events at nanosecond times, balanced, `at` non-decreasing. Consecutive spans of a track share the
// frames their stacks have in common only if they touch in time; otherwise every frame closes at a span's
// end, so an idle gap shows as a gap. `activeProfileIndex` is 0 (speedscope rejects `null`, which py-spy
// once wrote).
import GoTraceShared

public enum SpeedscopeEncoder {
    static let units: Set<String> = ["none", "nanoseconds", "microseconds", "milliseconds", "seconds", "bytes"]

    public static func encode(_ profile: Profile, exporter: String = "gotrace") -> [UInt8] {
        var writer = ByteWriter()
        let unit = units.contains(profile.sampleTypes[profile.primaryValue].unit) ? profile.sampleTypes[profile.primaryValue].unit : "none"
        writer.append("{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":")
        writer.appendJSONString(exporter)
        writer.append(",\"name\":")
        writer.appendJSONString(profile.name)
        writer.append(",\"activeProfileIndex\":0,\"shared\":{\"frames\":[")
        for (index, function) in profile.functions.enumerated() {
            if index > 0 { writer.append(",") }
            writer.append("\n{\"name\":")
            writer.appendJSONString(function.name)
            if !function.file.isEmpty {
                writer.append(",\"file\":")
                writer.appendJSONString(function.file)
                if function.line > 0 {
                    writer.append(",\"line\":")
                    writer.append(function.line)
                }
            }
            writer.append("}")
        }
        writer.append("]},\"profiles\":[\n{\"type\":\"sampled\",\"name\":")
        writer.appendJSONString(profile.name + " (" + profile.sampleTypes[profile.primaryValue].type + ")")
        writer.append(",\"unit\":\"")
        writer.append(unit)
        writer.append("\",\"startValue\":0,\"endValue\":")
        let folded = FoldedStacks.foldIndices(profile)
        writer.append(folded.reduce(Int64(0)) { $0 + $1.value })
        writer.append(",\"samples\":[")
        for (index, stack) in folded.enumerated() {
            if index > 0 { writer.append(",") }
            writer.append("\n[")
            for (position, frame) in stack.frames.enumerated() {
                if position > 0 { writer.append(",") }
                writer.append(frame)
            }
            writer.append("]")
        }
        writer.append("],\"weights\":[")
        for (index, stack) in folded.enumerated() {
            if index > 0 { writer.append(",") }
            writer.append(stack.value)
        }
        writer.append("]}")
        for track in profile.tracks {
            writer.append(",\n{\"type\":\"evented\",\"name\":")
            writer.appendJSONString(track.name)
            writer.append(",\"unit\":\"nanoseconds\",\"startValue\":")
            writer.append(track.spans.first?.start ?? 0)
            writer.append(",\"endValue\":")
            writer.append(track.spans.map(\.end).max() ?? 0)
            writer.append(",\"events\":[")
            var open: [Int] = []
            var openUntil: UInt64 = 0
            var firstEvent = true
            func event(_ type: StaticString, _ frame: Int, _ at: UInt64) {
                if firstEvent { firstEvent = false } else { writer.append(",") }
                writer.append("\n{\"type\":\"")
                writer.append(type)
                writer.append("\",\"frame\":")
                writer.append(frame)
                writer.append(",\"at\":")
                writer.append(at)
                writer.append("}")
            }
            for span in track.spans.sorted(by: { $0.start < $1.start }) {
                let start = max(span.start, openUntil)
                let end = max(span.end, start)
                // Keep the common prefix open only when this span starts where the previous one ended.
                var shared = 0
                if start == openUntil {
                    while shared < open.count, shared < span.frames.count, open[shared] == span.frames[shared] { shared += 1 }
                }
                while open.count > shared { event("C", open.removeLast(), openUntil) }
                for frame in span.frames[shared...] {
                    event("O", frame, start)
                    open.append(frame)
                }
                openUntil = end
            }
            while let frame = open.popLast() { event("C", frame, openUntil) }
            writer.append("]}")
        }
        writer.append("]}\n")
        return writer.bytes
    }
}

extension FoldedStacks {
    /// Distinct stacks as function indices (root first) with summed primary values, sorted by names.
    static func foldIndices(_ profile: Profile) -> [(frames: [Int], value: Int64)] {
        var sums: [[Int]: Int64] = [:]
        for sample in profile.samples {
            sums[sample.locations.map { profile.locations[$0].function }, default: 0] += sample.values[profile.primaryValue]
        }
        return sums.filter { $0.value > 0 }.map { (frames: $0.key, value: $0.value) }
            .sorted { $0.frames.map { profile.functions[$0].name }.lexicographicallyPrecedes($1.frames.map { profile.functions[$0].name }) }
    }
}
