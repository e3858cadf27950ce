// CPU work traced while the CPU profiler runs: the trace's CPU samples and the profile count the same
// ticks. About three quarters of the time in hashHeavy, a quarter in hashLight.
// Usage: cpu TRACE_PATH PROFILE_PATH [FLIGHT_RECORDER_PATH]
package main

import (
	"os"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		panic(err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

var sink uint64

//go:noinline
func mix(x uint64, rounds int) uint64 {
	for i := 0; i < rounds; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

//go:noinline
func hashHeavy(seed uint64) uint64 { return mix(seed, 3000) }

//go:noinline
func hashLight(seed uint64) uint64 { return mix(seed, 1000) }

func main() {
	traceFile, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	profileFile, err := os.Create(os.Args[2])
	if err != nil {
		panic(err)
	}
	// The profiler first: the trace records CPU samples only while a profile runs.
	if err := pprof.StartCPUProfile(profileFile); err != nil {
		panic(err)
	}
	if err := trace.Start(traceFile); err != nil {
		panic(err)
	}
	// 600 ms of this process's own CPU time (~60 samples at the profiler's 100 Hz), not of wall time: on a
	// loaded machine a wall-clock span got as few as 9 samples. The wall-clock cap only keeps a stuck
	// run from hanging.
	start := cpuTime()
	limit := time.Now().Add(60 * time.Second)
	x := uint64(1)
	for cpuTime()-start < 600*time.Millisecond && time.Now().Before(limit) {
		for i := 0; i < 16; i++ {
			x = hashHeavy(x)
			x = hashLight(x)
		}
	}
	sink = x
	trace.Stop()
	pprof.StopCPUProfile()
	traceFile.Close()
	profileFile.Close()
}
