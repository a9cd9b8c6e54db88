import Synchronization

/// Writes the recorded use of sessions (last seen, the idle expiry pushed forward) back to
/// the store in batches, off the path of the call that used them: a token check answers
/// from memory and only notes the touch here.
///
/// A touch is noted at most once per `SessionPolicy.touchInterval` per session (the caller
/// decides); `flush()` writes everything noted so far in one transaction. A touch lost to a
/// crash costs at most that interval of idle lifetime.
public final class SessionToucher: Sendable {
    private let store: any SessionStore
    private let pending = Mutex<[Int64: SessionTouch]>([:])

    public init(store: any SessionStore) {
        self.store = store
    }

    func note(_ touch: SessionTouch) {
        pending.withLock { pending in
            pending[touch.sessionID] = touch
        }
    }

    /// Writes the noted touches; returns how many.
    @discardableResult
    public func flush() async throws(AuthError) -> Int {
        let touches = pending.withLock { pending -> [SessionTouch] in
            defer { pending.removeAll(keepingCapacity: true) }
            return Array(pending.values)
        }
        try await store.touchSessions(touches)
        return touches.count
    }
}
