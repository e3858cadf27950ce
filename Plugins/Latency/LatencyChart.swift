import GoTracePluginKit
import Histogram

/// The SVG chart: one line per distribution, latency (log scale) against percentile on HdrHistogram's
/// usual axis, where each decade of x is one more "nine" (90%, 99%, 99.9%, …) so the tail gets the room.
enum LatencyChart {
    static let width = 900.0
    static let height = 500.0
    static let margin = (left: 80.0, right: 200.0, top: 30.0, bottom: 50.0)
    static let percentiles: [Double] = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100]
    /// The x axis ends at 99.999% (five nines); 100% is drawn there too.
    static let maxNines = 5.0
    static let colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                          "#bcbd22", "#17becf"]

    static func nines(_ percentile: Double) -> Double {
        percentile >= 100 ? maxNines : min(maxNines, -log10(1 - percentile / 100))
    }

    static func svg(_ series: [(String, Histogram<UInt64>)]) -> String {
        let plotWidth = width - margin.left - margin.right
        let plotHeight = height - margin.top - margin.bottom
        let maxValue = max(10, series.map { Double($0.1.max) }.max() ?? 10)
        let topDecade = ceil(log10(maxValue))
        func x(_ percentile: Double) -> Double { margin.left + nines(percentile) / maxNines * plotWidth }
        func y(_ value: UInt64) -> Double {
            margin.top + plotHeight - log10(max(1, Double(value))) / topDecade * plotHeight
        }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(margin.left)" y="18" font-size="14">Latency by percentile (log scale)</text>

            """
        for decade in 0...Int(topDecade) {
            let yy = y(UInt64(pow(10, Double(decade))))
            out += "<line x1=\"\(margin.left)\" y1=\"\(yy)\" x2=\"\(margin.left + plotWidth)\" y2=\"\(yy)\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(margin.left - 6)\" y=\"\(yy + 4)\" text-anchor=\"end\">\(Duration.format(UInt64(pow(10, Double(decade)))))</text>\n"
        }
        for (index, label) in ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"].enumerated() {
            let xx = margin.left + Double(index) / maxNines * plotWidth
            out += "<line x1=\"\(xx)\" y1=\"\(margin.top)\" x2=\"\(xx)\" y2=\"\(margin.top + plotHeight)\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(xx)\" y=\"\(margin.top + plotHeight + 18)\" text-anchor=\"middle\">\(label)</text>\n"
        }
        out += "<text x=\"\(margin.left + plotWidth / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\">percentile</text>\n"
        for (index, (name, histogram)) in series.enumerated() {
            let colour = colours[index % colours.count]
            let points = percentiles.map { p in "\(x(p)),\(y(histogram.valueAtPercentile(p)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            let legendY = margin.top + 16 * Double(index)
            out += "<rect x=\"\(width - margin.right + 15)\" y=\"\(legendY)\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>\n"
            out += "<text x=\"\(width - margin.right + 32)\" y=\"\(legendY + 10)\">\(xmlEscaped(name)) (\(histogram.totalCount))</text>\n"
        }
        return out + "</svg>\n"
    }

    /// `text` as SVG character data, through the kit's one XML escaper.
    static func xmlEscaped(_ text: String) -> String {
        var writer = ByteWriter(capacity: text.utf8.count)
        writer.appendXML(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#endif
