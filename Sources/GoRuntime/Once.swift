// Once.swift — runs an action exactly once (Go's sync.Once). Callers that arrive while the action
// runs wait for it to finish, so that after `run` returns the action's effects are visible.
import Synchronization

/// Runs an action exactly once however many goroutines ask (Go's `sync.Once`).
public final class Once: @unchecked Sendable {
    private let done = Atomic<Bool>(false)
    private let mutex = Mutex()

    /// A `Once` whose action has not run yet.
    public init() {}

    /// Runs `action` if no call of `run` on this object has run one yet; otherwise returns at once.
    ///
    /// A caller that arrives while another's action is running waits for it to finish, so after `run`
    /// returns the action's effects are visible. The action counts as done even if it throws, as a Go
    /// `sync.Once` counts a panicking function: later calls do not retry it.
    /// Precondition: `action` does not call `run` on the same object (it would wait for itself).
    ///
    /// - Parameter action: The work to do once.
    /// - Throws: Whatever `action` throws.
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
