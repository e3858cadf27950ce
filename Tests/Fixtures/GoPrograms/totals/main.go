// Blocking and scheduling totals to compare with `go tool trace -pprof=sync|sched`: channel ping-pong,
// mutex contention and a WaitGroup; no timers, no sleeps. Usage: totals TRACE_PATH
package main

import (
	"os"
	"runtime/trace"
	"sync"
)

func pingPong(rounds int) {
	ping, pong := make(chan int), make(chan int)
	done := make(chan bool)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(done)
	}()
	for i := 0; i < rounds; i++ {
		ping <- i
		<-pong
	}
	close(ping)
	<-done
}

func contention(workers, iterations int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iterations; i++ {
				mu.Lock()
				for j := 0; j < 2000; j++ {
					counter += j & 1
				}
				mu.Unlock()
			}
		}()
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
	pingPong(3000)
	contention(4, 300)
	trace.Stop()
	out.Close()
}
