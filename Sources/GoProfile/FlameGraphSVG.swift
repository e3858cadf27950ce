// A self-contained interactive flame graph as one SVG file: no network, no external script.
//
// Design note
// -----------
// Layout is computed here, once: every node of the tree (`FlameNode`, children in name order) becomes a
// `<g>` holding a `<title>` (so a viewer without script still shows tooltips), a `<rect>` and a `<text>`,
// with the node's position in *value units* as data attributes: `data-s` (start, from the left edge of the
// root), `data-v` (value) and `data-d` (depth). The script needs nothing else:
//   - hover: the details line shows name, value and share;
//   - click: zoom — the clicked node fills the width, its descendants scale with it, its ancestors span
//     the width dimmed, everything else hides; the details line and URL hash (`#z=i&q=regex`) follow, so a
//     zoomed view can be linked;
//   - search (the box, Ctrl-F / ⌘-F, or `/`): nodes whose name matches the regex turn magenta and the
//     matched share is shown — counted once where matches nest (intervals merged), relative to the
//     current zoom;
//   - reset (button, Escape, or a click on the background): unzoom and clear the search.
// `inverted` draws an icicle graph: the root at the top, callees below.
// `embedded` renders an `<svg>` element for an HTML page (the report, `ReportPage`): no XML prolog, no
// script, ids prefixed with `idPrefix` so several graphs share a page; the page includes `script` once and
// calls `gotraceFlameGraph(svgElement)` per graph. Keyboard shortcuts and the URL hash stay with the
// standalone file, where the graph owns the document.
// Nodes narrower than `minimumWidth` pixels are left out (they could not be seen or clicked); their value
// stays in their parent. Differential graphs (`FlameNode.baseline` set) colour each frame by the change
// of its share of the total: red grew, blue shrank, white unchanged.
import GoTraceShared

public enum FlameGraphSVG {
    public struct Options: Sendable {
        public var title = "Flame Graph"
        public var subtitle = ""
        /// Unit of the values: "nanoseconds" prints durations, anything else counts ("12 count").
        public var unit = "count"
        public var inverted = false
        public var width = 1200
        public var frameHeight = 16
        public var minimumWidth = 0.1
        /// An `<svg>` element for an HTML page: no prolog, no script, ids prefixed (see the design note).
        public var embedded = false
        public var idPrefix = ""
        public init() {}
    }

    public static func render(_ root: FlameNode, options: Options = Options()) -> [UInt8] {
        let differential = hasBaseline(root)
        let total = max(root.value, 1)
        let baselineTotal = max(root.baseline, 1)
        let side = 10.0
        let graphWidth = Double(options.width) - 2 * side
        let scale = graphWidth / Double(total)
        let minimumValue = options.minimumWidth / scale

        // Visible nodes, depth first.
        var nodes: [(node: FlameNode, start: Int64, depth: Int)] = []
        var maxDepth = 0
        func visit(_ node: FlameNode, _ start: Int64, _ depth: Int) {
            nodes.append((node, start, depth))
            maxDepth = max(maxDepth, depth)
            var offset = start
            for child in node.children {
                if Double(child.value) >= minimumValue && child.value > 0 { visit(child, offset, depth + 1) }
                offset += child.value
            }
        }
        visit(root, 0, 0)

        let frame = Double(options.frameHeight)
        let top = 60.0  // title, subtitle and controls
        let bottom = 30.0  // details line
        let height = top + Double(maxDepth + 1) * frame + bottom
        let prefix = options.idPrefix
        var svg = ByteWriter(capacity: 1 << 16)
        if options.embedded {
            svg.append("<svg class=\"flamegraph\" xmlns=\"http://www.w3.org/2000/svg\" data-prefix=\"")
            svg.appendXML(prefix)
            svg.append("\" width=\"")
        } else {
            svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n")
            svg.append("<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\" width=\"")
        }
        svg.append(options.width)
        svg.append("\" height=\"")
        svg.append(height, decimals: 0)
        svg.append("\" viewBox=\"0 0 ")
        svg.append(options.width)
        svg.append(" ")
        svg.append(height, decimals: 0)
        svg.append("\" data-total=\"")
        svg.append(total)
        svg.append("\" data-unit=\"")
        svg.appendXML(options.unit)
        svg.append("\" data-inverted=\"")
        svg.append(options.inverted ? "1" : "0")
        svg.append("\" data-side=\"")
        svg.append(side, decimals: 0)
        svg.append("\" data-width=\"")
        svg.append(graphWidth, decimals: 0)
        svg.append("\">\n<style>\n")
        svg.append(contentsOf: style)
        svg.append("</style>\n<rect class=\"background\" x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"#f8f8f4\"/>\n")
        svg.append("<text class=\"title\" x=\"")
        svg.append(Double(options.width) / 2, decimals: 0)
        svg.append("\" y=\"20\">")
        svg.appendXML(options.title)
        svg.append("</text>\n<text class=\"subtitle\" x=\"")
        svg.append(Double(options.width) / 2, decimals: 0)
        svg.append("\" y=\"36\">")
        svg.appendXML(options.subtitle.isEmpty
            ? defaultSubtitle(differential: differential, inverted: options.inverted, embedded: options.embedded) : options.subtitle)
        svg.append("</text>\n<text id=\"")
        svg.appendXML(prefix)
        svg.append("reset\" class=\"control\" x=\"10\" y=\"52\">Reset zoom</text>\n")
        svg.append("<text id=\"")
        svg.appendXML(prefix)
        svg.append("matched\" class=\"control\" x=\"")
        svg.append(Double(options.width) - 330, decimals: 0)
        svg.append("\" y=\"52\"></text>\n")
        svg.append("<foreignObject x=\"")
        svg.append(Double(options.width) - 190, decimals: 0)
        // An HTML parser puts foreignObject content in the XHTML namespace by itself; XML needs the prefix.
        svg.append("\" y=\"39\" width=\"180\" height=\"20\"><")
        svg.append(options.embedded ? "input" : "xhtml:input")
        svg.append(" id=\"")
        svg.appendXML(prefix)
        svg.append("search\" type=\"search\" placeholder=\"")
        svg.append(options.embedded ? "Search (regex)" : "Search (regex, Ctrl-F)")
        svg.append("\" style=\"width:170px;font:11px sans-serif\"/></foreignObject>\n")
        svg.append("<text id=\"")
        svg.appendXML(prefix)
        svg.append("details\" x=\"10\" y=\"")
        svg.append(height - 10, decimals: 0)
        svg.append("\"> </text>\n<g id=\"frames\">\n")

        for (index, entry) in nodes.enumerated() {
            let (node, start, depth) = entry
            let x = side + Double(start) * scale
            let width = Double(node.value) * scale
            let y = options.inverted ? top + Double(depth) * frame : top + Double(maxDepth - depth) * frame
            svg.append("<g class=\"f\" id=\"f")
            svg.append(index)
            svg.append("\" data-s=\"")
            svg.append(start)
            svg.append("\" data-v=\"")
            svg.append(node.value)
            svg.append("\" data-d=\"")
            svg.append(depth)
            if differential {
                svg.append("\" data-b=\"")
                svg.append(node.baseline)
            }
            svg.append("\"><title>")
            svg.appendXML(node.name)
            svg.append("</title><rect x=\"")
            svg.append(x, decimals: 2)
            svg.append("\" y=\"")
            svg.append(y, decimals: 1)
            svg.append("\" width=\"")
            svg.append(width, decimals: 2)
            svg.append("\" height=\"")
            svg.append(frame - 1, decimals: 1)
            svg.append("\" fill=\"")
            if differential {
                svg.append(diffColour(node, total: total, baselineTotal: baselineTotal))
            } else {
                svg.append(colour(node.name, isRoot: depth == 0))
            }
            svg.append("\"/><text x=\"")
            svg.append(x + 3, decimals: 2)
            svg.append("\" y=\"")
            svg.append(y + frame - 4.5, decimals: 1)
            svg.append("\">")
            svg.appendXML(label(node.name, width: width))
            svg.append("</text></g>\n")
        }
        if options.embedded {
            svg.append("</g>\n</svg>\n")
            return svg.bytes
        }
        svg.append("</g>\n<script type=\"text/ecmascript\"><![CDATA[\n")
        svg.append(contentsOf: script)
        svg.append("gotraceFlameGraph(document.documentElement);\n]]></script>\n</svg>\n")
        return svg.bytes
    }

    /// A differential graph: frames sized by `after`, coloured by the change from `before`.
    public static func renderDifferential(before: [(frames: [String], value: Int64)], after: [(frames: [String], value: Int64)],
                                          options: Options = Options()) -> [UInt8] {
        render(FlameNode.tree(after, baseline: before), options: options)
    }

    static func hasBaseline(_ node: FlameNode) -> Bool { node.baseline != 0 }

    static func defaultSubtitle(differential: Bool, inverted: Bool, embedded: Bool = false) -> String {
        var text = inverted ? "Icicle graph (callers above callees)" : "Flame graph (callers below callees)"
        if differential { text += " — red: share grew, blue: share shrank (width: the second profile)" }
        return text + (embedded ? ". Click to zoom, type in the box to search." : ". Click to zoom, Ctrl-F to search.")
    }

    /// Text that fits `width` pixels at 11 px sans-serif (about 6.6 px per character).
    static func label(_ name: String, width: Double) -> String {
        let characters = Int((width - 6) / 6.6)
        if characters < 3 { return "" }
        if name.count <= characters { return name }
        return String(name.prefix(characters - 2)) + ".."
    }

    /// A warm colour derived from the name (stable across runs: FNV-1a, not Swift's seeded hash).
    static func colour(_ name: String, isRoot: Bool) -> String {
        if isRoot { return "rgb(200,200,200)" }
        if name.hasPrefix("[") { return "rgb(120,160,210)" }  // synthetic frames: park reasons
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let red = 200 + Int(hash & 0x37)
        let green = 80 + Int((hash >> 8) % 150)
        let blue = Int((hash >> 16) % 60)
        return "rgb(\(red),\(green),\(blue))"
    }

    static func diffColour(_ node: FlameNode, total: Int64, baselineTotal: Int64) -> String {
        let change = Double(node.value) / Double(total) - Double(node.baseline) / Double(baselineTotal)
        // Full colour at a change of 10 percentage points of the total.
        let intensity = min(1, abs(change) / 0.10)
        let faded = Int(255 - 200 * intensity)
        return change >= 0 ? "rgb(255,\(faded),\(faded))" : "rgb(\(faded),\(faded),255)"
    }

    static var style: [UInt8] { PackageResources.flamegraph_css }

    /// The interactive part, shared by the standalone SVG and the HTML report: defines
    /// `gotraceFlameGraph(svg)`, which wires up one graph (queries stay inside `svg`).
    public static var script: [UInt8] { PackageResources.flamegraph_js }
}
