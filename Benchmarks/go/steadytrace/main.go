// steadytrace writes an execution trace at a steady event rate for a given time, so that a trace ten times
// longer has ten times the generations (Go cuts one about every second) rather than larger ones: the input
// of Benchmarks/go-trace-memory.sh, which checks that gotrace's memory follows the generation, not the file.
//
//	steadytrace -seconds 2 -rate 80000 -trace out.trace
//
// Two goroutines exchange -rate round trips per second over an unbuffered channel (about six trace events
// each), in slices of 10 ms so the rate stays even within a generation.
package main

import (
	"flag"
	"log"
	"os"
	"runtime/trace"
	"time"
)

func main() {
	seconds := flag.Float64("seconds", 2, "how long to trace")
	rate := flag.Int("rate", 80000, "round trips per second")
	path := flag.String("trace", "steady.trace", "where to write the trace")
	flag.Parse()
	file, err := os.Create(*path)
	if err != nil {
		log.Fatal(err)
	}
	if err := trace.Start(file); err != nil {
		log.Fatal(err)
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for value := range ping {
			pong <- value
		}
		close(pong)
	}()
	const slice = 10 * time.Millisecond
	perSlice := *rate / int(time.Second/slice)
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	for next := start; next.Before(deadline); next = next.Add(slice) {
		for i := 0; i < perSlice; i++ {
			ping <- i
			<-pong
		}
		time.Sleep(time.Until(next.Add(slice)))
	}
	close(ping)
	<-pong
	trace.Stop()
	if err := file.Close(); err != nil {
		log.Fatal(err)
	}
}
