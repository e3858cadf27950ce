// Splits a trace arriving as a byte stream (the `GOTRACE_FD` pipe) into its file header and whole chunks.
//
// The recorder cannot seek, so unlike `TraceReader` it cannot resynchronise past damage it has not yet
// received; a pipe does not corrupt bytes, so a bad header means the writer is broken and the framer stops
// (it reports the offset; the caller keeps draining the pipe so the traced program is not blocked). Memory
// is bounded: at most one header and one payload (each capped by `TraceLimits`) are buffered.

public struct TraceStreamFramer {
    public enum Unit {
        case fileHeader(bytes: [UInt8], header: FileHeader)
        case chunk(bytes: [UInt8], header: ChunkHeader)
    }

    public struct Failure: Error, Equatable, CustomStringConvertible {
        /// Byte offset in the stream where the bad header starts.
        public var offset: UInt64
        public var reason: String
        public var description: String { "offset \(offset): \(reason)" }
    }

    private var pending: [UInt8] = []
    /// Index in `pending` of the first unconsumed byte; compacted lazily to avoid O(n^2) shifting.
    private var start = 0
    private var sawFileHeader = false
    public private(set) var failure: Failure?
    /// Stream offset of the first byte not yet returned in a unit.
    public private(set) var consumedOffset: UInt64 = 0

    public init() {}

    /// Bytes received but not yet returned in a whole unit (non-zero at end of stream = cut-off chunk).
    public var bufferedByteCount: Int { pending.count - start }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start >= pending.count / 2 {
            pending.removeFirst(start)
            start = 0
        }
        pending.append(contentsOf: bytes)
    }

    /// The next whole unit, nil if more bytes are needed, or the failure (again on every later call).
    public mutating func nextUnit() -> Result<Unit, Failure>? {
        if let failure { return .failure(failure) }
        let available = pending[start...]
        if !sawFileHeader {
            switch FileHeader.decode(available) {
            case .success(let (header, size)):
                sawFileHeader = true
                return .success(.fileHeader(bytes: take(size), header: header))
            case .failure(.truncated): return nil
            case .failure(.notATrace): return fail("not a gotrace stream (bad magic)")
            case .failure(.unsupportedVersion(let version)): return fail("unsupported format version \(version)")
            case .failure(.corrupt(let reason)): return fail("corrupt file header: \(reason)")
            }
        }
        switch ChunkHeader.decode(available) {
        case .success(let (header, size)):
            let total = size + Int(header.storedPayloadSize)
            guard available.count >= total else { return nil }
            return .success(.chunk(bytes: take(total), header: header))
        case .failure(.truncated): return nil
        case .failure(.invalid(let reason)): return fail("corrupt chunk header: \(reason)")
        }
    }

    private mutating func take(_ count: Int) -> [UInt8] {
        let bytes = Array(pending[start..<start + count])
        start += count
        consumedOffset += UInt64(count)
        return bytes
    }

    private mutating func fail(_ reason: String) -> Result<Unit, Failure> {
        let failure = Failure(offset: consumedOffset, reason: reason)
        self.failure = failure
        pending = []
        start = 0
        return .failure(failure)
    }
}
