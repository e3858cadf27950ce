// TCP.swift — goroutine-blocking TCP sockets on the network poller.
//
// Every socket is created non-blocking (SOCK_NONBLOCK, accept4) and close-on-exec, and registered
// with the poller once. An operation tries its system call; on EAGAIN it waits on the poll
// descriptor (NetPoller.swift), which parks the goroutine — not the thread — until the socket is
// ready, its deadline passes, or it is closed. Outside a goroutine the same calls block the
// thread in poll(2), so the types also work from plain threads (tests, command-line tools).
//
// Writes use send(MSG_NOSIGNAL): a peer that went away yields EPIPE, never SIGPIPE.
// Name resolution uses getaddrinfo inside Runtime.blockingCall: it blocks its M but hands the P on
// (no resolver on the poller yet).
import CGoRuntime

#if canImport(Glibc)
import Glibc
#endif

/// A network error, with the system's errno where there is one. Every throwing call of
/// `TCPListener` and `TCPConnection` throws this type (declared plain `throws`: with typed throws,
/// a call inside a rethrowing closure such as `withUnsafeMutableBytes` crashes Swift 6.3's
/// optimizer in release builds).
public struct NetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of failure.
    public enum Code: Sendable, Equatable {
        /// A system call failed; `errno` says why.
        case system
        /// The read or write deadline passed (`errno` is ETIMEDOUT).
        case timedOut
        /// The socket was closed, by this side, while or before the operation ran (`errno` is EBADF).
        case closed
        /// The host name did not resolve (`errno` is 0; `detail` has getaddrinfo's message).
        case resolution
    }

    /// The kind of failure; see ``Code``.
    public let code: Code
    /// The system's error number (`ECONNREFUSED`, …); for the other codes, see ``Code``.
    public let errno: Int32
    /// The operation that failed: "read", "write", "accept", "connect", "listen", ...
    public let operation: String
    /// The system's message for `errno` (`Connection refused`), or getaddrinfo's for a resolution failure.
    public let detail: String

    init(_ code: Code, operation: String, detail: String = "") {
        self.code = code
        self.operation = operation
        self.detail = detail
        switch code {
        case .timedOut: errno = ETIMEDOUT
        case .closed: errno = EBADF
        case .system, .resolution: errno = 0
        }
    }

    init(errno: Int32, operation: String) {
        code = .system
        self.errno = errno
        self.operation = operation
        detail = String(cString: strerror(errno))
    }

    /// Whether a deadline or timeout passed (Go's `os.ErrDeadlineExceeded`).
    public var isTimeout: Bool { code == .timedOut }

    /// The operation and what went wrong, worded as Go's net package words it: `read: i/o timeout`.
    public var description: String {
        switch code {
        case .system: return "\(operation): \(detail) (errno \(errno))"
        case .timedOut: return "\(operation): i/o timeout"
        case .closed: return "\(operation): use of closed network connection"
        case .resolution: return "\(operation): \(detail)"
        }
    }
}

/// An IPv4 or IPv6 socket address.
public struct SocketAddress: CustomStringConvertible, Sendable, Equatable {
    /// The numeric host: "127.0.0.1", "::1".
    public let host: String
    /// The port number.
    public let port: Int
    /// Whether `host` is an IPv6 address.
    public let isIPv6: Bool

    /// `host:port`, with the host in brackets for IPv6: `[::1]:8080`.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    init?(_ storage: UnsafePointer<sockaddr>) {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.pointee.sa_family) {
        case AF_INET:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            var raw = address.sin_addr
            inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
            host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            port = Int(UInt16(bigEndian: address.sin_port))
            isIPv6 = false
        case AF_INET6:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in6.self)
            var raw = address.sin6_addr
            inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
            host = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            port = Int(UInt16(bigEndian: address.sin6_port))
            isIPv6 = true
        default:
            return nil
        }
    }

    /// Resolves `host` (a numeric address, or a name: getaddrinfo in a blocking call) for TCP.
    static func resolve(_ host: String, port: Int, passive: Bool) throws(NetError) -> [ResolvedAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = passive ? AI_PASSIVE : 0
        var list: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let service = String(port)
        // A numeric address resolves at once; only a name may wait on DNS, which runs as a blocking
        // call so that the goroutine's P keeps running others meanwhile.
        hints.ai_flags |= AI_NUMERICHOST
        var rc = getaddrinfo(name.isEmpty ? nil : name, service, &hints, &list)
        if rc == EAI_NONAME, !name.isEmpty {
            hints.ai_flags &= ~AI_NUMERICHOST
            rc = Runtime.blockingCall { getaddrinfo(name, service, &hints, &list) }
        }
        if rc != 0 {
            throw NetError(.resolution, operation: "lookup \(host)", detail: String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var result: [ResolvedAddress] = []
        var cursor = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr, entry.pointee.ai_addrlen <= MemoryLayout<sockaddr_storage>.size {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen)))
                }
                result.append(ResolvedAddress(storage: storage, length: entry.pointee.ai_addrlen, family: entry.pointee.ai_family))
            }
            cursor = entry.pointee.ai_next
        }
        if result.isEmpty { throw NetError(.resolution, operation: "lookup \(host)", detail: "no addresses") }
        return result
    }
}

struct ResolvedAddress {
    var storage: sockaddr_storage
    var length: socklen_t
    var family: Int32
}

/// A socket registered with the poller; closes itself when the last owner lets go.
final class Socket: @unchecked Sendable {
    let descriptor: PollDescriptor
    /// The descriptor's incarnation this socket owns (descriptors are recycled after close).
    let generation: UInt64

    init(descriptor: PollDescriptor, generation: UInt64) {
        self.descriptor = descriptor
        self.generation = generation
    }

    deinit { descriptor.close(generation) }

    /// Closes the socket (see PollDescriptor.close). Idempotent.
    func close() { descriptor.close(generation) }

    func setDeadline(_ deadline: Int64, _ mode: PollMode) { descriptor.setDeadline(deadline, mode, generation) }

    /// Opens a non-blocking, close-on-exec TCP socket and registers it.
    static func open(family: Int32) throws(NetError) -> Socket {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw NetError(errno: errno, operation: "socket") }
        return try adopt(fd)
    }

    static func adopt(_ fd: Int32) throws(NetError) -> Socket {
        do {
            let (descriptor, generation) = try netPoller.register(fd)
            return Socket(descriptor: descriptor, generation: generation)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Runs `body` with the fd while holding an operation reference.
    @inline(__always)
    func withFD<T>(_ operation: String, _ body: (Int32) throws(NetError) -> T) throws(NetError) -> T {
        let fd = try descriptor.acquire(operation, generation)
        defer { descriptor.release() }
        return try body(fd)
    }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        _ = try? withFD("setsockopt") { fd in
            setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    func address(peer: Bool) -> SocketAddress? {
        try? withFD("getsockname") { fd in
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            return withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> SocketAddress? in
                    let rc = peer ? getpeername(fd, address, &length) : getsockname(fd, address, &length)
                    return rc == 0 ? SocketAddress(address) : nil
                }
            }
        }
    }
}

/// A listening TCP socket. `accept` parks the calling goroutine until a connection arrives.
public final class TCPListener: @unchecked Sendable {
    let socket: Socket
    /// The bound address (with the port the kernel chose when asked for port 0).
    public let address: SocketAddress

    /// Listens on `host` ("127.0.0.1", "::1", "0.0.0.0", "::", or a name) and `port` (0: any free
    /// port). `backlog` is capped by the kernel's somaxconn.
    ///
    /// - Throws: ``NetError``: ``NetError/Code/resolution`` if `host` does not resolve, ``NetError/Code/system`` if no
    ///   address can be bound (`EADDRINUSE`, `EACCES`).
    public static func listen(host: String = "127.0.0.1", port: Int = 0, backlog: Int = 4096) throws -> TCPListener {
        let candidates = try SocketAddress.resolve(host, port: port, passive: true)
        var lastError = NetError(.resolution, operation: "listen", detail: "no addresses")
        for var candidate in candidates {
            do throws(NetError) {
                let socket = try Socket.open(family: candidate.family)
                // Rebinding a port with connections in TIME_WAIT must work (tests, restarts).
                socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
                if candidate.family == AF_INET6 { socket.setOption(Int32(IPPROTO_IPV6), IPV6_V6ONLY, 1) }
                try socket.withFD("listen") { fd throws(NetError) in
                    let rc = withUnsafePointer(to: &candidate.storage) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, candidate.length) }
                    }
                    if rc != 0 { throw NetError(errno: errno, operation: "bind") }
                    if Glibc.listen(fd, Int32(clamping: backlog)) != 0 { throw NetError(errno: errno, operation: "listen") }
                }
                guard let bound = socket.address(peer: false) else { throw NetError(errno: errno, operation: "getsockname") }
                return TCPListener(socket: socket, address: bound)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    init(socket: Socket, address: SocketAddress) {
        self.socket = socket
        self.address = address
    }

    /// The bound port: the one the kernel chose when asked for port 0.
    public var port: Int { address.port }

    /// Waits for the next connection. Throws `.closed` once the listener is closed (also when
    /// closed by another goroutine while this one waits).
    ///
    /// - Throws: ``NetError``: ``NetError/Code/closed`` once the listener is closed, ``NetError/Code/system`` otherwise
    ///   (`EMFILE` when out of descriptors).
    public func accept() throws -> TCPConnection {
        Scheduler.preemptionPoint()
        let descriptor = socket.descriptor
        return try socket.withFD("accept") { fd throws(NetError) in
            while true {
                let client = gort_accept4(fd)
                if client >= 0 {
                    let connection = TCPConnection(socket: try Socket.adopt(client))
                    connection.socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                    return connection
                }
                switch errno {
                case EAGAIN, EWOULDBLOCK: try descriptor.wait(.read, "accept")
                // The connection died in the queue, or a signal: try the next one.
                case EINTR, ECONNABORTED, EPROTO: continue
                case let code: throw NetError(errno: code, operation: "accept")
                }
            }
        }
    }

    /// Stops listening; a goroutine blocked in `accept` fails with `.closed`. Idempotent.
    public func close() { socket.close() }
}

/// A TCP connection. `read` and `write` park the calling goroutine while the socket is not ready.
/// One reader and one writer may use a connection at the same time (from different goroutines);
/// `close` and the deadline setters may be called from any goroutine.
public final class TCPConnection: @unchecked Sendable {
    let socket: Socket

    init(socket: Socket) { self.socket = socket }

    /// Connects to `host`:`port`, trying each resolved address in turn. With `timeout`, gives up
    /// on an address after that long.
    ///
    /// - Throws: ``NetError``: ``NetError/Code/resolution`` if `host` does not resolve; otherwise the last address's
    ///   failure: ``NetError/Code/timedOut`` after `timeout`, ``NetError/Code/system`` (`ECONNREFUSED`, …).
    public static func connect(host: String, port: Int, timeout: Duration? = nil) throws -> TCPConnection {
        let candidates = try SocketAddress.resolve(host, port: port, passive: false)
        var lastError = NetError(.resolution, operation: "connect", detail: "no addresses")
        for var candidate in candidates {
            do throws(NetError) {
                let socket = try Socket.open(family: candidate.family)
                if let timeout { socket.setDeadline(gort_nanotime() + nanoseconds(timeout), .write) }
                try socket.withFD("connect") { fd throws(NetError) in
                    let rc = withUnsafePointer(to: &candidate.storage) { pointer in
                        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, candidate.length) }
                    }
                    if rc == 0 { return }
                    guard errno == EINPROGRESS || errno == EINTR else { throw NetError(errno: errno, operation: "connect") }
                    // Writable means the handshake finished, one way or the other: SO_ERROR says which.
                    while true {
                        try socket.descriptor.wait(.write, "connect")
                        var failure: Int32 = 0
                        var length = socklen_t(MemoryLayout<Int32>.size)
                        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0 {
                            throw NetError(errno: errno, operation: "connect")
                        }
                        if failure == 0 {
                            // A wake-up can be spurious (readiness left by an earlier socket with the same
                            // descriptor number), and SO_ERROR is 0 while the handshake is still under way:
                            // connected only if there is a peer, as Go checks (its issues 14548 and 19289).
                            // Without this, connect returned early and the first write timed out instead.
                            var peer = sockaddr_storage()
                            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                            let named = withUnsafeMutablePointer(to: &peer) { pointer in
                                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &peerLength) }
                            }
                            if named == 0 { return }
                            if errno == ENOTCONN { continue }
                            throw NetError(errno: errno, operation: "connect")
                        }
                        if failure == EINPROGRESS || failure == EALREADY { continue }
                        throw NetError(errno: failure, operation: "connect")
                    }
                }
                if timeout != nil { socket.setDeadline(0, .write) }
                socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                return TCPConnection(socket: socket)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// This side's address, or nil once the connection is closed.
    public var localAddress: SocketAddress? { socket.address(peer: false) }
    /// The peer's address, or nil once the connection is closed or the peer has gone.
    public var remoteAddress: SocketAddress? { socket.address(peer: true) }

    /// Reads at most `buffer.count` bytes; returns 0 at end of stream.
    ///
    /// - Throws: ``NetError``: ``NetError/Code/timedOut`` after the read deadline, ``NetError/Code/closed`` if the
    ///   connection was closed, ``NetError/Code/system`` otherwise (`ECONNRESET`).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        Scheduler.preemptionPoint()
        let descriptor = socket.descriptor
        return try socket.withFD("read") { fd throws(NetError) in
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                if n >= 0 { return n }
                switch errno {
                case EAGAIN, EWOULDBLOCK: try descriptor.wait(.read, "read")
                case EINTR: continue
                case let code: throw NetError(errno: code, operation: "read")
                }
            }
        }
    }

    /// Reads at most `maxLength` bytes; an empty result means end of stream.
    ///
    /// - Throws: ``NetError``, as ``read(into:)`` does.
    public func read(maxLength: Int = 65536) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: maxLength)
        let n = try result.withUnsafeMutableBytes { try read(into: $0) }
        result.removeSubrange(n...)
        return result
    }

    /// Writes all of `buffer`, parking while the socket's send buffer is full.
    ///
    /// - Throws: ``NetError``: ``NetError/Code/timedOut`` after the write deadline, ``NetError/Code/closed`` if the
    ///   connection was closed, ``NetError/Code/system`` otherwise (`EPIPE` when the peer has gone).
    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        Scheduler.preemptionPoint()
        let descriptor = socket.descriptor
        try socket.withFD("write") { fd throws(NetError) in
            var offset = 0
            while offset < buffer.count {
                let n = send(fd, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if n >= 0 {
                    offset += n
                    continue
                }
                switch errno {
                case EAGAIN, EWOULDBLOCK: try descriptor.wait(.write, "write")
                case EINTR: continue
                case let code: throw NetError(errno: code, operation: "write")
                }
            }
        }
    }

    /// Writes all of `bytes`, parking while the socket's send buffer is full.
    ///
    /// - Parameter bytes: What to send.
    /// - Throws: ``NetError``: ``NetError/Code/timedOut`` after the write deadline,
    ///   ``NetError/Code/closed`` if the connection was closed, ``NetError/Code/system`` otherwise (`EPIPE`
    ///   when the peer has gone).
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes `text` encoded as UTF-8, parking while the socket's send buffer is full.
    ///
    /// - Parameter text: What to send.
    /// - Throws: ``NetError``, as for the `[UInt8]` overload.
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Reads after `deadline` fail with ``NetError/Code/timedOut``; one blocked now wakes at
    /// `deadline` (at once if it has passed). nil clears it. As in Go, a deadline is a point in
    /// time, not a per-call timeout.
    public func setReadDeadline(_ deadline: ContinuousClock.Instant?) {
        socket.setDeadline(Self.runtimeTime(deadline), .read)
    }

    /// Writes after `deadline` fail with ``NetError/Code/timedOut``; one blocked now wakes at `deadline`
    /// (at once if it has passed). nil clears it. A point in time, not a per-call timeout.
    public func setWriteDeadline(_ deadline: ContinuousClock.Instant?) {
        socket.setDeadline(Self.runtimeTime(deadline), .write)
    }

    /// Sets the read and the write deadline to `deadline` (nil clears both).
    public func setDeadline(_ deadline: ContinuousClock.Instant?) {
        setReadDeadline(deadline)
        setWriteDeadline(deadline)
    }

    /// Shuts down the sending side: the peer reads end of stream; reading still works.
    ///
    /// - Throws: ``NetError``: ``NetError/Code/closed`` if the connection was closed, ``NetError/Code/system`` otherwise.
    public func closeWrite() throws {
        try socket.withFD("shutdown") { fd throws(NetError) in
            if shutdown(fd, Int32(SHUT_WR)) != 0 { throw NetError(errno: errno, operation: "shutdown") }
        }
    }

    /// Closes the connection; goroutines blocked in `read` or `write` fail with `.closed`. The fd
    /// itself is closed once the last of them has left. Idempotent.
    public func close() { socket.close() }

    /// gort_nanotime for a ContinuousClock instant (0 for none; a past instant stays in the past).
    static func runtimeTime(_ instant: ContinuousClock.Instant?) -> Int64 {
        guard let instant else { return 0 }
        let left = nanoseconds(instant - ContinuousClock.now)
        return max(1, gort_nanotime() + left)
    }
}
