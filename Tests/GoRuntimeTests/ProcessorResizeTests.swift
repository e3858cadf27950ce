// Lowering the number of Ps while goroutines run: a P beyond the new count stays with its M until that M
// next schedules, and the deadlock check must count it as busy meanwhile. The state is built by hand with
// the scheduler's own resize, because the window in which `Runtime.run(maxProcs:)` opens it (a run with
// fewer Ps than the previous one, whose main goroutine lands on a retiring P) is microseconds wide.
@testable import GoRuntime
import CGoRuntime
import Synchronization
import Testing

@Suite("Processor resizing")
struct ProcessorResizeTests {
    @Test("a goroutine still running on a P beyond a lowered count is no deadlock while every other P idles")
    func runningOnRetiringProcessorIsNoDeadlock() {
        let delivered = Runtime.run(maxProcs: 2) { () -> Int in
            let started = Atomic<Int>(0)
            let lowered = Atomic<Bool>(false)
            let handOff = Channel<Int>()
            let done = Channel<Bool>(capacity: 2)
            // Both goroutines spin until each holds a P, then play by the index of theirs: the one on P 1
            // lowers the count to 1 and keeps running past it; the one on P 0 parks, which leaves P 0 idle,
            // nothing runnable, no timer — the state in which a sleeping M used to declare a deadlock.
            @Sendable func play() {
                _ = started.add(1, ordering: .acquiringAndReleasing)
                while started.load(ordering: .acquiring) < 2 {}
                let onRetiringProcessor = Scheduler.currentMachine()?.processor?.id == 1
                if onRetiringProcessor {
                    scheduler.setProcessorCount(1)
                    lowered.store(true, ordering: .releasing)
                    // Long enough for the other M to park its goroutine, find nothing and go to sleep.
                    let end = gort_nanotime() + 200_000_000
                    while gort_nanotime() < end {}
                    handOff.send(42)
                } else {
                    while !lowered.load(ordering: .acquiring) {}
                    _ = handOff.receive()
                }
                done.send(onRetiringProcessor)
            }
            go { play() }
            play()
            let roles = [done.receive()!, done.receive()!]
            #expect(Set(roles) == [false, true], "one goroutine held each P")
            // Inside the run: once it returns, another test's run may set its own count at once (a stress
            // run saw 2 here after the run).
            #expect(Runtime.maxProcs == 1)
            return 42
        }
        #expect(delivered == 42)
    }
}
