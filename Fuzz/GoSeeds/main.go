// A small Go program whose execution trace seeds the Go-trace fuzz target (scripts/fuzz.sh): it touches
// the event kinds the fixture programs do not — user tasks, regions and logs, a forced GC, sleeps,
// select, a syscall and timers — in a trace of a few kilobytes. Usage: goseeds TRACE_PATH
package main

import (
	"context"
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"time"
)

func main() {
	out, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	defer out.Close()
	if err := trace.Start(out); err != nil {
		panic(err)
	}
	ctx, task := trace.NewTask(context.Background(), "seed")
	trace.Log(ctx, "phase", "start")
	var wg sync.WaitGroup
	results := make(chan int, 1)
	quit := make(chan struct{})
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			trace.WithRegion(ctx, "work", func() {
				select {
				case results <- i:
				case <-quit:
				case <-time.After(time.Millisecond):
				}
			})
		}(i)
	}
	time.Sleep(2 * time.Millisecond)
	<-results
	close(quit)
	wg.Wait()
	runtime.GC()
	f, _ := os.Open("/dev/null")
	f.Close()
	task.End()
	trace.Stop()
}
