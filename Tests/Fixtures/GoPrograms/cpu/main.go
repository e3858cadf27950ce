// CPU work traced while the CPU profiler runs: the trace's CPU samples and the profile count the same
// ticks. About three quarters of the time in hashHeavy, a quarter in hashLight.
// Usage: cpu TRACE_PATH PROFILE_PATH [FLIGHT_RECORDER_PATH]
package main

import (
	"os"
	"runtime/pprof"
	"runtime/trace"
	"time"
)

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
	deadline := time.Now().Add(1500 * time.Millisecond)
	x := uint64(1)
	for time.Now().Before(deadline) {
		x = hashHeavy(x)
		x = hashLight(x)
	}
	sink = x
	trace.Stop()
	pprof.StopCPUProfile()
	traceFile.Close()
	profileFile.Close()
}
