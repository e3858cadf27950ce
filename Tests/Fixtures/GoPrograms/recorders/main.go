// Traces written by Go's other recorders (Go 1.25+): runtime/trace's flight recorder, and net/http/pprof's
// /debug/pprof/trace endpoint. Five goroutines block on a channel receive *before* the recording starts (the
// trace knows them only from their status), three more after it started.
// Usage: recorders flight|http TRACE_PATH
package main

import (
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime/trace"
	"time"
)

const (
	beforeCount = 5
	afterCount  = 3
)

func leakBefore(ch chan int) {
	for i := 0; i < beforeCount; i++ {
		go func() { <-ch }()
	}
}

func leakAfter(ch chan int) {
	for i := 0; i < afterCount; i++ {
		go func() { <-ch }()
	}
}

// busy gives the recording some events besides the leaks.
func busy() {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	for i := 0; i < 1000; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

func main() {
	never := make(chan int)
	leakBefore(never)
	time.Sleep(20 * time.Millisecond)
	out, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	defer out.Close()
	switch os.Args[1] {
	case "flight":
		recorder := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: time.Second, MaxBytes: 4 << 20})
		if err := recorder.Start(); err != nil {
			panic(err)
		}
		leakAfter(never)
		busy()
		time.Sleep(50 * time.Millisecond)
		if _, err := recorder.WriteTo(out); err != nil {
			panic(err)
		}
		recorder.Stop()
	case "http":
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		go http.Serve(listener, nil)
		go func() {
			time.Sleep(200 * time.Millisecond)
			leakAfter(never)
			busy()
		}()
		response, err := http.Get("http://" + listener.Addr().String() + "/debug/pprof/trace?seconds=1")
		if err != nil {
			panic(err)
		}
		defer response.Body.Close()
		if _, err := io.Copy(out, response.Body); err != nil {
			panic(err)
		}
	}
}
