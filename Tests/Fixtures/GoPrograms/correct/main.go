// Correct concurrent programs: a worker pool, a pipeline closed properly, context cancellation and
// timers. No goroutine outlives its work. Usage: correct TRACE_PATH
package main

import (
	"context"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

func workerPool() {
	jobs := make(chan int)
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- j * j
			}
		}()
	}
	for i := 0; i < 100; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func pipeline() {
	source := make(chan int)
	squares := make(chan int)
	go func() {
		defer close(source)
		for i := 0; i < 200; i++ {
			source <- i
		}
	}()
	go func() {
		defer close(squares)
		for v := range source {
			squares <- v * v
		}
	}()
	total := 0
	for v := range squares {
		total += v
	}
	_ = total
}

func cancellation() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-ctx.Done()
		}()
	}
	time.Sleep(2 * time.Millisecond)
	cancel()
	wg.Wait()
}

func timers() {
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			timer := time.NewTimer(time.Duration(i) * time.Millisecond)
			<-timer.C
		}(i)
	}
	wg.Wait()
}

func main() {
	out, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(out); err != nil {
		panic(err)
	}
	workerPool()
	pipeline()
	cancellation()
	timers()
	time.Sleep(20 * time.Millisecond)
	trace.Stop()
	out.Close()
}
