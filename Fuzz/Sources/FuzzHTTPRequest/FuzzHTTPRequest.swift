// libFuzzer entry for the debug server's request parsing (GoRuntime): what a client sends on a connection —
// request lines, header fields, Content-Length bodies, several requests back to back — read as HTTPServer
// reads it (`HTTPRequestReader`), then each request target split and percent-decoded as the debug endpoints
// do (`DebugRequestTarget`). Any byte string must parse or fail with an HTTPError that carries a status to
// answer, without a trap, a read out of bounds, a leak or a hang.
//
// The first byte of an input picks how many bytes one read returns (1 to 64), so lines, headers and bodies
// arrive split at every place a slow client could split them; the rest is the stream.

import FuzzSupport
import GoRuntime

/// The stream, handed out `chunk` bytes per read, as a socket might.
final class ChunkedBytes: HTTPByteSource {
    private let bytes: [UInt8]
    private let chunk: Int
    private var offset = 0

    init(_ bytes: [UInt8], chunk: Int) {
        self.bytes = bytes
        self.chunk = chunk
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(chunk, buffer.count, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes[offset..<offset + count].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return count
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = fuzzInput(data, size)
    guard let first = input.first else { return 0 }
    let stream = Array(input.dropFirst())
    let reader = HTTPRequestReader(ChunkedBytes(stream, chunk: Int(first % 64) + 1))
    var consumed = 0
    do {
        while let request = try reader.next() {
            // What the reader promises: a body exactly as long as its Content-Length, never over the limit;
            // a request line of three non-empty parts; and progress (each request consumes bytes).
            precondition(request.body.count <= HTTPRequestReader.maxBodySize)
            if let length = request.headers["content-length"] { precondition(Int(length) == request.body.count) }
            precondition(!request.method.isEmpty && !request.path.isEmpty && !request.path.contains(" "))
            // Progress: a request takes at least 14 bytes of the stream ("M T HTTP/1.1", a newline, the blank
            // line's newline) plus its body. (Not the decoded strings' lengths: a byte that is not UTF-8 comes
            // out as U+FFFD, three bytes — the first finding, a wrong check here, not in the reader.)
            consumed += 14 + request.body.count
            precondition(consumed <= stream.count)
            if let target = try? DebugRequestTarget(parsing: request.path) {
                // Its first byte (not Character: "/" and a combining mark after it are one Character).
                precondition(target.path.utf8.first == UInt8(ascii: "/"))
            }
        }
    } catch let error as HTTPError {
        precondition([400, 411, 413, 431].contains(error.statusCode), "\(error.statusCode)")
    } catch {
        preconditionFailure("an in-memory stream cannot fail: \(error)")
    }
    return 0
}
