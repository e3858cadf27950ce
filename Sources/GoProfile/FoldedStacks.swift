// Brendan Gregg's collapsed ("folded") stacks: one line per distinct stack, `root;caller;…;leaf COUNT`.
//
// Frames are separated by `;` and the count by the last space, so a frame name may contain spaces but not
// `;` or a newline: those are replaced (`;` → `:`, newline → space). Lines are sorted (the format's own
// convention: the x axis of a flame graph is alphabetical, not time), which also makes output deterministic.
import GoTraceShared

public enum FoldedStacks {
    /// A frame name made safe for a folded line.
    public static func sanitize(_ name: String) -> String {
        guard name.utf8.contains(where: { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") })
        else { return name }
        return String(name.map { $0 == ";" ? ":" : ($0 == "\n" || $0 == "\r" ? " " : $0) })
    }

    /// Distinct stacks (root first) with their summed primary value; zero-valued stacks are left out.
    public static func fold(_ profile: Profile) -> [(frames: [String], value: Int64)] {
        var sums: [[Int]: Int64] = [:]
        for sample in profile.samples {
            let functions = sample.locations.map { profile.locations[$0].function }
            sums[functions, default: 0] += sample.values[profile.primaryValue]
        }
        return sums.filter { $0.value > 0 }
            .map { (frames: $0.key.map { sanitize(profile.functions[$0].name) }, value: $0.value) }
            .sorted { $0.frames.lexicographicallyPrecedes($1.frames) }
    }

    public static func encode(_ profile: Profile) -> [UInt8] {
        var writer = ByteWriter()
        for (frames, value) in fold(profile) {
            for (index, frame) in frames.enumerated() {
                if index > 0 { writer.append(UInt8(ascii: ";")) }
                writer.append(frame)
            }
            writer.append(UInt8(ascii: " "))
            writer.append(value)
            writer.append(UInt8(ascii: "\n"))
        }
        return writer.bytes
    }

    /// Reads folded text (the first count column; lines that do not parse are skipped).
    public static func parse(_ text: String) -> [(frames: [String], value: Int64)] {
        var stacks: [(frames: [String], value: Int64)] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard let space = line.lastIndex(of: " ") else { continue }
            var stack = line[..<space]
            var count = line[line.index(after: space)...]
            // A differential file has two counts: take the first.
            if let second = stack.lastIndex(of: " "), Int64(stack[stack.index(after: second)...]) != nil {
                count = stack[stack.index(after: second)...]
                stack = stack[..<second]
            }
            guard let value = Int64(count), !stack.isEmpty else { continue }
            stacks.append((stack.split(separator: ";", omittingEmptySubsequences: false).map(String.init), value))
        }
        return stacks
    }
}

/// Stacks merged into a tree: what the SVG draws. Children are sorted by name (flame graph order).
public final class FlameNode {
    public let name: String
    public var value: Int64 = 0
    /// For differential graphs: the value in the baseline.
    public var baseline: Int64 = 0
    public private(set) var children: [FlameNode] = []
    private var childIndex: [String: Int] = [:]

    public init(name: String) { self.name = name }

    public func child(_ name: String) -> FlameNode {
        if let index = childIndex[name] { return children[index] }
        let node = FlameNode(name: name)
        childIndex[name] = children.count
        children.append(node)
        return node
    }

    public func sortChildren() {
        children.sort { $0.name < $1.name }
        childIndex = [:]
        for (index, child) in children.enumerated() {
            childIndex[child.name] = index
            child.sortChildren()
        }
    }

    /// A tree of `stacks` (root first) under a root named `rootName`.
    public static func tree(_ stacks: [(frames: [String], value: Int64)], baseline: [(frames: [String], value: Int64)] = [],
                            rootName: String = "all") -> FlameNode {
        let root = FlameNode(name: rootName)
        let sides: [([(frames: [String], value: Int64)], ReferenceWritableKeyPath<FlameNode, Int64>)] =
            [(stacks, \.value), (baseline, \.baseline)]
        for (side, field) in sides {
            for (frames, value) in side {
                var node = root
                node[keyPath: field] += value
                for frame in frames {
                    node = node.child(frame)
                    node[keyPath: field] += value
                }
            }
        }
        root.sortChildren()
        return root
    }
}
