// The seed's second example: fetch several URLs concurrently, one goroutine each, as in Go:
//
//     for _, url := range urls {
//         go func(url string) { resp, _ := http.Get(url); results <- url + " -> " + resp.Status }(url)
//     }
//
// It serves the pages itself, on an ephemeral port of 127.0.0.1, so it needs no network. Results
// arrive in completion order; they are printed in the order of the list.
import GoRuntime

Runtime.run {
    let server: HTTPServer
    do {
        server = try HTTPServer(host: "127.0.0.1", port: 0) { request in
            HTTPResponse(text: "page \(request.path)\n")
        }
    } catch {
        print("cannot start the local server: \(error)")
        return
    }
    let urls = ["/a", "/b", "/c"].map { "http://127.0.0.1:\(server.port)\($0)" }

    let results = Channel<(Int, String)>(capacity: urls.count)
    for (index, url) in urls.enumerated() {
        go {
            do {
                let response = try HTTP.get(url)
                results.send((index, "\(url) -> \(response.statusCode) \(response.reason)"))
            } catch {
                results.send((index, "\(url) -> error: \(error)"))
            }
        }
    }
    var lines = [String](repeating: "", count: urls.count)
    for _ in urls {
        let (index, line) = results.receive()!
        lines[index] = line
    }
    for line in lines { print(line) }
    server.close()
}
