// Once.swift — runs an action exactly once (Go's sync.Once). Callers that arrive while the action
// runs wait for it to finish, so that after `run` returns the action's effects are visible.
import Synchronization

public final class Once: @unchecked Sendable {
    private let done = Atomic<Bool>(false)
    private let mutex = Mutex()

    public init() {}

    public func run(_ action: () throws -> Void) rethrows {
        if done.load(ordering: .acquiring) { return }
        mutex.lock()
        defer { mutex.unlock() }
        if !done.load(ordering: .relaxed) {
            defer { done.store(true, ordering: .releasing) }
            try action()
        }
    }
}
