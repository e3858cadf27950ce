// httpserve: Go 1.19's net/http server — the peer of GoBench's httpserve
// (Benchmarks/Sources/GoBench/HTTPServe.swift), doing the same work under the same wrk load.
//
// Serves GET / with a 14-byte text body ("Hello, World!\n", Content-Type text/plain) on 127.0.0.1:-port
// (0: an ephemeral port), prints "LISTENING port=N", and serves until killed. GOMAXPROCS sets the procs.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	port := flag.Int("port", 0, "port (0: ephemeral)")
	flag.Parse()
	listener, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING port=%d\n", listener.Addr().(*net.TCPAddr).Port)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Hello, World!\n")
	})
	http.Serve(listener, nil)
}
