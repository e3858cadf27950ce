// The HTML report: one self-contained page (no network, opens from file://) built from analyzer documents.
//
// Design note
// -----------
// The page is data plus a renderer. The analyzers' JSON documents (`html-report`, `leak`, `latency`, as
// `gotrace report --format json` prints them) are embedded verbatim in one
// `<script type="application/json" id="report-data">` (with `</` escaped as `<\/`, which JSON allows and
// which cannot end the script element); the inline script (Resources/report.js; the markup and style beside
// it, embedded at build time) parses it and fills the page: the numbers
// go into elements with ids (`leaked-count`, `top-blocking-function`, `latency-scheduling-p99`, …) that
// `scripts/browser-check.sh` compares with the JSON report, the flame graphs are the SVG export's own
// markup and script (`FlameGraphSVG`, embedded mode), and the timeline is drawn on a canvas from the
// level-of-detail data the html-report analyzer gathered (see `Plugins/HTMLReport`).
// When the script has run, `<body data-ready="1">`; a script error shows in `#errors`.
// Colours are Okabe–Ito's colour-blind-safe palette. Rejected: a chart library (the page must work
// offline, and we write our own code), SVG for the timeline (too many elements for big traces).
import GoTraceShared

public enum ReportPage {
    /// The page for `documents` (analyzer name → its JSON document, verbatim).
    public static func render(title: String, documents: [(name: String, json: String)]) -> [UInt8] {
        var page = ByteWriter(capacity: 1 << 20)
        page.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
        page.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>")
        page.appendXML(title)
        page.append("</title>\n<style>\n")
        page.append(contentsOf: style)
        page.append("</style>\n</head>\n<body>\n<header><h1>")
        page.appendXML(title)
        page.append("</h1></header>\n")
        page.append(contentsOf: body)
        page.append("<script type=\"application/json\" id=\"report-data\">{")
        for (index, document) in documents.enumerated() {
            if index > 0 { page.append(",\n") }
            page.appendJSONString(document.name)
            page.append(": ")
            page.append(contentsOf: escapeForScript(document.json))
        }
        page.append("}</script>\n<script>\n")
        page.append(contentsOf: FlameGraphSVG.script)
        page.append(contentsOf: script)
        page.append("</script>\n</body>\n</html>\n")
        return page.bytes
    }

    /// JSON that cannot end its `<script>` element or open a comment in it: `</` → `<\/` and `<!` →
    /// `\u003c!` (both valid inside JSON strings, the only place `<` occurs in JSON).
    static func escapeForScript(_ json: String) -> [UInt8] {
        let bytes = Array(json.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 64)
        for (index, byte) in bytes.enumerated() {
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if byte == UInt8(ascii: "<") && next == UInt8(ascii: "!") {
                out.append(contentsOf: Array("\\u003c".utf8))
                continue
            }
            out.append(byte)
            if byte == UInt8(ascii: "<") && next == UInt8(ascii: "/") { out.append(UInt8(ascii: "\\")) }
        }
        return out
    }

    static var body: [UInt8] { PackageResources.report_body_html }

    static var style: [UInt8] { PackageResources.report_css }

    static var script: [UInt8] { PackageResources.report_js }
}
