import Foundation
import Testing

/// A Chrome trace-event file read back: track names from its metadata, and its slices and instants in
/// nanoseconds (the file's timestamps are microseconds with three decimals).
struct ChromeEvents {
    struct Track: Hashable, CustomStringConvertible {
        var pid: Int
        var tid: Int
        var description: String { "\(pid)/\(tid)" }
    }

    struct Slice {
        var name: String
        var track: Track
        var start: Int64
        var end: Int64
    }

    let events: [[String: Any]]

    init(_ events: [[String: Any]]) { self.events = events }

    static func nanoseconds(_ microseconds: Any?) -> Int64? {
        (microseconds as? NSNumber).map { Int64(($0.doubleValue * 1000).rounded()) }
    }

    static func track(_ event: [String: Any]) -> Track { Track(pid: event["pid"] as? Int ?? -1, tid: event["tid"] as? Int ?? -1) }

    private func metadata(_ name: String) -> [[String: Any]] {
        events.filter { $0["ph"] as? String == "M" && $0["name"] as? String == name }
    }

    var processNames: [Int: String] {
        var names: [Int: String] = [:]
        for event in metadata("process_name") { names[event["pid"] as? Int ?? -1] = (event["args"] as? [String: Any])?["name"] as? String }
        return names
    }

    var trackNames: [Track: String] {
        var names: [Track: String] = [:]
        for event in metadata("thread_name") { names[Self.track(event)] = (event["args"] as? [String: Any])?["name"] as? String }
        return names
    }

    /// `X` and `i` events as "ph name pid tid start-ns" (plus " duration-ns" for `X`), sorted.
    var slicesAndInstants: [String] {
        events.compactMap { event -> String? in
            guard let phase = event["ph"] as? String, phase == "X" || phase == "i" else { return nil }
            let track = Self.track(event)
            var line = "\(phase) \(event["name"] as? String ?? "?") \(track.pid) \(track.tid) \(Self.nanoseconds(event["ts"]) ?? -1)"
            if phase == "X" { line += " \(Self.nanoseconds(event["dur"]) ?? -1)" }
            return line
        }.sorted()
    }

    /// The `X` slices, by start time.
    var slices: [Slice] {
        events.compactMap { event -> Slice? in
            guard event["ph"] as? String == "X", let start = Self.nanoseconds(event["ts"]),
                  let duration = Self.nanoseconds(event["dur"]) else { return nil }
            return Slice(name: event["name"] as? String ?? "?", track: Self.track(event), start: start, end: start + duration)
        }.sorted { $0.start < $1.start }
    }

    var instants: [(name: String, category: String, track: Track, at: Int64)] {
        events.compactMap { event in
            guard event["ph"] as? String == "i", let at = Self.nanoseconds(event["ts"]) else { return nil }
            return (event["name"] as? String ?? "?", event["cat"] as? String ?? "?", Self.track(event), at)
        }
    }
}

/// The frames of a differential flame graph (`gotrace diff`) read back from the SVG: each frame's name, its
/// value in the second profile (`data-v`), in the baseline (`data-b`) and its fill colour.
struct DiffFrames {
    struct Frame: CustomStringConvertible {
        var name: String
        var value: Int64
        var baseline: Int64
        var fill: String
        var description: String { "\(name): \(baseline) → \(value), \(fill)" }
    }

    /// A change of ten or more percentage points of the total is drawn at full intensity (docs/profiles.md).
    static let fullRed = "rgb(255,55,55)"
    static let fullBlue = "rgb(55,55,255)"
    static let white = "rgb(255,255,255)"

    let all: [Frame]

    init(svgAt path: String) throws {
        let svg = try XMLTree.parse(try Data(contentsOf: URL(fileURLWithPath: path)))
        all = svg.all("g").filter { $0["class"] == "f" }.map { group in
            Frame(name: group.all("title").first?.text ?? "?", value: Int64(group["data-v"] ?? "") ?? -1,
                  baseline: Int64(group["data-b"] ?? "") ?? -1, fill: group.all("rect").first?["fill"] ?? "?")
        }
    }

    func named(_ matches: (String) -> Bool) -> [Frame] { all.filter { matches($0.name) } }

    /// The colour channels of an `rgb(r,g,b)` fill.
    static func channels(_ fill: String) -> [Int] {
        fill.dropFirst(4).dropLast().split(separator: ",").compactMap { Int($0) }
    }
}
