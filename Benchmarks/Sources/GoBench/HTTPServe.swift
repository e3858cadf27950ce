// httpserve: GoRuntime's HTTPServer under an external load generator (peer: Benchmarks/go/httpserve).
//
// Serves `GET /` with a 14-byte text body ("Hello, World!\n", Content-Type text/plain) on 127.0.0.1:-port
// (0: an ephemeral port), prints `LISTENING port=N`, and serves until killed. http-bench.sh drives it
// and the Go net/http peer with the same wrk load.
import GoRuntime

import Glibc

func httpServeBench(_ args: Arguments) {
    let port = args.values["port"].flatMap { Int($0) } ?? 0
    let server: HTTPServer
    do {
        server = try HTTPServer(host: "127.0.0.1", port: port) { _ in
            HTTPResponse(headers: ["Content-Type": "text/plain; charset=utf-8"], text: "Hello, World!\n")
        }
    } catch {
        usage("cannot listen: \(error)")
    }
    // write(2), not print: the script reads this line while the process runs, and stdout is a pipe.
    var line = Array("LISTENING port=\(server.port)\n".utf8)
    _ = line.withUnsafeMutableBytes { write(1, $0.baseAddress, $0.count) }
    // Serve until killed: the listener's goroutine keeps the runtime busy (a socket may always
    // become ready, so this is never reported as a deadlock).
    _ = Channel<Int>().receive()
}
