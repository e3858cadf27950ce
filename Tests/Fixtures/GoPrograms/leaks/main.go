// Leaks with known counts: each function leaves goroutines blocked forever, then main stops the trace
// while they are still alive. Usage: leaks TRACE_PATH
package main

import (
	"os"
	"runtime/trace"
	"sync"
	"time"
)

// Counts the test expects (Tests/GoTraceGoTests/GoTraceLeakTests.swift).
const (
	recvCount      = 10
	sendCount      = 7
	selectCount    = 5
	mutexCount     = 4
	waitGroupCount = 3
	condCount      = 6
)

func leakRecv() {
	ch := make(chan int)
	for i := 0; i < recvCount; i++ {
		go func() { <-ch }()
	}
}

func leakSend() {
	ch := make(chan int)
	for i := 0; i < sendCount; i++ {
		go func() { ch <- 1 }()
	}
}

func leakSelect() {
	a, b := make(chan int), make(chan int)
	for i := 0; i < selectCount; i++ {
		go func() {
			select {
			case <-a:
			case <-b:
			}
		}()
	}
}

var held sync.Mutex

func leakMutex() {
	held.Lock()
	for i := 0; i < mutexCount; i++ {
		go func() { held.Lock() }()
	}
}

func leakWaitGroup() {
	var wg sync.WaitGroup
	wg.Add(1)
	for i := 0; i < waitGroupCount; i++ {
		go func() { wg.Wait() }()
	}
}

func leakCond() {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	for i := 0; i < condCount; i++ {
		go func() {
			mu.Lock()
			cond.Wait()
			mu.Unlock()
		}()
	}
}

// Two goroutines take two mutexes in opposite orders: a lock-order deadlock.
func leakDeadlock() {
	var a, b sync.Mutex
	ready := make(chan bool, 2)
	go func() {
		a.Lock()
		ready <- true
		time.Sleep(5 * time.Millisecond)
		b.Lock()
	}()
	go func() {
		b.Lock()
		ready <- true
		time.Sleep(5 * time.Millisecond)
		a.Lock()
	}()
	<-ready
	<-ready
}

func main() {
	out, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(out); err != nil {
		panic(err)
	}
	leakRecv()
	leakSend()
	leakSelect()
	leakMutex()
	leakWaitGroup()
	leakCond()
	leakDeadlock()
	time.Sleep(50 * time.Millisecond) // every goroutine reaches its block
	// A pending timer while the trace stops: in Go 1.19, with every other goroutine blocked, main waiting in
	// trace.Stop for the trace reader could be taken for a deadlock ("all goroutines are asleep", seen once
	// in a loaded test run); the runtime's deadlock check never fires while a timer is pending. A sleeping
	// goroutine is not a leak (the leak report leaves sleepers out).
	go func() { time.Sleep(time.Hour) }()
	trace.Stop()
	out.Close()
}
