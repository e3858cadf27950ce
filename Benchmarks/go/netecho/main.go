// netecho: loopback TCP echo through Go's netpoller — the peer of GoBench's netecho
// (Benchmarks/Sources/GoBench/NetEcho.swift), doing the same work under the same client load.
//
// One process holds both ends: a server goroutine per connection echoes what it reads; -c client
// goroutines each do -n round trips of a -b byte message (write it, read it all back), timing each.
// A warm-up of n/10 round trips per client first. Prints one RESULT line: round trips per second
// over all clients and the p50/p99 round-trip latency in µs.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"sort"
	"sync"
	"time"
)

func serveEcho(listener net.Listener) {
	for {
		conn, err := listener.Accept()
		if err != nil {
			return
		}
		go func(conn net.Conn) {
			buf := make([]byte, 16*1024)
			for {
				n, err := conn.Read(buf)
				if n > 0 {
					if _, werr := conn.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			conn.Close()
		}(conn)
	}
}

func run(addr string, clients, rounds, size int) (time.Duration, []int64) {
	var wg sync.WaitGroup
	results := make(chan []int64, clients)
	start := time.Now()
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				panic(err)
			}
			message := make([]byte, size)
			for j := range message {
				message[j] = 'a'
			}
			reply := make([]byte, size)
			samples := make([]int64, 0, rounds)
			for r := 0; r < rounds; r++ {
				t0 := time.Now()
				if _, err := conn.Write(message); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(conn, reply); err != nil {
					panic(err)
				}
				samples = append(samples, time.Since(t0).Nanoseconds())
			}
			conn.Close()
			results <- samples
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []int64
	for i := 0; i < clients; i++ {
		all = append(all, <-results...)
	}
	return elapsed, all
}

func main() {
	clients := flag.Int("c", 64, "client connections")
	rounds := flag.Int("n", 20000, "round trips per client")
	size := flag.Int("b", 64, "message bytes")
	flag.Parse()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go serveEcho(listener)
	addr := listener.Addr().String()
	warm := *rounds / 10
	if warm < 1 {
		warm = 1
	}
	run(addr, *clients, warm, *size)
	elapsed, samples := run(addr, *clients, *rounds, *size)
	listener.Close()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	quantile := func(q float64) float64 {
		i := int(q * float64(len(samples)))
		if i >= len(samples) {
			i = len(samples) - 1
		}
		return float64(samples[i]) / 1000
	}
	total := *clients * *rounds
	fmt.Printf("RESULT impl=%s bench=netecho procs=%d c=%d n=%d b=%d rtt_per_sec=%.2f p50_us=%.2f p99_us=%.2f\n",
		runtime.Version(), runtime.GOMAXPROCS(0), *clients, *rounds, *size,
		float64(total)/elapsed.Seconds(), quantile(0.50), quantile(0.99))
}
