import GoRuntime
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Stopping the world for a trace's start and stop (Scheduler+WorldStop.swift): the program carries on
/// after each, whatever was running — channels, timers, spawns, blocking calls — and stops that race each
/// other finish. (That each trace then reconciles exactly is FinalSnapshotTests' part, in GoTraceTests.)
@Suite struct WorldStopTests {
    /// Work counted by the goroutines of the workload below.
    final class Progress: Sendable {
        let pingPongs = Atomic<Int>(0)
        let sleeps = Atomic<Int>(0)
        let spawned = Atomic<Int>(0)
        let blockingCalls = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)

        var total: Int {
            pingPongs.load(ordering: .relaxed) + sleeps.load(ordering: .relaxed) + spawned.load(ordering: .relaxed)
                + blockingCalls.load(ordering: .relaxed)
        }
    }

    @Test("recordings started and stopped mid-workload, some stops racing each other: the program carries on")
    func recordingsStartAndStopMidWorkload() async throws {
        // A separate process: tracing is process-wide, and other tests run meanwhile.
        await #expect(processExitsWith: .exitCode(0)) {
            let path = "/tmp/gotrace-world-stop-\(getpid()).gtrace"
            let progress = Progress()
            let carriedOn = Runtime.run(maxProcs: 2) { () -> Bool in
                let everyone = WaitGroup()
                func worker(_ body: @escaping @Sendable () -> Void) {
                    everyone.add(1)
                    go {
                        body()
                        everyone.done()
                    }
                }
                let running: @Sendable () -> Bool = { !progress.stopping.load(ordering: .relaxed) }
                let ping = Channel<Int>()
                let pong = Channel<Int>()
                worker { for value in ping { pong.send(value) } }
                worker {
                    while running() {
                        ping.send(1)
                        _ = pong.receive()
                        progress.pingPongs.add(1, ordering: .relaxed)
                    }
                    ping.close()
                }
                worker {
                    while running() {
                        Runtime.sleep(for: .milliseconds(1))
                        progress.sleeps.add(1, ordering: .relaxed)
                    }
                }
                worker {
                    while running() {
                        let batch = WaitGroup()
                        for _ in 0..<10 {
                            batch.add(1)
                            go { batch.done() }
                        }
                        batch.wait()
                        progress.spawned.add(10, ordering: .relaxed)
                    }
                }
                worker {
                    while running() {
                        Runtime.blockingCall { _ = usleep(200) }
                        progress.blockingCalls.add(1, ordering: .relaxed)
                    }
                }
                var progressedAfterEachStop = true
                for round in 0..<5 {
                    do { try Trace.start(to: path) } catch { exit(5) }
                    Runtime.sleep(for: .milliseconds(20))
                    let racing = WaitGroup()
                    if round % 2 == 1 {
                        // A second stop at the same time, from another goroutine: stops take turns.
                        racing.add(1)
                        go {
                            Trace.stop()
                            racing.done()
                        }
                    }
                    Trace.stop()
                    racing.wait()
                    if Trace.isRecording { return false }
                    // The world restarted: every kind of work moves on.
                    let before = progress.total
                    for _ in 0..<500 where progress.total == before { Runtime.sleep(for: .milliseconds(10)) }
                    if progress.total == before { progressedAfterEachStop = false }
                }
                progress.stopping.store(true, ordering: .relaxed)
                everyone.wait()
                return progressedAfterEachStop
            }
            unlink(path)
            let sleeps = progress.sleeps.load(ordering: .relaxed)
            let blockingCalls = progress.blockingCalls.load(ordering: .relaxed)
            // The status names what failed: 2 the program did not carry on, 3 no sleep, 4 no blocking call,
            // 5 a recording did not start (1 is a sanitizer's report in a sanitizer build).
            exit(!carriedOn ? 2 : sleeps == 0 ? 3 : blockingCalls == 0 ? 4 : 0)
        }
    }
}
