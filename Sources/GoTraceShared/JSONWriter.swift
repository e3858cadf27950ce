// JSONWriter.swift — gotrace's one JSON writer, with its one string escaper (`ByteWriter.appendJSONString`),
// for the plugins, the exporters and the command line alike.
//
// Two shapes of use: `JSON.quote`, `JSON.array` and `JSON.object` compose small documents from encoded
// parts (a plugin's `--format json` record); `JSONWriter` streams a large one front to back into bytes (the
// HTML report's data, millions of numbers), placing commas and colons itself, so no caller splices
// punctuation by hand. Foundation-free, so a plugin pulls in nothing heavy.
// Invariant: every value is written where a value may stand — at the top, after `key`, or as an array
// element — and every container is closed; `JSONWriter.text` asserts the latter.
// Rejected: Foundation's JSONSerialization/JSONEncoder in plugins (Foundation in every dynamic library, and
// an intermediate tree of the whole document).

/// Small JSON documents built from already-encoded parts.
public enum JSON {
    /// `text` as a JSON string literal.
    public static func quote(_ text: String) -> String {
        var writer = ByteWriter(capacity: text.utf8.count + 2)
        writer.appendJSONString(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// A JSON array of already-encoded values, in the order given.
    public static func array(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }

    /// An object from already-encoded values, keys in the order given.
    public static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { quote($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }
}

/// A JSON document written front to back into bytes; the writer places the commas and colons.
///
/// ```swift
/// var json = JSONWriter()
/// json.beginObject()
/// json.key("busy"); json.value(12)
/// json.key("lanes"); json.beginArray(); json.value(1); json.value(2); json.endArray()
/// json.endObject()
/// ```
public struct JSONWriter {
    private var writer: ByteWriter
    /// One entry per open container: whether it holds an element yet (the next one needs a comma).
    private var holdsElement: [Bool] = []
    /// A key was just written: the next value is its value, not a new element.
    private var afterKey = false

    /// An empty document with room for `capacity` bytes before it grows.
    ///
    /// - Parameter capacity: The bytes to reserve.
    public init(capacity: Int = 1 << 16) { writer = ByteWriter(capacity: capacity) }

    /// The document's bytes. Precondition: every container is closed.
    public var bytes: [UInt8] {
        assert(holdsElement.isEmpty, "JSONWriter: \(holdsElement.count) container(s) left open")
        return writer.bytes
    }

    /// The document as text. Precondition: every container is closed.
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Opens an object (`{`) where a value may stand.
    public mutating func beginObject() {
        separate()
        writer.append(UInt8(ascii: "{"))
        holdsElement.append(false)
    }

    /// Closes the innermost open object (`}`).
    public mutating func endObject() {
        holdsElement.removeLast()
        writer.append(UInt8(ascii: "}"))
    }

    /// Opens an array (`[`) where a value may stand.
    public mutating func beginArray() {
        separate()
        writer.append(UInt8(ascii: "["))
        holdsElement.append(false)
    }

    /// Closes the innermost open array (`]`).
    public mutating func endArray() {
        holdsElement.removeLast()
        writer.append(UInt8(ascii: "]"))
    }

    /// An object member's name; its value comes next.
    public mutating func key(_ name: String) {
        separate()
        writer.appendJSONString(name)
        writer.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// A number.
    public mutating func value(_ number: UInt64) {
        separate()
        writer.append(number)
    }

    /// A number.
    public mutating func value(_ number: Int64) {
        separate()
        writer.append(number)
    }

    /// A number.
    public mutating func value(_ number: Int) { value(Int64(number)) }

    /// A string, escaped by ``ByteWriter/appendJSONString(_:)``.
    public mutating func value(_ text: String) {
        separate()
        writer.appendJSONString(text)
    }

    /// `true` or `false`.
    public mutating func value(_ flag: Bool) {
        separate()
        writer.append(flag ? "true" : "false")
    }

    /// `value` as a decimal with up to `decimals` decimals (no exponent).
    public mutating func value(_ number: Double, decimals: Int) {
        separate()
        writer.append(number, decimals: decimals)
    }

    /// `null`.
    public mutating func null() {
        separate()
        writer.append("null")
    }

    /// An already-encoded JSON value (a number formatted elsewhere, a nested document).
    public mutating func encoded(_ json: String) {
        separate()
        writer.append(json)
    }

    /// Writes the comma before a new element of the innermost container, if it holds one already.
    private mutating func separate() {
        if afterKey {
            afterKey = false
            return
        }
        guard let last = holdsElement.indices.last else { return }
        if holdsElement[last] { writer.append(UInt8(ascii: ",")) }
        holdsElement[last] = true
    }
}
